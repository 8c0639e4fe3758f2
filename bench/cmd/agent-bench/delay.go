package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// awaitRecords waits, within the -settle bound, until every start of the
// run's containers from a to b is in a record, or was followed by another
// start or a removal. It returns how long that took, and how many starts
// were still not recorded when the bound ended the wait.
func (r *run) awaitRecords(ctx context.Context, a, b time.Time) (time.Duration, int) {
	start := time.Now()
	deadline := start.Add(r.s.settle)
	for {
		pending := 0
		for _, s := range r.track.startsBetween(a, b) {
			if s.next == 0 && !r.recorded(s) {
				pending++
			}
		}
		if pending == 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			return time.Since(start), pending
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// recorded reports whether a record held start s, and when it was first
// seen.
func (r *run) recorded(s startOf) bool {
	_, ok := r.firstRecord(s)
	return ok
}

// firstRecord is when a record of start s was first seen: a record whose
// start time lies after the previous start event and not after this one
// (the engine sets a container's start time, then sends its start event).
func (r *run) firstRecord(s startOf) (time.Time, bool) {
	var first time.Time
	found := false
	for startedAt, seen := range r.watch.starts(s.id) {
		t, err := time.Parse(time.RFC3339Nano, startedAt)
		if err != nil {
			continue
		}
		ns := t.UnixNano()
		if ns <= s.prev || ns > s.at {
			continue
		}
		if !found || seen.Before(first) {
			first, found = seen, true
		}
	}
	return first, found
}

// delayResult is how long after their start events the records of the
// starts from the agent's first marker on appeared.
type delayResult struct {
	recorded []time.Duration // start event to its record on disk
	byCause  map[string][]time.Duration
	early    int // records seen before the start event's time (counted as 0)
	// superseded lists, for each start never seen in a record, how long
	// it lasted until the container started again or was removed.
	superseded []time.Duration
	lost       int // starts never seen in a record, though not superseded
	csv        string
}

// cause says what made a start: the container's creation, docker
// restart, or its restart policy.
func (s startOf) cause() string {
	switch {
	case s.n == 1:
		return "first"
	case s.restart:
		return "restart"
	}
	return "policy"
}

func (r *run) delays(a, b time.Time) delayResult {
	d := delayResult{byCause: map[string][]time.Duration{}}
	var csv strings.Builder
	csv.WriteString("name,id,start,cause,event,delay_ms,superseded_after_ms\n")
	starts := r.track.startsBetween(a, b)
	slices.SortFunc(starts, func(x, y startOf) int { return cmp.Compare(x.at, y.at) })
	for _, s := range starts {
		seen, ok := r.firstRecord(s)
		delay, after := "", ""
		switch {
		case ok:
			delay := seen.Sub(time.Unix(0, s.at))
			if delay < 0 {
				d.early++
				delay = 0
			}
			d.recorded = append(d.recorded, delay)
			d.byCause[s.cause()] = append(d.byCause[s.cause()], delay)
		case s.next != 0:
			d.superseded = append(d.superseded, time.Duration(s.next-s.at))
			after = fmt.Sprintf("%.1f", float64(s.next-s.at)/1e6)
		default:
			d.lost++
		}
		if ok {
			delay = fmt.Sprintf("%.1f", float64(max(seen.Sub(time.Unix(0, s.at)), 0))/1e6)
		}
		fmt.Fprintf(&csv, "%s,%s,%d,%s,%s,%s,%s\n", s.name, s.id[:12], s.n, s.cause(),
			time.Unix(0, s.at).UTC().Format(time.RFC3339Nano), delay, after)
	}
	d.csv = csv.String()
	return d
}
