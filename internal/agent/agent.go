// Package agent is the host side of portenv's socketless mode: with the
// engine's socket, it keeps one record per container in a directory
// (discover.Record, as DIR/<id>.json), following the engine's events, so
// that workloads read their own record there without any access to the
// engine (discover.FromDir).
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/internal/atomicfile"
	"github.com/portenv/portenv/internal/backoff"
)

// Logger receives what the agent tells.
type Logger interface {
	Warnf(format string, args ...any)
	Infof(format string, args ...any)
	Debugf(format string, args ...any)
}

// Options steer Run.
type Options struct {
	// Dir is the directory of the records.
	Dir string
	// Wait bounds the first connection to the engine; after one has
	// succeeded, the agent reconnects for as long as it runs.
	Wait time.Duration
	Log  Logger
	// Getenv reads the DOCKER_ variables that name the engine; default:
	// none set, the local socket.
	Getenv func(string) string
	// MinBackoff and MaxBackoff bound the wait between reconnections;
	// defaults 100 ms and 5 s.
	MinBackoff, MaxBackoff time.Duration
	// InspectWait bounds the reading of one container, ports not yet
	// bound included; default 5 s.
	InspectWait time.Duration
}

// Run keeps the records until ctx ends, then returns nil. It returns an
// error when the directory cannot be written or the engine cannot be
// reached at first.
func Run(ctx context.Context, opt Options) error {
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 100 * time.Millisecond
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = 5 * time.Second
	}
	if opt.InspectWait <= 0 {
		opt.InspectWait = 5 * time.Second
	}
	if opt.Getenv == nil {
		opt.Getenv = func(string) string { return "" }
	}
	a := &agent{opt: opt, log: opt.Log}
	if err := a.prepareDir(); err != nil {
		return err
	}
	b := backoff.Backoff{First: opt.MinBackoff, Max: opt.MaxBackoff}
	for {
		start := time.Now()
		synced, err := a.session(ctx)
		if ctx.Err() != nil {
			a.markStopped()
			return nil
		}
		if !a.connected {
			return err
		}
		// A connection that served a while is followed at once; one that
		// fails as soon as it is made (a proxy refusing GET /events) is
		// not tried again and again in a tight loop.
		if synced && time.Since(start) > stableSession {
			b.Reset()
		}
		a.markLost()
		a.log.Warnf("%v; reconnecting in %s", err, b.Next())
		if !b.Wait(ctx) {
			a.markStopped()
			return nil
		}
	}
}

type agent struct {
	opt       Options
	log       Logger
	connected bool // once the engine has answered
	endpoint  string
	host      discover.RecordHost
	manager   bool
	marker    discover.Marker // as last written
}

// prepareDir makes the directory, removes the temporary files a stopped
// agent may have left, and checks that records can be written.
func (a *agent) prepareDir() error {
	dir := a.opt.Dir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("cannot make the records' directory %s: %v; give portenv agent --dir a writable directory (a volume mounted read-write)", dir, atomicfile.Unwrap(err))
	}
	if entries, err := os.ReadDir(dir); err == nil {
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), ".json.tmp") {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
	f, err := os.CreateTemp(dir, ".probe.json.tmp*")
	if err != nil {
		return fmt.Errorf("cannot write in the records' directory %s: %v; give portenv agent --dir a writable directory (a volume mounted read-write)", dir, atomicfile.Unwrap(err))
	}
	f.Close()
	return os.Remove(f.Name())
}

// session connects, records every container, and follows the engine's
// events until the connection fails. synced says whether the records were
// brought up to date in this session.
func (a *agent) session(ctx context.Context) (synced bool, err error) {
	wait := a.opt.Wait
	if a.connected {
		wait = 30 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, wait)
	e, err := discover.Connect(cctx, a.opt.Getenv, a.log.Warnf)
	cancel()
	if err != nil && a.connected {
		return false, fmt.Errorf("cannot reach the engine again: %w", err)
	}
	if err != nil {
		return false, err
	}
	defer e.Close()
	a.connected, a.endpoint = true, e.Endpoint
	a.log.Debugf("connected to the engine at %s, API %s", e.Endpoint, e.APIVersion)
	since := a.askHost(ctx, e, a.log.Warnf)
	// Events are asked for from before the listing, in the engine's
	// clock, so that none between the two is missed; one seen twice is
	// only recorded twice.
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	changes, failed := e.Follow(fctx, since.Add(-time.Second))
	listed := time.Now()
	n, err := a.sync(ctx, e, failed)
	if err != nil {
		return false, err
	}
	a.mark(listed)
	host := a.host.Name
	if host == "" {
		host = "unknown"
	}
	a.log.Infof("recorded %d running containers in %s (engine %s, API %s, host %s); following the engine's events", n, a.opt.Dir, e.Endpoint, e.APIVersion, host)
	return a.follow(ctx, e, changes, failed)
}

// follow applies the engine's changes as they come, marks the records
// current every markEvery, and asks again for the host's name while it is
// unknown. It returns when the engine's events end.
func (a *agent) follow(ctx context.Context, e *discover.Engine, changes <-chan discover.Change, failed <-chan error) (synced bool, err error) {
	// Without the host's name, the records cannot give .Host.Name: it is
	// asked for again now and then, and once known every record is
	// written again.
	var askAgain <-chan time.Time
	if a.host.Name == "" {
		t := time.NewTicker(hostRetry)
		defer t.Stop()
		askAgain = t.C
	}
	beat := time.NewTicker(markEvery)
	defer beat.Stop()
	d := newDispatcher(inspectsAtOnce, func(id, action string) { a.update(ctx, e, id, action) })
	defer d.wait()
	for {
		select {
		case ch, ok := <-changes:
			if !ok {
				return true, <-failed
			}
			d.add(ch.ID, ch.Action)
		case c := <-d.done:
			d.finished(c)
			if at, ok := d.markable(); ok {
				a.mark(at)
			}
		case <-beat.C:
			// What has reached the agent is applied before the mark.
			now := time.Now()
			for pending := true; pending; {
				select {
				case ch, ok := <-changes:
					if !ok {
						return true, <-failed
					}
					d.add(ch.ID, ch.Action)
				default:
					pending = false
				}
			}
			d.markAt(now)
			if at, ok := d.markable(); ok {
				a.mark(at)
			}
		case err := <-failed:
			return true, err
		case <-askAgain:
			// The records are written again with the host's name, which
			// no change being applied may still read.
			d.wait()
			if a.askHost(ctx, e, a.log.Debugf); a.host.Name != "" {
				askAgain = nil
				a.log.Infof("the engine told its host's name, %s; writing every record again", a.host.Name)
				if _, err := a.sync(ctx, e, failed); err != nil {
					return true, err
				}
			}
		}
	}
}

// inspectsAtOnce bounds the containers read at once while following the
// events.
const inspectsAtOnce = 8

// markEvery is how often the agent marks its records current while it
// follows the engine's events.
var markEvery = time.Second

// mark says in the records' directory that they are current as of at,
// less MarkerLag: every container started before then has its record (see
// discover.Marker).
func (a *agent) mark(at time.Time) {
	a.marker = discover.Marker{Version: 1, CurrentAt: at.Add(-discover.MarkerLag).UTC().Format(time.RFC3339Nano)}
	a.writeMarker()
}

// markStopped says that the records are current no longer, as the agent
// stops.
func (a *agent) markStopped() {
	if a.marker.Version == 0 {
		return
	}
	a.marker.StoppedAt = time.Now().UTC().Format(time.RFC3339Nano)
	a.writeMarker()
}

// markLost says that the agent has lost the engine: until it has listed
// the containers again, a record may be of a start from before.
func (a *agent) markLost() {
	if a.marker.Version == 0 || a.marker.LostAt != "" {
		return
	}
	a.marker.LostAt = time.Now().UTC().Format(time.RFC3339Nano)
	a.writeMarker()
}

func (a *agent) writeMarker() {
	data, _ := json.Marshal(a.marker)
	if err := atomicfile.Write(filepath.Join(a.opt.Dir, discover.MarkerFile), append(data, '\n')); err != nil {
		a.log.Warnf("%v", err)
	}
}

// stableSession is how long a connection must have served for the next
// one to be tried without backoff.
const stableSession = 10 * time.Second

// hostRetry is how often GET /info is asked again after it failed.
var hostRetry = 30 * time.Second

// askHost asks the engine for its host's name, Swarm role and clock (GET
// /info), within a few seconds: the records should not wait for it. A
// failure is told to logf. It returns the engine's time, or this
// process's where the engine did not tell.
func (a *agent) askHost(ctx context.Context, e *discover.Engine, logf func(string, ...any)) time.Time {
	ictx, cancel := context.WithTimeout(ctx, a.opt.InspectWait)
	defer cancel()
	hi, err := e.HostInfo(ictx)
	if err != nil {
		if ictx.Err() != nil {
			err = fmt.Errorf("the engine at %s did not answer GET /info within %s", e.Endpoint, a.opt.InspectWait)
		}
		a.host, a.manager = discover.RecordHost{Error: err.Error()}, false
		logf("%v; the records hold no engine host name (so .Host.Name fails with --from) until it answers", err)
		return time.Now()
	}
	a.host, a.manager = discover.RecordHost{Name: hi.Name, SwarmNodeAddr: hi.SwarmNodeAddr}, hi.SwarmManager
	if hi.Time.IsZero() {
		return time.Now()
	}
	return hi.Time
}

// sync records every running container, and brings up to date the
// records of the others: a container that stopped or went away while the
// agent was not following.
func (a *agent) sync(ctx context.Context, e *discover.Engine, failed <-chan error) (int, error) {
	a.log.Debugf("listing the running containers")
	ids, err := e.Running(ctx)
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, id := range ids {
		select {
		case err := <-failed:
			return 0, err
		default:
		}
		seen[id] = true
		a.update(ctx, e, id, "list")
	}
	entries, err := os.ReadDir(a.opt.Dir)
	if err != nil {
		return 0, fmt.Errorf("cannot list the records' directory %s: %v", a.opt.Dir, atomicfile.Unwrap(err))
	}
	for _, ent := range entries {
		id, ok := discover.RecordID(ent.Name())
		if !ok || seen[id] {
			continue
		}
		a.update(ctx, e, id, "catch-up")
	}
	return len(ids), nil
}

// update brings the record of container id up to date after event
// action: rewritten with what the engine says now, or removed when the
// container is gone.
func (a *agent) update(ctx context.Context, e *discover.Engine, id, action string) {
	if action == "destroy" {
		a.remove(id, "destroyed")
		return
	}
	ictx, cancel := context.WithTimeout(ctx, a.opt.InspectWait)
	defer cancel()
	asked := time.Now()
	c, err := e.Inspect(ictx, id)
	var nf *discover.NotFoundError
	switch {
	case errors.As(err, &nf):
		a.remove(id, "the engine no longer has it")
		return
	case err != nil:
		a.log.Warnf("cannot record container %s (%s): %v", discover.ShortID(id), action, err)
		return
	}
	file := discover.RecordFile(a.opt.Dir, c.ID)
	if !live(c.Status) {
		// A container that never ran gets no record; one that stopped
		// keeps its record, which now says so.
		if _, err := os.Stat(file); err != nil {
			return
		}
	}
	rec := &discover.Record{Version: discover.RecordVersion, Host: a.host, Container: c, CheckedAt: asked.UTC().Format(time.RFC3339Nano)}
	if c.NeedsServicePorts() && live(c.Status) {
		if a.manager {
			if ports, err := e.ServicePorts(ictx, c); err != nil {
				rec.ServicePortsError = err.Error()
			} else {
				c.Ports = ports
			}
		} else {
			rec.ServicePortsError = fmt.Sprintf("container %s is a task of Swarm service %s, published in ingress mode: its ports belong to the service, which only a Swarm manager's API tells, and portenv agent on this node reads a worker (%s); publish the service's ports in host mode (mode: host in a stack file), where each task has bindings of its own", c.Name, c.Swarm.ServiceName, a.endpoint)
		}
	}
	changed, err := a.write(file, rec)
	switch {
	case err != nil:
		a.log.Warnf("%v", err)
	case changed && action == "list":
		a.log.Debugf("recorded %s", describe(c))
	case changed:
		a.log.Infof("recorded %s (%s)", describe(c), action)
	}
}

func live(status string) bool {
	return status == "running" || status == "paused" || status == "restarting"
}

// write writes rec to file atomically. It reports whether the record
// says more than when it was last checked: a new check alone changes
// nothing a workload uses, but is written all the same, as it proves a
// record to be of a start that began after the last check.
func (a *agent) write(file string, rec *discover.Record) (bool, error) {
	data, err := rec.Encode()
	if err != nil {
		return false, fmt.Errorf("cannot encode the record of container %s: %v", rec.Container.Name, err)
	}
	changed := true
	if old, err := os.ReadFile(file); err == nil {
		if prev, err := discover.DecodeRecord(bytes.NewReader(old)); err == nil {
			prev.CheckedAt = rec.CheckedAt
			same, err := prev.Encode()
			changed = err != nil || !bytes.Equal(same, data)
		}
	}
	if err := atomicfile.Write(file, data); err != nil {
		return false, err
	}
	return changed, nil
}

func (a *agent) remove(id, why string) {
	err := os.Remove(discover.RecordFile(a.opt.Dir, id))
	switch {
	case err == nil:
		a.log.Infof("removed the record of container %s (%s)", discover.ShortID(id), why)
	case !errors.Is(err, os.ErrNotExist):
		a.log.Warnf("cannot remove the record of container %s: %v", discover.ShortID(id), atomicfile.Unwrap(err))
	}
}

// describe says in a line what a record holds.
func describe(c *discover.Container) string {
	ports := make([]string, len(c.Ports))
	for i, b := range c.Ports {
		ports[i] = b.Port.String() + " -> " + b.Addr("")
	}
	list := "no published port"
	if len(ports) > 0 {
		list = strings.Join(ports, ", ")
	}
	return fmt.Sprintf("container %s (%s, %s, started %s): %s", c.Name, c.ShortID(), c.Status, c.StartedAt, list)
}
