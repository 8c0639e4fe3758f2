package discover

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/portenv/portenv/internal/atomicfile"
)

// DirOptions steers FromDir.
type DirOptions struct {
	// Dir is the directory that `portenv agent` writes.
	Dir string
	// Container, when set, skips self-identification: the record of this
	// container, by id, name or id prefix.
	Container string
	// Root is prefixed to /proc/... and /run/.containerenv; "" in
	// production, a fixture directory in tests.
	Root string
	// Now and Boottime replace the wall clock and the time since boot,
	// for tests.
	Now      func() time.Time
	Boottime func() (time.Duration, error)
	// Debugf, when set, hears what the search waits for.
	Debugf func(format string, args ...any)
}

// FromDir finds this container without the engine, in the directory of
// records that `portenv agent` writes: it takes this container's id from
// /proc/self/mountinfo, /proc/self/cgroup or /run/.containerenv, and
// waits until ctx ends for the record of this container's current start,
// never an earlier start's (see thisStart). It then follows a network mode
// container:<other> to the other's record, and says at once when the
// bindings cannot be used, as Self does. The attempts are returned whether
// or not one succeeded; the record is returned once found.
func FromDir(ctx context.Context, opt DirOptions) (*Container, *Record, []Attempt, error) {
	d := &dirFinder{ctx: ctx, opt: opt, starts: map[int]time.Time{}, found: map[string]*Record{}}
	if d.opt.Now == nil {
		d.opt.Now = time.Now
	}
	d.asked = d.opt.Now()
	if d.opt.Boottime == nil {
		d.opt.Boottime = bootClock
	}
	if dl, ok := ctx.Deadline(); ok {
		d.wait = time.Until(dl).Round(100 * time.Millisecond)
	}
	if err := d.checkDir(); err != nil {
		return nil, nil, d.tried, err
	}
	c, err := find(d, opt.Container)
	return c, d.found[d.own], d.tried, err
}

// recordWait is the longest wait between two looks for a record: the agent
// writes it within milliseconds of the start, and reading a directory is
// cheap.
const recordWait = 200 * time.Millisecond

// dirFinder is one search of the agent's directory; it records what it
// tried.
type dirFinder struct {
	ctx    context.Context
	opt    DirOptions
	wait   time.Duration // the time given, for messages
	asked  time.Time     // when the search began
	marked time.Time     // when the agent last marked its records current
	// agentStopped is when the agent said it stopped, if it did; lost,
	// when it lost the engine, while it has not listed it again.
	agentStopped, lost time.Time
	starts             map[int]time.Time
	said               map[string]bool // Debugf lines already told
	// found holds each record the search has taken, by id; own is the
	// id of this container's.
	found map[string]*Record
	own   string
	attempts
}

func (d *dirFinder) debugf(format string, args ...any) {
	if d.opt.Debugf == nil {
		return
	}
	line := fmt.Sprintf(format, args...)
	if d.said == nil {
		d.said = map[string]bool{}
	}
	if !d.said[line] {
		d.said[line] = true
		d.opt.Debugf("%s", line)
	}
}

// checkDir says at once when the agent's directory cannot hold records.
func (d *dirFinder) checkDir() error {
	dir := d.opt.Dir
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return d.fail("record", fmt.Errorf("the agent's directory %s (--from) does not exist in this container; mount there, read-only, the directory that portenv agent --dir writes (its volume: -v VOLUME:%s:ro)", dir, dir))
	case err != nil:
		return d.fail("record", fmt.Errorf("cannot read the agent's directory %s (--from): %v", dir, oneLine(atomicfile.Unwrap(err))))
	case !st.IsDir():
		return d.fail("record", fmt.Errorf("--from %s is not a directory; give the directory that portenv agent --dir writes", dir))
	}
	return nil
}

func (d *dirFinder) lookup(ref string) (*Container, error) {
	rec, err := d.byRef(ref)
	if err != nil {
		return nil, err
	}
	return d.take(rec), nil
}

// take keeps rec as found, the first one as this container's.
func (d *dirFinder) take(rec *Record) *Container {
	id := rec.Container.ID
	d.found[id] = rec
	if d.own == "" {
		d.own = id
	}
	return rec.Container
}

func (d *dirFinder) origin(c *Container) string { return RecordFile(d.opt.Dir, c.ID) }

// identify waits for the record of this container's current start among
// those its ids name.
func (d *dirFinder) identify() (*Container, error) {
	ids, source := d.candidates()
	if len(ids) == 0 {
		return nil, &notIdentifiedError{Tried: d.tried, Dir: d.opt.Dir}
	}
	var rec *Record
	var last lookState
	err := retry(d.ctx, recordWait, func() (bool, error) {
		var err error
		rec, last, err = d.look(ids)
		return rec != nil || d.complete(), err
	})
	if err != nil {
		return nil, d.fail("record", err)
	}
	if rec == nil {
		return nil, d.fail("record", d.notFound(ids, source, last))
	}
	return d.take(rec), nil
}

// candidates reads this container's id as Self does, without the engine
// to confirm it: the first of mountinfo, cgroup and containerenv that
// names one. Where mountinfo names two, both are candidates, and the one
// whose record is of this start is this container.
func (d *dirFinder) candidates() (ids []string, source string) {
	for _, s := range idSources {
		id, err := readID(d.opt.Root, s.file, s.parse)
		var amb *ambiguousError
		switch {
		case errors.As(err, &amb):
			d.note(s.method, true, "ids %s from %s; the one whose record is of this start is this container", strings.Join(shortIDs(amb.IDs), ", "), s.file)
			return amb.IDs, s.file
		case err != nil:
			d.note(s.method, false, "cannot read %s: %s", s.file, oneLine(err))
		case id == "":
			d.note(s.method, false, "no container id in %s", s.file)
		default:
			d.note(s.method, true, "id %s from %s", ShortID(id), s.file)
			return []string{id}, s.file
		}
	}
	return nil, ""
}

// lookState is what one look at the directory found short of a record of
// this start: records of earlier starts, and why they are.
type lookState struct {
	earlier []*Record
	why     []string
}

// look returns the record of this start among those of ids, or nil. Where
// only earlier starts' records are there, a container whose network mode
// is theirs (container:<id>) and whose record is of this start is this
// container: the engine mounts the network owner's /etc/hostname, hosts
// and resolv.conf into it, so mountinfo names the owner.
func (d *dirFinder) look(ids []string) (*Record, lookState, error) {
	var recs []*Record
	for _, id := range ids {
		rec, err := d.read(id)
		if err != nil {
			return nil, lookState{}, err
		}
		if rec == nil {
			d.debugf("waiting for %s: the agent has written none yet", RecordFile(d.opt.Dir, id))
			continue
		}
		recs = append(recs, rec)
	}
	current, whys, st, err := d.byStart(recs)
	if err != nil {
		return nil, st, err
	}
	for i, rec := range st.earlier {
		d.debugf("waiting for %s of this start: %s", RecordFile(d.opt.Dir, rec.Container.ID), st.why[i])
	}
	sharing := false
	if len(current) == 0 && len(st.earlier) > 0 {
		var err error
		current, whys, err = d.sharersOf(st.earlier)
		if err != nil {
			return nil, st, err
		}
		sharing = len(current) > 0
	}
	switch len(current) {
	case 0:
		return nil, st, nil
	case 1:
		c := current[0].Container
		if sharing {
			d.note("record", true, "container %s (%s) in %s, which uses the network of container %s, the one the mounts name; %s", c.ShortID(), c.Name, RecordFile(d.opt.Dir, c.ID), st.earlier[0].Container.Name, whys[0])
		} else {
			d.note("record", true, "container %s (%s) in %s; %s", c.ShortID(), c.Name, RecordFile(d.opt.Dir, c.ID), whys[0])
		}
		return current[0], st, nil
	}
	names := make([]string, len(current))
	for i, r := range current {
		names[i] = r.Container.ShortID() + " (" + r.Container.Name + ")"
	}
	return nil, st, fmt.Errorf("the records of %d containers in %s could each be this container's (%s); portenv never guesses: pass --container ID", len(current), d.opt.Dir, strings.Join(names, ", "))
}

// sharersOf returns the records of this start of the containers that use
// the network of one of owners.
func (d *dirFinder) sharersOf(owners []*Record) (found []*Record, whys []string, err error) {
	modes := map[string]bool{}
	for _, o := range owners {
		modes["container:"+o.Container.ID] = true
		modes["container:"+o.Container.Name] = true
	}
	var recs []*Record
	for _, rec := range d.records() {
		if modes[rec.Container.NetworkMode] {
			recs = append(recs, rec)
		}
	}
	found, whys, _, err = d.byStart(recs)
	return found, whys, err
}

// byStart parts recs into those of this start and those of earlier ones,
// each with why.
func (d *dirFinder) byStart(recs []*Record) (current []*Record, whys []string, st lookState, err error) {
	for _, rec := range recs {
		ok, why, err := d.thisStart(rec)
		if err != nil {
			return nil, nil, st, err
		}
		if ok {
			current, whys = append(current, rec), append(whys, why)
		} else {
			st.earlier, st.why = append(st.earlier, rec), append(st.why, why)
		}
	}
	return current, whys, st, nil
}

// thisStart tells whether rec is of the current start of the container
// portenv runs in, were it that container's record.
//
// A new start creates a new first process, after the previous start's
// processes have ended. The agent notes when it asked the engine for what
// a record holds (checkedAt); an engine that then described a running
// start described the one running at that moment. So a record checked no
// earlier than this container's first process is of this start: with a
// process namespace of its own (the default), process 1 of this process's
// /proc; on the host's (--pid host), the process the record names
// (State.Pid). A record of an earlier start was checked while that start
// ran, before this start's first process existed.
//
// The engine's own start time (State.StartedAt) cannot tell this on every
// engine: Docker 27 and later stamp it before they create the first
// process, up to tens of milliseconds. Records of agents that note no
// checkedAt are judged by it all the same, as those agents ran with
// engines that stamp it after.
func (d *dirFinder) thisStart(rec *Record) (bool, string, error) {
	c := rec.Container
	file := RecordFile(d.opt.Dir, c.ID)
	started, err := time.Parse(time.RFC3339Nano, c.StartedAt)
	if err != nil {
		return false, "", &badRecordError{File: file, Err: fmt.Errorf("its startedAt %q is not a time", c.StartedAt)}
	}
	var checked time.Time
	if rec.CheckedAt != "" {
		if checked, err = time.Parse(time.RFC3339Nano, rec.CheckedAt); err != nil {
			return false, "", &badRecordError{File: file, Err: fmt.Errorf("its checkedAt %q is not a time", rec.CheckedAt)}
		}
	}
	pid := 1
	switch c.PidMode {
	case "", "private":
	case "host":
		if c.Pid <= 0 {
			return false, fmt.Sprintf("it records the start at %s, and no process (status %s)", c.StartedAt, c.Status), nil
		}
		pid = c.Pid
	default:
		return false, "", fmt.Errorf("container %s shares the process namespace of another (--pid %s), where portenv cannot tell the record of its current start from an earlier start's; give it a process namespace of its own, or mount the engine's socket instead of using --from", c.Name, c.PidMode)
	}
	forked, err := d.processStart(pid)
	switch {
	case pid != 1 && errors.Is(err, fs.ErrNotExist):
		return false, fmt.Sprintf("it records the start at %s, by process %d, which is gone", c.StartedAt, pid), nil
	case err != nil:
		return false, "", fmt.Errorf("cannot tell when this container started, which tells the record of this start from an earlier start's: %v", oneLine(err))
	case rec.CheckedAt == "" && started.Before(forked):
		return false, fmt.Sprintf("it records the start at %s, before this container's first process started (%s)", c.StartedAt, formatTime(forked)), nil
	case rec.CheckedAt == "":
		return true, fmt.Sprintf("it records the start at %s, this start (the container's first process started %s)", c.StartedAt, formatTime(forked)), nil
	case checked.Before(forked):
		return false, fmt.Sprintf("it records the start at %s, read from the engine at %s, before this container's first process started (%s)", c.StartedAt, rec.CheckedAt, formatTime(forked)), nil
	}
	return true, fmt.Sprintf("it records the start at %s, this start (read from the engine at %s, after the container's first process started %s)", c.StartedAt, rec.CheckedAt, formatTime(forked)), nil
}

func (d *dirFinder) processStart(pid int) (time.Time, error) {
	if t, ok := d.starts[pid]; ok {
		return t, nil
	}
	t, err := processStart(d.opt.Root, pid, d.opt.Now, d.opt.Boottime)
	if err == nil {
		d.starts[pid] = t
	}
	return t, err
}

// formatTime writes the start of a process, known to 10 ms.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.00Z07:00")
}

// read returns the record of container id, or nil when there is none.
func (d *dirFinder) read(id string) (*Record, error) {
	file := RecordFile(d.opt.Dir, id)
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %v; the agent's records must be readable by this process (uid %d)", file, oneLine(atomicfile.Unwrap(err)), os.Getuid())
	}
	defer f.Close()
	rec, err := DecodeRecord(f)
	if err != nil {
		return nil, &badRecordError{File: file, Err: err}
	}
	if rec.Container.ID != id {
		return nil, &badRecordError{File: file, Err: fmt.Errorf("it holds container %s, not the one its name says", rec.Container.ShortID())}
	}
	return rec, nil
}

// records reads every record of the directory, leaving out what is not
// one: a record that cannot be read is reported where it is asked for.
func (d *dirFinder) records() []*Record {
	entries, err := os.ReadDir(d.opt.Dir)
	if err != nil {
		return nil
	}
	var out []*Record
	for _, e := range entries {
		id, ok := RecordID(e.Name())
		if !ok {
			continue
		}
		if rec, err := d.read(id); err == nil && rec != nil {
			out = append(out, rec)
		}
	}
	return out
}

// byRef waits for the record of the container named ref, as docker names
// containers: full id, name, or a prefix of one id.
func (d *dirFinder) byRef(ref string) (*Record, error) {
	var rec *Record
	err := retry(d.ctx, recordWait, func() (bool, error) {
		var err error
		rec, err = d.lookupRef(ref)
		// While the agent has lost the engine, a record may be of a
		// start from before; the list it makes once back settles it.
		complete := d.complete()
		return (rec != nil && d.lost.IsZero()) || (rec == nil && complete), err
	})
	if err != nil {
		return nil, err
	}
	if rec != nil && !d.lost.IsZero() {
		c := rec.Container
		return nil, fmt.Errorf("the record of container %s (%s) in %s may be of a start from before: portenv agent lost the engine at %s and has not listed its containers again within %s (--timeout); it reconnects by itself (its container's logs tell what it waits for), or raise --timeout", c.ShortID(), c.Name, d.opt.Dir, formatTime(d.lost), d.wait)
	}
	if rec == nil {
		return nil, &NotFoundError{Ref: ref, why: fmt.Sprintf("no record of container %q in %s%s; check the id or name (docker ps lists them), and that portenv agent --dir writes this directory", ref, d.opt.Dir, d.stopped())}
	}
	return rec, nil
}

// markerStale is the age at which a marker says that the agent no longer
// runs: it marks its records every second, MarkerLag behind its clock.
const markerStale = MarkerLag + 10*time.Second

// complete reports whether the agent has marked its records current since
// the search began: a record not there then will not come.
func (d *dirFinder) complete() bool {
	m := readMarker(d.opt.Dir)
	d.marked, d.agentStopped, d.lost = m.current, m.stopped, m.lost
	return d.agentStopped.IsZero() && !d.marked.IsZero() && !d.marked.Before(d.asked)
}

// stopped says why the search ended without the record: the agent's
// marker, or the timeout, with what the marker tells of the agent.
func (d *dirFinder) stopped() string {
	switch {
	case d.complete():
		return fmt.Sprintf(", though portenv agent marked its records current at %s, after this search began (%s)", formatTime(d.marked), formatTime(d.asked))
	case d.marked.IsZero():
		return fmt.Sprintf(" within %s (--timeout)", d.wait)
	case !d.agentStopped.IsZero():
		return fmt.Sprintf(" within %s (--timeout), and portenv agent stopped at %s, as its marker says: no record comes until it runs again (its container's logs tell)", d.wait, formatTime(d.agentStopped))
	case d.asked.Sub(d.marked) < markerStale:
		return fmt.Sprintf(" within %s (--timeout), before portenv agent marked its records current past the start of this search (it marks them %s behind its clock, every second); raise --timeout", d.wait, MarkerLag)
	}
	return fmt.Sprintf(" within %s (--timeout), and portenv agent last marked its records current at %s, %s before this search began, so it is not running or cannot reach the engine (its container's logs tell)", d.wait, formatTime(d.marked), d.asked.Sub(d.marked).Round(time.Second))
}

func (d *dirFinder) lookupRef(ref string) (*Record, error) {
	ref = strings.TrimPrefix(ref, "/")
	if isID(ref) {
		return d.read(ref)
	}
	var named, prefixed []*Record
	for _, rec := range d.records() {
		switch {
		case rec.Container.Name == ref:
			named = append(named, rec)
		case ref != "" && strings.HasPrefix(rec.Container.ID, ref):
			prefixed = append(prefixed, rec)
		}
	}
	switch {
	case len(named) == 1:
		return named[0], nil
	case len(prefixed) == 1:
		return prefixed[0], nil
	case len(named)+len(prefixed) > 1:
		return nil, fmt.Errorf("%q names %d containers recorded in %s; give more of the id", ref, len(named)+len(prefixed), d.opt.Dir)
	}
	return nil, nil
}

func (d *dirFinder) notFound(ids []string, source string, st lookState) error {
	dir := d.opt.Dir
	why := d.stopped()
	if len(st.earlier) > 0 {
		c := st.earlier[0].Container
		hint := ": is portenv agent still running? (its container's logs tell)"
		if !d.marked.IsZero() {
			hint = "; portenv agent's log tells why"
		}
		return fmt.Errorf("the record of container %s (%s) in %s is of an earlier start: %s; the agent wrote none of this start%s%s", c.ShortID(), c.Name, dir, st.why[0], why, hint)
	}
	who := "container " + ShortID(ids[0])
	if len(ids) > 1 {
		who = "containers " + strings.Join(shortIDs(ids), " or ")
	}
	n := len(d.records())
	if n == 0 {
		return fmt.Errorf("no record of %s (the id in %s) in %s%s, and none of any other container: is portenv agent --dir running, with the engine's socket, and is %s the directory it writes (its volume, mounted here)?", who, source, dir, why, dir)
	}
	if d.marked.IsZero() {
		return fmt.Errorf("no record of %s (the id in %s) in %s%s, which holds the records of %d other containers: is portenv agent still running, and does it read the engine that runs this container?", who, source, dir, why, n)
	}
	return fmt.Errorf("no record of %s (the id in %s) in %s%s; it holds the records of %d other containers: does portenv agent read the engine that runs this container?", who, source, dir, why, n)
}

// servicePorts reports why a Swarm task published in ingress mode has no
// ports: only a manager's API tells them, and the agent could not ask.
func (d *dirFinder) servicePorts(c *Container) error {
	if !c.NeedsServicePorts() {
		return nil
	}
	if e := d.found[c.ID].ServicePortsError; e != "" {
		return d.fail("swarm", errors.New(e))
	}
	d.note("swarm", true, "task of service %s, which publishes no port in ingress mode (as the agent read the service)", c.Swarm.ServiceName)
	return nil
}

// badRecordError says that a file of the agent's directory is not a
// record this portenv reads.
type badRecordError struct {
	File string
	Err  error
}

func (e *badRecordError) Error() string {
	return fmt.Sprintf("%s is not a record portenv can read: %v; portenv agent writes only whole records, so check what else writes in that directory (restarting the agent writes every record again)", e.File, e.Err)
}
