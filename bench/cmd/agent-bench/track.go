package main

import (
	"slices"
	"sync"
	"time"
)

// followed are the events that portenv agent asks the engine for (see
// discover.Follow): the benchmark counts the same, of every container on
// the engine, as the agent follows them all.
var followed = map[string]map[string]bool{
	"container": {"start": true, "die": true, "destroy": true, "rename": true, "pause": true, "unpause": true},
	"network":   {"connect": true, "disconnect": true},
}

// tracker keeps what the benchmark's own GET /events tells: when each of
// its containers started and was destroyed, in the engine's clock, and
// when every event the agent follows happened.
type tracker struct {
	label, value string

	mu        sync.Mutex
	follow    []int64            // timeNano of each followed event
	starts    map[string][]int64 // container id -> start events
	destroyed map[string]int64   // container id -> destroy event
	actions   map[string]int     // the run's containers' events by action
	names     map[string]string  // container id -> name
	restarted map[string][]int64 // container id -> restart events (docker restart)
	stopping  map[string][]int64 // container id -> kill and die events
	connected map[string][]int64 // container id -> network connect events
}

func newTracker(label, value string) *tracker {
	return &tracker{label: label, value: value, starts: map[string][]int64{}, destroyed: map[string]int64{}, actions: map[string]int{},
		names: map[string]string{}, restarted: map[string][]int64{}, stopping: map[string][]int64{},
		connected: map[string][]int64{}}
}

func (t *tracker) consume(ch <-chan event) {
	for ev := range ch {
		t.add(ev)
	}
}

func (t *tracker) add(ev event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if followed[ev.Type][ev.Action] && (ev.Type != "network" || ev.Actor.Attributes["container"] != "") {
		t.follow = append(t.follow, ev.TimeNano)
	}
	if ev.Type == "network" && ev.Action == "connect" {
		// Network events name the container but carry none of its labels.
		id := ev.Actor.Attributes["container"]
		t.connected[id] = append(t.connected[id], ev.TimeNano)
	}
	if ev.Type != "container" || ev.Actor.Attributes[t.label] != t.value {
		return
	}
	t.actions[ev.Action]++
	t.names[ev.Actor.ID] = ev.Actor.Attributes["name"]
	switch ev.Action {
	case "restart":
		t.restarted[ev.Actor.ID] = append(t.restarted[ev.Actor.ID], ev.TimeNano)
	case "start":
		t.starts[ev.Actor.ID] = append(t.starts[ev.Actor.ID], ev.TimeNano)
	case "destroy":
		t.destroyed[ev.Actor.ID] = ev.TimeNano
	case "kill", "die":
		t.stopping[ev.Actor.ID] = append(t.stopping[ev.Actor.ID], ev.TimeNano)
	}
}

// followedBetween counts the followed events from a up to b.
func (t *tracker) followedBetween(a, b time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, ns := range t.follow {
		if ns >= a.UnixNano() && ns < b.UnixNano() {
			n++
		}
	}
	return n
}

func (t *tracker) action(a string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.actions[a]
}

// startOf is one start event of a container, with what bounds it: the
// container's previous start, and the next start or its destruction.
type startOf struct {
	id         string
	name       string
	n          int   // the container's n-th start, from 1
	at         int64 // the event's timeNano
	prev, next int64 // 0 where there is none
	// restart says that docker restart made this start: the engine sends
	// restart just after the start it makes.
	restart bool
}

// startsBetween lists the start events of the run's containers from a up
// to b.
func (t *tracker) startsBetween(a, b time.Time) []startOf {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []startOf
	for id, ts := range t.starts {
		ts = slices.Clone(ts)
		slices.Sort(ts)
		for k, at := range ts {
			if at < a.UnixNano() || at >= b.UnixNano() {
				continue
			}
			s := startOf{id: id, name: t.names[id], n: k + 1, at: at}
			for _, rs := range t.restarted[id] {
				if rs >= at && (k+1 == len(ts) || rs < ts[k+1]) {
					s.restart = true
				}
			}
			if k > 0 {
				s.prev = ts[k-1]
			}
			if k+1 < len(ts) {
				s.next = ts[k+1]
			} else if d, ok := t.destroyed[id]; ok {
				s.next = d
			}
			out = append(out, s)
		}
	}
	return out
}

// changingDuring says whether container id of the run's was being
// started ("starting": its start event came while the answer was awaited,
// or within half a second after; "connect-starting" when, besides, the
// inspection was asked after the network connect event that the engine
// sends during the start), or stopped or removed ("stopping": a kill, die
// or destroy event from a second before to half a second after), or
// neither (""). The engine answers an inspection of a container it is
// changing once it is done, and sends the event then.
func (t *tracker) changingDuring(id string, a, b time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	to := b.Add(time.Second / 2).UnixNano()
	for _, ns := range t.starts[id] {
		if ns >= a.UnixNano() && ns <= to {
			for _, c := range t.connected[id] {
				if c <= a.UnixNano() && c > a.Add(-10*time.Second).UnixNano() {
					return "connect-starting"
				}
			}
			return "starting"
		}
	}
	from := a.Add(-time.Second).UnixNano()
	stops := t.stopping[id]
	if d, ok := t.destroyed[id]; ok {
		stops = append(stops[:len(stops):len(stops)], d)
	}
	for _, ns := range stops {
		if ns >= from && ns <= to {
			return "stopping"
		}
	}
	return ""
}
