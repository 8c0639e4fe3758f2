package discover

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// RecordVersion is the version of the record format this portenv writes,
// and the newest it reads.
const RecordVersion = 1

// Record is one file that `portenv agent` writes: a container as the
// engine describes it, and what a workload without the engine's socket
// cannot ask for itself. Its JSON names are a file format that users may
// read; they change only with Version.
type Record struct {
	// Version is RecordVersion.
	Version int `json:"version"`
	// Host is the engine's host, as GET /info told the agent.
	Host RecordHost `json:"host"`
	// CheckedAt is when the agent asked the engine for what Container
	// holds (RFC 3339, the host's clock), which proves a record to be of
	// the start a workload runs in (see thisStart). Agents before it wrote
	// none.
	CheckedAt string `json:"checkedAt,omitempty"`
	// Container is the container, never its environment.
	Container *Container `json:"container"`
	// ServicePortsError says why the agent could not read the ports that
	// this Swarm task's service publishes in ingress mode.
	ServicePortsError string `json:"servicePortsError,omitempty"`
}

// RecordHost is what the agent learnt of the engine's host.
type RecordHost struct {
	Name          string `json:"name,omitempty"`
	SwarmNodeAddr string `json:"swarmNodeAddr,omitempty"`
	// Error says why GET /info failed, when it did.
	Error string `json:"error,omitempty"`
}

// RecordFile is the path of container id's record in dir.
func RecordFile(dir, id string) string { return filepath.Join(dir, id+".json") }

// RecordID is the container id of a record's file name, and false for a
// name that is no record's.
func RecordID(name string) (string, bool) {
	id, ok := strings.CutSuffix(name, ".json")
	return id, ok && isID(id)
}

// Encode writes the record as indented JSON, ending with a newline. A
// container without ports has "ports": [].
func (r *Record) Encode() ([]byte, error) {
	out := *r
	if r.Container != nil && r.Container.Ports == nil {
		c := *r.Container
		c.Ports = []Binding{}
		out.Container = &c
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&out); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// DecodeRecord reads a record. Its error says, without Go's words, why
// the data is not a record this portenv reads.
func DecodeRecord(r io.Reader) (*Record, error) {
	var rec Record
	if err := decodeJSON(r, &rec); err != nil {
		return nil, err
	}
	switch {
	case rec.Version == 0:
		return nil, errors.New("it has no format version, so it is not a record of portenv agent")
	case rec.Version > RecordVersion:
		return nil, fmt.Errorf("it is in record format %d, newer than this portenv reads (%d); run the same portenv version as agent and in the workloads", rec.Version, RecordVersion)
	case rec.Container == nil || rec.Container.ID == "":
		return nil, errors.New("it holds no container")
	}
	return &rec, nil
}

// HostName is .Host.Name and .Swarm.NodeAddr as the record holds them.
func (r *Record) HostName() (name, nodeAddr string, err error) {
	if r.Host.Name == "" {
		why := "it holds none"
		if r.Host.Error != "" {
			why = "its GET /info failed: " + r.Host.Error
		}
		return "", "", fmt.Errorf("the agent recorded no engine host name for container %s (%s)", r.Container.Name, why)
	}
	return r.Host.Name, r.Host.SwarmNodeAddr, nil
}

// MarkerFile is the file in the records' directory in which the agent
// says how current its records are (see Marker).
const MarkerFile = "portenv-agent.json"

// MarkerLag is how far behind its own clock the agent marks its records
// current: the time from a container's first process to its start event
// reaching the agent, with room to spare on a busy host.
const MarkerLag = 2 * time.Second

// Marker says that every container whose first process started before
// CurrentAt, and that was still running then, has the record of that
// start in the directory. The agent writes it after it has listed the
// containers and, while it follows the engine's events, every second. A
// workload that finds no record of its start under a marker current after
// that start knows that none will come, and says so at once.
type Marker struct {
	Version   int    `json:"version"`
	CurrentAt string `json:"currentAt"` // RFC 3339, the host's clock
	// StoppedAt is when the agent stopped, which it says as it stops;
	// the records are current no longer.
	StoppedAt string `json:"stoppedAt,omitempty"`
	// LostAt is when the agent lost the engine, until it has listed the
	// containers again: a record may be of a start from before.
	LostAt string `json:"lostAt,omitempty"`
}

// readMarker returns when the records of dir were last marked current
// and when the agent stopped, zero times where the marker does not say.
func readMarker(dir string) markerState {
	data, err := os.ReadFile(filepath.Join(dir, MarkerFile))
	if err != nil {
		return markerState{}
	}
	var m Marker
	if decodeJSON(bytes.NewReader(data), &m) != nil || m.Version < 1 {
		return markerState{}
	}
	var st markerState
	st.current, _ = time.Parse(time.RFC3339Nano, m.CurrentAt)
	st.stopped, _ = time.Parse(time.RFC3339Nano, m.StoppedAt)
	st.lost, _ = time.Parse(time.RFC3339Nano, m.LostAt)
	return st
}

// markerState is what a marker tells, zero times for what it does not.
type markerState struct{ current, stopped, lost time.Time }
