package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Budgets portenv is held to; a miss prints FAIL but does not fail the run.
// On the host and in a container: at least this many times faster than the
// pipeline with the newest docker CLI, at most this many times the floor.
var (
	budgetVsPipeline = map[bool]float64{false: 3.5, true: 3.2}
	budgetVsFloor    = map[bool]float64{false: 1.6, true: 1.7}
)

const (
	budgetSizeKiB  = 7 * 1024 // stripped
	budgetRSSKiB   = 10 << 10 // peak resident set
	budgetRequests = 2        // in the common case
	// budgetVsBaseline: never slower than the baseline in the same run,
	// within the run-to-run noise of the medians.
	budgetVsBaseline = 1.03
)

type reportInfo struct {
	engine, cli, goVersion string
	cpus                   int
	rounds, warmup         int
	seed                   uint64
}

func quantile(ds []time.Duration, q float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	// Nearest rank on the sorted samples; the median of an even count is
	// the mean of the middle two.
	if q == 0.5 && len(s)%2 == 0 {
		return (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return s[int(q*float64(len(s)-1)+0.5)]
}

func median(v *variant) time.Duration { return quantile(v.walls, 0.5) }

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

func mib(kib int64) string { return fmt.Sprintf("%.1f", float64(kib)/1024) }

func report(w io.Writer, info reportInfo, vs []*variant) {
	by := map[string]*variant{}
	var launcherKiB int64
	for _, v := range vs {
		by[v.name] = v
		launcherKiB = max(launcherKiB, v.launcherKiB)
	}
	fmt.Fprintf(w, "engine %s; pipeline CLI %s; %s; %d CPUs\n", info.engine, info.cli, info.goVersion, info.cpus)
	fmt.Fprintf(w, "%d rounds after %d warm-up rounds, each program once per round in a shuffled order (seed %d)\n", info.rounds, info.warmup, info.seed)
	fmt.Fprintf(w, "wall: fork to wait4 of the program, by a launcher on the same side; RSS: its ru_maxrss (the largest process, for the pipeline); resolution %s MiB\n\n", mib(launcherKiB))

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "program\tmedian ms\tp10 ms\tp90 ms\tx floor\tpeak RSS MiB\tbinary MiB\trequests\t")
	for _, v := range vs {
		floor := by[vFloor]
		if v.inside {
			floor = by[vFloorIn]
		}
		size := "-"
		if v.size > 0 {
			size = mib(v.size/1024) + v.sizeNote
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f\t%s\t%s\t%d\t\n", v.name, ms(median(v)), ms(quantile(v.walls, 0.1)), ms(quantile(v.walls, 0.9)),
			float64(median(v))/float64(median(floor)), mib(slices.Max(v.rss)), size, len(v.requests))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nrequests:")
	for _, v := range vs {
		if len(v.requests) > 0 {
			fmt.Fprintf(w, "  %-28s %s\n", v.name, strings.Join(v.requests, ", "))
		}
	}

	fmt.Fprintln(w, "\nratios of medians:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	ratio := func(a, b string) {
		if by[a] != nil && by[b] != nil {
			fmt.Fprintf(tw, "  %s / %s\t%.2fx\n", a, b, float64(median(by[a]))/float64(median(by[b])))
		}
	}
	var pipelines []*variant
	for _, v := range vs {
		if v.isPipeline {
			pipelines = append(pipelines, v)
		}
	}
	for _, p := range pipelines {
		for _, name := range []string{vPortenv, vPortenvSelfIn, vFloor, vHello} {
			ratio(p.name, name)
		}
	}
	ratio(vPortenv, vFloor)
	ratio(vPortenvSelfIn, vFloorIn)
	ratio(vPortenvSelfIn, vPortenv)
	ratio(vPortenv, vHello)
	ratio(vPortenv, vPortenv+vBaseSuffix)
	ratio(vPortenvSelfIn, vPortenvSelfIn+vBaseSuffix)
	tw.Flush()

	fmt.Fprintln(w, "\nbudgets:")
	line := func(ok bool, format string, args ...any) {
		verdict := "FAIL"
		if ok {
			verdict = "PASS"
		}
		fmt.Fprintf(w, "%s  %s\n", verdict, fmt.Sprintf(format, args...))
	}
	for _, pair := range [][2]string{{vPortenv, vFloor}, {vPortenvSelfIn, vFloorIn}} {
		v, floor := by[pair[0]], by[pair[1]]
		if p := newestPipeline(pipelines); p != nil {
			speedup := float64(median(p)) / float64(median(v))
			line(speedup >= budgetVsPipeline[v.inside], "%s is %.1fx faster than %s (budget: at least %.1fx)", v.name, speedup, p.name, budgetVsPipeline[v.inside])
		}
		r := float64(median(v)) / float64(median(floor))
		line(r <= budgetVsFloor[v.inside], "%s takes %.2fx the time of the %s (budget: at most %.1fx)", v.name, r, floor.name, budgetVsFloor[v.inside])
		if base := by[v.name+vBaseSuffix]; base != nil {
			r := float64(median(v)) / float64(median(base))
			line(r <= budgetVsBaseline, "%s takes %.2fx the time of its baseline (budget: not slower, at most %.2fx for noise)", v.name, r, budgetVsBaseline)
		}
	}
	pe := by[vPortenv]
	line(float64(pe.size)/1024 <= budgetSizeKiB, "portenv binary is %s MiB stripped (budget: at most %d MiB)", mib(pe.size/1024), budgetSizeKiB/1024)
	for _, v := range vs {
		if v.isPortenv {
			peak := slices.Max(v.rss)
			line(peak <= budgetRSSKiB, "%s peak RSS is %s MiB at most (budget: at most %d MiB)", v.name, mib(peak), budgetRSSKiB>>10)
		}
	}
	for _, v := range vs {
		if v.isPortenv {
			line(len(v.requests) == budgetRequests, "%s makes %d requests (budget: %d)", v.name, len(v.requests), budgetRequests)
		}
	}
}

// newestPipeline is the pipeline with the newest docker CLI, whose
// version ends its name ("..., CLI 28.2.2"), or nil.
func newestPipeline(pipelines []*variant) *variant {
	var best *variant
	var bestV []int
	for _, p := range pipelines {
		_, ver, _ := strings.Cut(p.name, ", CLI ")
		var v []int
		for f := range strings.FieldsFuncSeq(ver, func(r rune) bool { return r < '0' || r > '9' }) {
			n, _ := strconv.Atoi(f)
			v = append(v, n)
		}
		if best == nil || slices.Compare(v, bestV) > 0 {
			best, bestV = p, v
		}
	}
	return best
}
