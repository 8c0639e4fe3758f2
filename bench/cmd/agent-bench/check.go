package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/portenv/portenv/discover"
)

// endState is how the records compare with the engine once the churn
// has ended.
type endState struct {
	records  int      // records of the run's containers
	running  int      // the run's containers running (or restarting, or paused)
	wrong    []string // records that differ from their container's inspection
	missing  []string // running containers without a record
	leftOver []string // records of removed containers
	retried  int      // differences that a second look found mended
}

// checkWait bounds how long a difference may take to mend before it
// counts: the crashers restart on their own, and a record may be a few
// milliseconds behind when it is read.
const checkWait = 5 * time.Second

// check compares each record of the run's containers with the
// container's inspection: status, start time and published ports.
func (r *run) check(ctx context.Context) (endState, error) {
	var st endState
	list, err := r.eng.list(ctx, r.label(), true)
	if err != nil {
		return st, err
	}
	exists := map[string]bool{}
	for _, c := range list {
		exists[c.ID] = true
	}
	// The records of the run's containers, and of those removed.
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return st, err
	}
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || len(id) != 64 {
			continue
		}
		rec, err := readRecord(discover.RecordFile(r.dir, id))
		if err != nil || rec.Container.Labels[labelKey] != r.id {
			continue
		}
		st.records++
		if !exists[id] {
			// Removed: its record must go, within checkWait.
			if r.settled(ctx, func() string {
				if _, err := os.Stat(discover.RecordFile(r.dir, id)); err == nil {
					return "still there"
				}
				return ""
			}, &st) != "" {
				st.leftOver = append(st.leftOver, id[:12])
			}
		}
	}
	for _, c := range list {
		id := c.ID
		var last *inspection
		problem := r.settled(ctx, func() string {
			in, err := r.eng.inspect(ctx, id)
			if err != nil {
				return "cannot inspect: " + err.Error()
			}
			last = in
			if in == nil {
				return "" // removed meanwhile: not the churn's, as it has ended
			}
			rec, err := readRecord(discover.RecordFile(r.dir, id))
			if err != nil {
				if os.IsNotExist(err) && !live(in.State.Status) {
					return "" // never ran, or no record needed
				}
				return "missing"
			}
			return differs(rec, in)
		}, &st)
		if last == nil {
			continue
		}
		if live(last.State.Status) {
			st.running++
		}
		switch {
		case problem == "":
		case problem == "missing":
			st.missing = append(st.missing, fmt.Sprintf("%s %s (%s)", id[:12], strings.TrimPrefix(last.Name, "/"), last.State.Status))
		default:
			st.wrong = append(st.wrong, fmt.Sprintf("%s %s: %s", id[:12], strings.TrimPrefix(last.Name, "/"), problem))
		}
	}
	return st, nil
}

// settled calls look until it finds nothing wrong, within checkWait, and
// returns the last problem.
func (r *run) settled(ctx context.Context, look func() string, st *endState) string {
	deadline := time.Now().Add(checkWait)
	problem := look()
	if problem == "" {
		return ""
	}
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(100 * time.Millisecond)
		if problem = look(); problem == "" {
			st.retried++
			return ""
		}
	}
	return problem
}

func live(status string) bool {
	return status == "running" || status == "restarting" || status == "paused"
}

// differs says how a record differs from the inspection, in the fields a
// workload uses: status, start time, published ports.
func differs(rec *discover.Record, in *inspection) string {
	c := rec.Container
	var d []string
	status := in.State.Status
	if in.State.Paused {
		status = "paused"
	}
	if c.Status != status {
		d = append(d, fmt.Sprintf("status %s, inspection %s", c.Status, status))
	}
	if c.StartedAt != in.State.StartedAt {
		d = append(d, fmt.Sprintf("started %s, inspection %s", c.StartedAt, in.State.StartedAt))
	}
	var have, want []string
	for _, b := range c.Ports {
		have = append(have, b.Port.String()+" "+b.HostIP+":"+strconv.Itoa(b.HostPort))
	}
	for port, bs := range in.NetworkSettings.Ports {
		for _, b := range bs {
			if b.HostPort != "" {
				want = append(want, port+" "+b.HostIP+":"+b.HostPort)
			}
		}
	}
	slices.Sort(have)
	slices.Sort(want)
	if !slices.Equal(have, want) {
		d = append(d, fmt.Sprintf("ports [%s], inspection [%s]", strings.Join(have, ", "), strings.Join(want, ", ")))
	}
	return strings.Join(d, "; ")
}
