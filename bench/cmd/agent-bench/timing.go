package main

import (
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/portenv/portenv/internal/readproxy"
)

// timed measures how long the engine takes to answer each of the agent's
// inspections through the proxy, which tells the engine's share of the
// record delays from the agent's.
type timed struct {
	h http.Handler

	mu      sync.Mutex
	answers []answer
}

type answer struct {
	path       string
	start, end time.Time
}

func (t *timed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	path := readproxy.Unversioned(r.URL.Path)
	if path == "/events" {
		t.h.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	t.h.ServeHTTP(w, r)
	end := time.Now()
	t.mu.Lock()
	t.answers = append(t.answers, answer{path: path, start: start, end: end})
	t.mu.Unlock()
}

// inspectionTimes are the engine's answers to the agent's inspections.
type inspectionTimes struct {
	all []time.Duration
	sum time.Duration
	// slow counts those over slowAnswer; slowStarting and slowStopping
	// those of them of a container of the run's that was being started,
	// or stopped or removed: the engine answers once it is done with it.
	slow, slowStarting, slowStopping int
	// slowAtConnect counts the slow answers of a container being started
	// that were asked after its network connect event.
	slowAtConnect int
}

const slowAnswer = 100 * time.Millisecond

// inspections returns the inspections answered from a up to b.
func (t *timed) inspections(a, b time.Time, tr *tracker) inspectionTimes {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out inspectionTimes
	for _, x := range t.answers {
		id, ok := strings.CutPrefix(x.path, "/containers/")
		id, ok2 := strings.CutSuffix(id, "/json")
		if !ok || !ok2 || x.start.Before(a) || !x.start.Before(b) {
			continue
		}
		d := x.end.Sub(x.start)
		out.all = append(out.all, d)
		out.sum += d
		if d > slowAnswer {
			out.slow++
			switch tr.changingDuring(id, x.start, x.end) {
			case "connect-starting":
				out.slowAtConnect++
				out.slowStarting++
			case "starting":
				out.slowStarting++
			case "stopping":
				out.slowStopping++
			}
		}
	}
	return out
}

// proxyLog counts the errors that the proxy logs through the standard
// logger: each is a request the agent abandoned before the engine
// answered (its wait for one container is bounded), or one the engine
// failed.
type proxyLog struct {
	n    atomic.Int64
	last atomic.Value // string
}

func (l *proxyLog) Write(p []byte) (int, error) {
	l.n.Add(1)
	l.last.Store(strings.TrimSpace(string(p)))
	return len(p), nil
}
