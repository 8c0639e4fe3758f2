package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Budgets the agent is held to; a miss prints FAIL but does not fail the
// run.
const (
	budgetDelayP99 = 200 * time.Millisecond
	budgetRSSKiB   = 40 << 10
	// budgetGrowthKiB bounds the growth of the agent's resident set from
	// the end of the first churn phase to the end of the second, which
	// brings about as many events again. The agent keeps nothing per
	// container or per event in memory (the records are on disk), so its
	// live heap is the same after both; what moves its resident set is the
	// Go runtime, its heap slack and when its scavenger returns freed
	// pages: 0 to 0.5 MiB between the phases in short and full runs alike,
	// whether they bring 100 events or 1000. 2 MiB is four times that; a
	// leak of 2 KiB per event passes it over the 1000 events of a phase of
	// the full setting on a 2-core machine.
	budgetGrowthKiB = 2 << 10
)

type header struct {
	engine       versionInfo
	goVersion    string
	cpus         int
	load0, load1 string
	s            settings
	rev          string
	fs           string
	others       int
}

type report struct {
	h              header
	setup          setupResult
	syncTime       time.Duration
	syncRequests   int
	phases         []phaseResult
	samples        []sample      // after the first marker, and after each phase
	requests       *requestCount // during the phases
	all            *requestCount // from the agent's start to its stop
	delays         delayResult
	end            endState
	stop           stopResult
	warnings       []string
	watchReads     int
	watchOverflow  int
	watchBad       int
	binSize        int64
	inspections    inspectionTimes // during the phases
	waited         []time.Duration // for each phase, the agent's wait for the answers to its inspections
	proxyErrors    int
	proxyLastError string
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	// Nearest rank on the sorted samples.
	return s[int(q*float64(len(s)-1)+0.5)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

func perSecond(n int, d time.Duration) string { return fmt.Sprintf("%.1f", float64(n)/d.Seconds()) }

func rate(r float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.2f", r), "0"), ".0")
}

func (rp *report) print(w io.Writer) {
	h := rp.h
	s := h.s
	fmt.Fprintf(w, "engine %s (API %s, %s/%s); %s; %d CPUs; load average %s at start, %s at end\n",
		h.engine.Version, h.engine.APIVersion, h.engine.Os, h.engine.Arch, h.goVersion, h.cpus, h.load0, h.load1)
	fmt.Fprintf(w, "portenv %s (%s MiB stripped) as `portenv agent --dir DIR`, reaching the engine through a recording read-only proxy; records on %s\n",
		h.rev, mib(rp.binSize/1024), h.fs)
	fmt.Fprintf(w, "settings: %d containers, then 2 churn phases of %s, each at %s starts/s, %s removals/s, %s docker restarts/s (-t 0); at most %d changes of each kind in flight\n",
		s.containers, s.churn, rate(s.rate), rate(s.rate), rate(s.restarts), s.parallel)
	fmt.Fprintln(w, "containers: busybox sleep; restart policy on-failure on 1 in 10 (those exit 1 after 4 to 12 s), always on 1 in 10, unless-stopped on 1 in 10;")
	fmt.Fprintln(w, "  ports: 80/tcp on 127.0.0.1 (4 in 6, one of them with 53/udp too), 80/tcp on every address (1 in 6), none (1 in 6)")
	fmt.Fprintf(w, "other containers running on the engine: %d (the agent records them too, and follows their events)\n\n", h.others)

	fmt.Fprintf(w, "setup: %d containers started in %.1f s (%s/s), before the agent\n", rp.setup.n, rp.setup.took.Seconds(), perSecond(rp.setup.n, rp.setup.took))
	if rp.setup.failed > 0 {
		fmt.Fprintf(w, "  %d starts failed and were replaced; the last: %s\n", rp.setup.failed, rp.setup.last)
	}
	fmt.Fprintf(w, "agent start: first marker (every running container recorded) after %s ms, %d requests\n\n", ms(rp.syncTime), rp.syncRequests)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	row := func(name string, f func(i int, p phaseResult) string) {
		fmt.Fprintf(tw, "%s\t", name)
		for i, p := range rp.phases {
			fmt.Fprintf(tw, "%s\t", f(i, p))
		}
		fmt.Fprintln(tw)
	}
	dur := func(p phaseResult) time.Duration { return p.end.Sub(p.start) }
	row("churn", func(i int, _ phaseResult) string { return fmt.Sprintf("phase %d", i+1) })
	row("length s", func(_ int, p phaseResult) string { return fmt.Sprintf("%.1f", dur(p).Seconds()) })
	row(fmt.Sprintf("starts /s (target %s)", rate(s.rate)), func(_ int, p phaseResult) string { return perSecond(p.starts, dur(p)) })
	row(fmt.Sprintf("removals /s (target %s)", rate(s.rate)), func(_ int, p phaseResult) string { return perSecond(p.removals, dur(p)) })
	row(fmt.Sprintf("docker restarts /s (target %s)", rate(s.restarts)), func(_ int, p phaseResult) string { return perSecond(p.restarts, dur(p)) })
	row("starts, removals, restarts", func(_ int, p phaseResult) string { return fmt.Sprintf("%d, %d, %d", p.starts, p.removals, p.restarts) })
	row("ticks dropped (engine busy)", func(_ int, p phaseResult) string {
		return fmt.Sprintf("%d, %d, %d", p.dropped[0], p.dropped[1], p.dropped[2])
	})
	row("failed changes", func(_ int, p phaseResult) string { return fmt.Sprint(p.startErr + p.removeErr + p.restErr) })
	row("restarts by policy (engine)", func(_ int, p phaseResult) string { return fmt.Sprint(p.policyRestarts) })
	row("running, min-max", func(_ int, p phaseResult) string { return fmt.Sprintf("%d-%d", p.minRunning, p.maxRunning) })
	row("events the agent follows", func(_ int, p phaseResult) string { return fmt.Sprint(p.events) })
	// Requests, CPU and memory are taken at the samples: from the one
	// before the phase to the one after it, once its records are written.
	row("records caught up after, s", func(_ int, p phaseResult) string {
		if p.behind > 0 {
			return fmt.Sprintf("not in %.0f (%d starts)", p.caughtUp.Seconds(), p.behind)
		}
		return fmt.Sprintf("%.1f", p.caughtUp.Seconds())
	})
	row("agent requests", func(i int, _ phaseResult) string {
		return fmt.Sprint(rp.samples[i+1].requests - rp.samples[i].requests)
	})
	row("requests per event", func(i int, p phaseResult) string {
		return fmt.Sprintf("%.2f", float64(rp.samples[i+1].requests-rp.samples[i].requests)/float64(max(p.events, 1)))
	})
	row("agent CPU s", func(i int, _ phaseResult) string {
		return fmt.Sprintf("%.2f", (rp.samples[i+1].cpu - rp.samples[i].cpu).Seconds())
	})
	row("CPU s per 1000 events", func(i int, p phaseResult) string {
		return fmt.Sprintf("%.2f", (rp.samples[i+1].cpu-rp.samples[i].cpu).Seconds()*1000/float64(max(p.events, 1)))
	})
	row("answer time summed, s", func(i int, _ phaseResult) string {
		span := rp.samples[i+1].at.Sub(rp.samples[i].at)
		return fmt.Sprintf("%.1f of %.1f", rp.waited[i].Seconds(), span.Seconds())
	})
	row("agent VmRSS after, MiB", func(i int, _ phaseResult) string { return mib(rp.samples[i+1].mem.rssKiB) })
	tw.Flush()
	for i, p := range rp.phases {
		if p.lastErr != "" {
			fmt.Fprintf(w, "  phase %d, last failed change: %s\n", i+1, p.lastErr)
		}
	}

	d := rp.delays
	fmt.Fprintf(w, "\nrecord delay, from the start event (its timeNano) to the record of that start on disk (inotify), %d starts of the benchmark's containers:\n", len(d.recorded))
	fmt.Fprintf(w, "  p50 %s ms, p90 %s ms, p99 %s ms, max %s ms; %d records written before the event was sent (counted as 0)\n",
		ms(quantile(d.recorded, 0.5)), ms(quantile(d.recorded, 0.9)), ms(quantile(d.recorded, 0.99)), ms(slices.Max(append([]time.Duration{0}, d.recorded...))), d.early)
	for _, c := range []struct{ cause, name string }{{"first", "first starts"}, {"restart", "docker restarts"}, {"policy", "restarts by policy"}} {
		if ds := d.byCause[c.cause]; len(ds) > 0 {
			fmt.Fprintf(w, "  %-18s %4d: p50 %s ms, p99 %s ms, max %s ms\n", c.name, len(ds), ms(quantile(ds, 0.5)), ms(quantile(ds, 0.99)), ms(slices.Max(ds)))
		}
	}
	if len(d.superseded) > 0 {
		fmt.Fprintf(w, "  %d starts never in a record: the container started again or was removed %s ms (median), %s ms (max) after\n",
			len(d.superseded), ms(quantile(d.superseded, 0.5)), ms(slices.Max(d.superseded)))
	}
	if d.lost > 0 {
		fmt.Fprintf(w, "  %d starts never in a record though their container still runs them\n", d.lost)
	}

	in := rp.inspections
	fmt.Fprintf(w, "  the engine's answers to the agent's %d inspections (GET /containers/{id}/json), through the proxy: p50 %s ms, p99 %s ms, max %s ms;\n",
		len(in.all), ms(quantile(in.all, 0.5)), ms(quantile(in.all, 0.99)), ms(slices.Max(append([]time.Duration{0}, in.all...))))
	fmt.Fprintf(w, "  %d took over %s ms: %d of a container being started (its start event came with the answer; %d asked after its network connect event, which the engine sends during the start),\n",
		in.slow, ms(slowAnswer), in.slowStarting, in.slowAtConnect)
	fmt.Fprintf(w, "  %d of a container being stopped or removed, %d other;\n", in.slowStopping, in.slow-in.slowStarting-in.slowStopping)
	fmt.Fprintln(w, "  the agent reads several containers at once, each container's changes in order, so a slow answer delays only that container's record")

	if rp.proxyErrors > 0 {
		fmt.Fprintf(w, "  %d requests ended without the engine's answer (the agent gave up waiting, or the engine failed); the last: %s\n", rp.proxyErrors, rp.proxyLastError)
	}

	e := rp.end
	fmt.Fprintf(w, "\nend: %d of the benchmark's containers running, %d records of them; wrong %d, missing %d, left over %d (records of removed containers); %d differences mended within %s\n",
		e.running, e.records, len(e.wrong), len(e.missing), len(e.leftOver), e.retried, checkWait)
	for _, l := range [][]string{e.wrong, e.missing, e.leftOver} {
		for i, x := range l {
			if i == 5 {
				fmt.Fprintf(w, "  ... %d more\n", len(l)-5)
				break
			}
			fmt.Fprintf(w, "  %s\n", x)
		}
	}

	last := rp.samples[len(rp.samples)-1]
	fmt.Fprintf(w, "\nagent memory: peak (VmHWM) %s MiB; VmRSS %s MiB after its start, %s after phase 1, %s after phase 2\n",
		mib(last.mem.hwmKiB), mib(rp.samples[0].mem.rssKiB), mib(rp.samples[1].mem.rssKiB), mib(last.mem.rssKiB))
	events := 0
	for _, p := range rp.phases {
		events += p.events
	}
	cpu := last.cpu - rp.samples[0].cpu
	fmt.Fprintf(w, "agent CPU: %.2f s over both phases, %.2f s per 1000 events\n", cpu.Seconds(), cpu.Seconds()*1000/float64(max(events, 1)))
	fmt.Fprintf(w, "agent requests over both phases: %d for %d events (%.2f per event):\n", rp.requests.total, events, float64(rp.requests.total)/float64(max(events, 1)))
	kinds := slices.Collect(maps.Keys(rp.requests.byKind))
	slices.SortFunc(kinds, func(a, b string) int { return rp.requests.byKind[b] - rp.requests.byKind[a] })
	for _, k := range kinds {
		fmt.Fprintf(w, "  %6d  %s\n", rp.requests.byKind[k], k)
	}
	st := rp.stop
	how := "exited"
	if st.killed {
		how = "did not exit within 10 s; killed"
	}
	status := "status 0"
	if st.err != nil {
		status = st.err.Error()
	}
	marker := "its marker says it stopped"
	if !st.stoppedAt {
		marker = "its marker does not say it stopped"
	}
	fmt.Fprintf(w, "agent stop: SIGTERM, %s after %s ms (%s); %s; %d warnings in its log\n", how, ms(st.took), status, marker, len(rp.warnings))
	for i, l := range rp.warnings {
		if i == 5 {
			fmt.Fprintf(w, "  ... %d more\n", len(rp.warnings)-5)
			break
		}
		fmt.Fprintf(w, "  %s\n", l)
	}
	fmt.Fprintf(w, "records watched: %d read, %d unreadable, %d inotify overflows\n", rp.watchReads, rp.watchBad, rp.watchOverflow)

	fmt.Fprintln(w, "\nbudgets:")
	line := func(ok bool, format string, args ...any) {
		verdict := "FAIL"
		if ok {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "%s  %s\n", verdict, fmt.Sprintf(format, args...))
	}
	line(len(e.wrong)+len(e.missing)+len(e.leftOver) == 0, "records at the end: wrong %d, missing %d, left over %d (budget: 0/0/0)", len(e.wrong), len(e.missing), len(e.leftOver))
	p99 := quantile(d.recorded, 0.99)
	line(len(d.recorded) > 0 && p99 <= budgetDelayP99 && d.lost == 0, "record delay p99 %s ms over %d starts, %d never recorded (budget: p99 at most %s ms, none lost)", ms(p99), len(d.recorded), d.lost, ms(budgetDelayP99))
	line(last.mem.hwmKiB <= budgetRSSKiB, "agent peak RSS %s MiB (budget: at most %d MiB)", mib(last.mem.hwmKiB), budgetRSSKiB>>10)
	line(last.mem.rssKiB <= budgetRSSKiB, "agent final RSS %s MiB (budget: at most %d MiB)", mib(last.mem.rssKiB), budgetRSSKiB>>10)
	growth := last.mem.rssKiB - rp.samples[1].mem.rssKiB
	line(growth <= budgetGrowthKiB, "agent RSS grew %+d KiB from phase 1 to phase 2, %d and %d events (budget: at most %d KiB)", growth, rp.phases[0].events, rp.phases[1].events, budgetGrowthKiB)
	if len(rp.all.other) == 0 {
		line(rp.all.total > 0, "agent requests from its start to its stop: %d, all GET or HEAD", rp.all.total)
	} else {
		line(false, "agent requests: %d of %d other than GET or HEAD, the first %s (budget: none)", len(rp.all.other), rp.all.total, rp.all.other[0])
	}
}
