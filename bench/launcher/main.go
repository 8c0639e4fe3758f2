// Command launcher starts one program at a time and reports how long it
// ran and its own peak resident set size, as wait4(2) gives them. The
// benchmark keeps one launcher on the host and one inside the test
// container, so that both sides are measured by the same code and neither
// measurement includes docker exec or the benchmark's own process.
//
//	launcher serve   read one JSON request per line on stdin, answer on stdout
//	launcher idle    do nothing until killed (the test container's PID 1)
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Request asks for one run of a program.
type Request struct {
	Path string   // absolute: the child cannot search PATH
	Argv []string // including argv[0]
	Env  []string
}

// Result is what one run gave.
type Result struct {
	WallNs    int64
	MaxRSSKiB int64 // ru_maxrss of the child and the children it waited for
	// LauncherAnonKiB is the launcher's anonymous memory when it forked:
	// fork copies it into the child's count, so a MaxRSSKiB at or below
	// it means "no more than this" rather than a measurement.
	LauncherAnonKiB int64
	Status          int // exit status, or 128+signal
	Stdout, Stderr  string
	Err             string `json:",omitempty"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: launcher serve|idle")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "idle":
		// A bare select{} would end the program: the runtime reports a
		// deadlock when no goroutine can ever run.
		for {
			time.Sleep(time.Hour)
		}
	case "serve":
		if err := serve(); err != nil {
			fmt.Fprintln(os.Stderr, "launcher:", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: launcher serve|idle")
		os.Exit(2)
	}
}

func serve() error {
	out, err := os.CreateTemp("", "launcher-stdout-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	errf, err := os.CreateTemp("", "launcher-stderr-")
	if err != nil {
		return err
	}
	defer os.Remove(errf.Name())
	null, err := os.Open(os.DevNull)
	if err != nil {
		return err
	}
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 0, 64<<10), 1<<20)
	enc := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var req Request
		var res Result
		if err := json.Unmarshal(in.Bytes(), &req); err != nil {
			res.Err = err.Error()
		} else {
			res = run(req, null, out, errf)
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	return in.Err()
}

func run(req Request, stdin, stdout, stderr *os.File) Result {
	for _, f := range []*os.File{stdout, stderr} {
		if err := f.Truncate(0); err != nil {
			return Result{Err: err.Error()}
		}
		if _, err := f.Seek(0, 0); err != nil {
			return Result{Err: err.Error()}
		}
	}
	// Fork copies the launcher's anonymous pages into the child's peak
	// RSS; returning the garbage of earlier runs keeps that small.
	debug.FreeOSMemory()
	res := Result{LauncherAnonKiB: anonKiB()}
	start := time.Now()
	pid, err := forkExec(req.Path, req.Argv, req.Env, [3]int{int(stdin.Fd()), int(stdout.Fd()), int(stderr.Fd())})
	if err != nil {
		return Result{Err: fmt.Sprintf("start %s: %v", req.Path, err)}
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	res.WallNs = time.Since(start).Nanoseconds()
	if err != nil {
		return Result{Err: fmt.Sprintf("wait for %s: %v", req.Path, err)}
	}
	res.MaxRSSKiB = int64(ru.Maxrss)
	if ws.Signaled() {
		res.Status = 128 + int(ws.Signal())
	} else {
		res.Status = ws.ExitStatus()
	}
	res.Stdout = readAll(stdout)
	res.Stderr = readAll(stderr)
	return res
}

func readAll(f *os.File) string {
	b, err := os.ReadFile(f.Name())
	if err != nil {
		return ""
	}
	return string(b)
}

// anonKiB reads RssAnon from /proc/self/status; 0 when it cannot.
func anonKiB() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "RssAnon:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}
