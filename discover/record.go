package discover

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
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
