//go:build ignore

// Command timer measures programs that return at once in main: the
// stripped binary's size and the modules it links, the time its packages
// take to initialise (the sum of GODEBUG=inittrace=1's clock times), and
// the wall time from fork to wait4 of a whole run. Runs go round the
// programs in turn, so that a change in the machine's load falls on all
// of them alike.
//
//	timer [-runs 50] [-init-runs 20] name=path[,arg...] ...
package main

import (
	"bytes"
	"debug/buildinfo"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type program struct {
	name string
	argv []string
	size int64
	mods int
	init []float64 // ms
	wall []float64 // ms
}

func main() {
	runs := flag.Int("runs", 50, "timed runs of each program")
	initRuns := flag.Int("init-runs", 20, "runs of each program with GODEBUG=inittrace=1")
	flag.Parse()
	var progs []*program
	for _, a := range flag.Args() {
		name, spec, _ := strings.Cut(a, "=")
		p := &program{name: name, argv: strings.Split(spec, ",")}
		fi, err := os.Stat(p.argv[0])
		if err != nil {
			fail(err)
		}
		p.size = fi.Size()
		if bi, err := buildinfo.ReadFile(p.argv[0]); err == nil {
			p.mods = len(bi.Deps)
		}
		progs = append(progs, p)
	}
	for i := 0; i < *initRuns; i++ {
		for _, p := range progs {
			ms, err := initTime(p.argv)
			if err != nil {
				fail(fmt.Errorf("%s: %v", p.name, err))
			}
			p.init = append(p.init, ms)
		}
	}
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fail(err)
	}
	for i := 0; i < *runs; i++ {
		for _, p := range progs {
			ms, err := wallTime(p.argv, null.Fd())
			if err != nil {
				fail(fmt.Errorf("%s: %v", p.name, err))
			}
			p.wall = append(p.wall, ms)
		}
	}
	fmt.Printf("| program | stripped bytes | MiB | modules | init ms (median of %d) | start to exit ms (median of %d) | p10 | p90 |\n", *initRuns, *runs)
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, p := range progs {
		fmt.Printf("| %s | %d | %.2f | %d | %.3f | %.2f | %.2f | %.2f |\n", p.name, p.size, float64(p.size)/(1<<20), p.mods,
			quantile(p.init, 0.5), quantile(p.wall, 0.5), quantile(p.wall, 0.1), quantile(p.wall, 0.9))
	}
}

// initTime runs argv once with GODEBUG=inittrace=1 and sums the clock
// times of its packages' initialisation.
func initTime(argv []string) (float64, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return 0, err
	}
	// A program with nothing to initialise prints no line: 0 ms.
	sum := 0.0
	for _, line := range strings.Split(stderr.String(), "\n") {
		// init NAME @0.012 ms, 0.003 ms clock, 0 bytes, 0 allocs
		f := strings.Fields(line)
		if len(f) < 7 || f[0] != "init" || f[6] != "clock," {
			continue
		}
		ms, err := strconv.ParseFloat(f[4], 64)
		if err != nil {
			return 0, fmt.Errorf("inittrace line %q", line)
		}
		sum += ms
	}
	return sum, nil
}

// wallTime runs argv once, its output to null, from fork to wait4.
func wallTime(argv []string, null uintptr) (float64, error) {
	start := time.Now()
	pid, err := syscall.ForkExec(argv[0], argv, &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{null, null, null}})
	if err != nil {
		return 0, err
	}
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return 0, err
	}
	d := time.Since(start)
	if ws.ExitStatus() != 0 {
		return 0, fmt.Errorf("exit status %d", ws.ExitStatus())
	}
	return float64(d.Microseconds()) / 1000, nil
}

func quantile(v []float64, q float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	lo := int(pos)
	if lo+1 >= len(s) {
		return s[lo]
	}
	return s[lo] + (s[lo+1]-s[lo])*(pos-float64(lo))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "timer:", err)
	os.Exit(1)
}
