package agent

import "time"

// dispatcher applies the changes of different containers at once and
// those of one container in order, the changes that wait for one
// container by one reading of it. The engine holds the inspection of a
// container while it starts or stops, for hundreds of milliseconds on a
// busy host; applied one after another, one such answer held back the
// records of every change behind it.
//
// It also tells when the records may be marked current: a mark asked for
// at time T is written once every change received before T is applied.
// Its methods are called from one goroutine, the agent's loop.
type dispatcher struct {
	apply func(id, action string)
	max   int // changes applied at once

	queues  map[string][]change // per container, in order
	busy    map[string]bool     // a change of this container is being applied
	waiting []string            // containers with changes and no free worker, in order
	running int
	done    chan change
	seq     uint64          // changes received
	open    map[uint64]bool // received and not yet applied
	marks   []pendingMark
}

type change struct {
	seqs   []uint64 // the changes received that this one applies
	id     string
	action string
}

type pendingMark struct {
	seq uint64 // the last change received before at
	at  time.Time
}

func newDispatcher(max int, apply func(id, action string)) *dispatcher {
	return &dispatcher{apply: apply, max: max, queues: map[string][]change{}, busy: map[string]bool{}, done: make(chan change), open: map[uint64]bool{}}
}

// add queues a change of container id.
func (d *dispatcher) add(id, action string) {
	d.seq++
	d.open[d.seq] = true
	d.queues[id] = append(d.queues[id], change{seqs: []uint64{d.seq}, id: id, action: action})
	d.schedule(id)
}

// schedule starts the next change of id, or queues id for a free worker.
func (d *dispatcher) schedule(id string) {
	if d.busy[id] || len(d.queues[id]) == 0 {
		return
	}
	if d.running >= d.max {
		d.waiting = append(d.waiting, id)
		return
	}
	// One reading of the container applies every change waiting for it;
	// a destroy is final.
	q := d.queues[id]
	delete(d.queues, id)
	c := change{id: id, action: q[len(q)-1].action}
	for _, w := range q {
		c.seqs = append(c.seqs, w.seqs...)
		if w.action == "destroy" {
			c.action = "destroy"
		}
	}
	d.busy[id] = true
	d.running++
	go func() {
		d.apply(c.id, c.action)
		d.done <- c
	}()
}

// finished takes a change off the books, as received from done, and
// starts what waited for it.
func (d *dispatcher) finished(c change) {
	d.running--
	delete(d.busy, c.id)
	for _, s := range c.seqs {
		delete(d.open, s)
	}
	d.schedule(c.id)
	for len(d.waiting) > 0 && d.running < d.max {
		id := d.waiting[0]
		d.waiting = d.waiting[1:]
		d.schedule(id)
	}
}

// wait applies every change received.
func (d *dispatcher) wait() {
	for d.running > 0 {
		d.finished(<-d.done)
	}
}

// markAt asks for the records to be marked current at at, once every
// change received until now is applied.
func (d *dispatcher) markAt(at time.Time) {
	d.marks = append(d.marks, pendingMark{seq: d.seq, at: at})
}

// markable returns the latest time asked for by markAt whose changes are
// all applied, and forgets it and those before it.
func (d *dispatcher) markable() (time.Time, bool) {
	oldest := d.seq + 1
	for s := range d.open {
		oldest = min(oldest, s)
	}
	var at time.Time
	n := 0
	for n < len(d.marks) && d.marks[n].seq < oldest {
		at = d.marks[n].at
		n++
	}
	d.marks = d.marks[n:]
	return at, n > 0
}
