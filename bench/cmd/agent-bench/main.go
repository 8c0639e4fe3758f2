// Command agent-bench measures portenv agent at scale on the local engine:
// it starts many containers, runs the agent (the built binary, behind a
// recording read-only proxy), then churns containers through two phases
// of equal length: starts, removals, docker restarts, and the engine's own
// restarts of containers under restart policies. It prints how far behind
// the engine the records are, whether they end equal to the containers'
// inspections, and the agent's memory, CPU time and requests, with
// PASS/FAIL lines for the agent's budgets. Run from the repository root:
//
//	go run ./bench/cmd/agent-bench          # 200 containers, 2 x 60 s at 10/s
//	go run ./bench/cmd/agent-bench -short   # 20 containers, 2 x 10 s at 2/s (CI)
//
// Its containers are named pe-agentload-<pid>-<n> and labelled
// portenv-bench.agentload=<pid>; it removes them and its image when it
// ends, interrupted too. A failed budget is printed, not an exit status:
// it exits non-zero only when it cannot measure.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/internal/readproxy"
)

// labelKey marks the benchmark's containers; its value is the run's id.
const labelKey = "portenv-bench.agentload"

type settings struct {
	containers int
	churn      time.Duration // per phase
	rate       float64       // starts per second, and removals
	restarts   float64       // docker restarts per second
	parallel   int           // requests in flight per kind of change
	settle     time.Duration // bound on the wait for the records after a phase
	delaysCSV  string        // where to write each start's delay, or ""
}

func main() {
	var s settings
	flag.IntVar(&s.containers, "containers", 200, "containers running before the churn, kept running through it")
	flag.DurationVar(&s.churn, "churn", 60*time.Second, "length of each of the two churn phases")
	flag.Float64Var(&s.rate, "rate", 10, "target starts per second during the churn, and as many removals")
	flag.Float64Var(&s.restarts, "restarts", -1, "target docker restarts per second during the churn; -1 for a fifth of -rate")
	flag.IntVar(&s.parallel, "parallel", 4, "requests in flight at most for each kind of change (start, removal, restart)")
	flag.DurationVar(&s.settle, "settle", time.Minute, "how long to wait at most for the agent to record the starts of a phase, after it")
	flag.StringVar(&s.delaysCSV, "delays", "", "write each start's record delay to `FILE`, as CSV")
	short := flag.Bool("short", false, "the CI setting: -containers 20 -churn 10s -rate 2 unless given")
	flag.Parse()
	if *short {
		given := map[string]bool{}
		flag.Visit(func(f *flag.Flag) { given[f.Name] = true })
		if !given["containers"] {
			s.containers = 20
		}
		if !given["churn"] {
			s.churn = 10 * time.Second
		}
		if !given["rate"] {
			s.rate = 2
		}
	}
	if s.restarts < 0 {
		s.restarts = s.rate / 5
	}
	if s.containers < 1 || s.churn <= 0 || s.rate <= 0 || s.parallel < 1 || s.settle <= 0 {
		fmt.Fprintln(os.Stderr, "agent-bench: -containers, -churn, -rate, -parallel and -settle must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// A reader that goes away (| head) must not kill the benchmark before
	// it removes its containers: writes fail instead.
	signal.Ignore(syscall.SIGPIPE)
	r := &run{s: s, id: strconv.Itoa(os.Getpid())}
	err := r.main(ctx)
	r.cleanup()
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted; what it started is removed")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent-bench:", err)
		os.Exit(1)
	}
}

type run struct {
	s  settings
	id string // the run's label value and name part

	eng   *engine
	tmp   string
	dir   string // the records' directory
	image string
	proxy *readproxy.Proxy
	timed *timed
	// proxyErrors counts what the proxy logs.
	proxyErrors *proxyLog
	track       *tracker
	watch       *watcher
	agent       *exec.Cmd
	agentLog    string
	exited      chan struct{} // closed when the agent has exited
	agentErr    error

	pool     *pool
	names    atomic.Int64
	cleanups []func()
}

func (r *run) defer_(f func()) { r.cleanups = append(r.cleanups, f) }

func (r *run) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}

func (r *run) label() string { return labelKey + "=" + r.id }

func (r *run) main(ctx context.Context) error {
	sock, err := engineSocket()
	if err != nil {
		return err
	}
	r.eng = newEngine(sock)
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	ver, err := r.eng.negotiate(vctx)
	cancel()
	if err != nil {
		return fmt.Errorf("no engine answers at %s: %v", sock, err)
	}
	info := header{engine: ver, goVersion: runtime.Version(), cpus: runtime.NumCPU(), load0: loadAverage(), s: r.s, rev: gitRev()}

	if r.tmp, err = os.MkdirTemp("", "pe-agentload-"); err != nil {
		return err
	}
	r.defer_(func() { os.RemoveAll(r.tmp) })
	r.dir = filepath.Join(r.tmp, "records")
	if err := os.Mkdir(r.dir, 0o755); err != nil {
		return err
	}
	info.fs = fsType(r.dir)
	fmt.Fprintf(os.Stderr, "agent-bench: containers pe-agentload-%s-N, label %s; should any be left: docker rm -f $(docker ps -aq -f label=%s)\n", r.id, r.label(), labelKey)
	fmt.Fprintln(os.Stderr, "building portenv ...")
	bin, err := r.build()
	if err != nil {
		return err
	}
	if err := r.makeImage(ctx); err != nil {
		return err
	}
	// The containers are removed before the image, whatever happened.
	r.defer_(r.removeContainers)

	// The benchmark's own view of the engine: every event from now on.
	r.track = newTracker(labelKey, r.id)
	ectx, stopEvents := context.WithCancel(context.Background())
	r.defer_(stopEvents)
	evs, _, err := r.eng.events(ectx, time.Now().Add(-time.Second))
	if err != nil {
		return err
	}
	go r.track.consume(evs)

	if r.watch, err = newWatcher(r.dir, labelKey, r.id); err != nil {
		return err
	}
	r.defer_(r.watch.close)

	// Setup: the containers run before the agent starts, as on a host
	// where the agent is added or restarted.
	r.pool = newPool()
	fmt.Fprintf(os.Stderr, "starting %d containers ...\n", r.s.containers)
	setup, err := r.setup(ctx)
	if err != nil {
		return err
	}
	others, _ := r.eng.list(ctx, "", false)
	info.others = len(others) - r.pool.size()

	proxySock := filepath.Join(r.tmp, "proxy.sock")
	// Every GET and HEAD is let through: the agent is measured as it is;
	// anything else is refused, and counted.
	r.proxy = readproxy.New(sock, "/*", "/*/*", "/*/*/*", "/*/*/*/*", "/*/*/*/*/*")
	r.timed = &timed{h: r.proxy}
	r.proxyErrors = &proxyLog{}
	log.SetOutput(r.proxyErrors)
	log.SetFlags(0)
	stopProxy, err := readproxy.Serve(proxySock, r.timed)
	if err != nil {
		return err
	}
	r.defer_(stopProxy)
	fmt.Fprintln(os.Stderr, "starting the agent ...")
	agentStart := time.Now()
	if err := r.startAgent(bin, proxySock); err != nil {
		return err
	}
	syncTime, err := r.awaitMarker(ctx, agentStart)
	if err != nil {
		return err
	}
	ready := time.Now()
	syncRequests := r.proxy.Take()
	// Every request of the agent's, for the check of their methods.
	all := newRequestCount()
	all.add(syncRequests)
	// The samples are taken once the agent has recorded what came before
	// (after a phase: every start of it, or -settle ran out), and a
	// second more.
	if err := sleep(ctx, time.Second); err != nil {
		return err
	}
	reqs := newRequestCount()
	all.add(r.proxy.Take())
	s0, err := r.sample(time.Now())
	if err != nil {
		return err
	}
	samples := []sample{s0}
	var phases []phaseResult
	for i := 1; i <= 2; i++ {
		fmt.Fprintf(os.Stderr, "churn phase %d of 2, %s ...\n", i, r.s.churn)
		ph := r.churn(ctx)
		if err := ctx.Err(); err != nil {
			return err
		}
		phases = append(phases, ph)
		fmt.Fprintf(os.Stderr, "  %d starts, %d removals, %d restarts; waiting for the records ...\n", ph.starts, ph.removals, ph.restarts)
		ph.caughtUp, ph.behind = r.awaitRecords(ctx, samples[0].at, ph.end)
		if err := sleep(ctx, time.Second); err != nil {
			return err
		}
		now := time.Now()
		taken := r.proxy.Take()
		reqs.add(taken)
		all.add(taken)
		si, err := r.sample(now)
		if err != nil {
			return err
		}
		si.requests = reqs.total
		// Events are counted over the same span as the requests and the
		// CPU time: from the sample before the phase to the one after.
		ph.events = r.track.followedBetween(samples[len(samples)-1].at, si.at)
		phases[len(phases)-1] = ph
		samples = append(samples, si)
	}
	fmt.Fprintln(os.Stderr, "comparing records with inspections ...")
	end, err := r.check(ctx)
	if err != nil {
		return err
	}
	delays := r.delays(ready, samples[len(samples)-1].at)
	if r.s.delaysCSV != "" {
		if err := os.WriteFile(r.s.delaysCSV, []byte(delays.csv), 0o644); err != nil {
			return err
		}
	}
	info.load1 = loadAverage()
	reads, overflow, bad := r.watch.stats()
	rep := &report{
		h: info, setup: setup, syncTime: syncTime, syncRequests: len(syncRequests), phases: phases, samples: samples,
		requests: reqs, delays: delays, end: end, watchReads: reads, watchOverflow: overflow, watchBad: bad,
		binSize: fileSize(bin), inspections: r.timed.inspections(ready, samples[len(samples)-1].at, r.track),
	}
	for i := range phases {
		rep.waited = append(rep.waited, r.timed.inspections(samples[i].at, samples[i+1].at, r.track).sum)
	}
	// The agent is stopped last, as a user would stop it, and says so.
	rep.stop = r.stopAgent()
	rep.proxyErrors = int(r.proxyErrors.n.Load())
	if v, ok := r.proxyErrors.last.Load().(string); ok {
		rep.proxyLastError = v
	}
	all.add(r.proxy.Take())
	rep.all = all
	rep.warnings = agentWarnings(r.agentLog)
	rep.print(os.Stdout)
	return nil
}

// engineSocket is the engine's unix socket as the docker CLI would find it
// through DOCKER_HOST.
func engineSocket() (string, error) {
	h := os.Getenv("DOCKER_HOST")
	if h == "" {
		return "/var/run/docker.sock", nil
	}
	if p, ok := strings.CutPrefix(h, "unix://"); ok {
		return p, nil
	}
	return "", fmt.Errorf("DOCKER_HOST=%s: the benchmark needs the engine on a unix socket", h)
}

// build makes portenv as it is released: static, stripped, without file
// paths.
func (r *run) build() (string, error) {
	root, err := exec.Command("go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(root))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run from within the portenv module (go env GOMOD: %v)", err)
	}
	bin := filepath.Join(r.tmp, "portenv")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, "./cmd/portenv")
	cmd.Dir = filepath.Dir(mod)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// makeImage imports an image of the static busybox, its sh and sleep,
// and nothing else.
func (r *run) makeImage(ctx context.Context) error {
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("the containers run a static busybox (Debian's busybox-static): %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(busybox))},
	} {
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
	}
	if _, err := tw.Write(busybox); err != nil {
		return err
	}
	for _, name := range []string{"sh", "sleep"} {
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + name, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	r.image = "pe-agentload:" + r.id
	ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := r.eng.importImage(ictx, "pe-agentload", r.id, buf.Bytes()); err != nil {
		return err
	}
	r.defer_(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.eng.removeImage(ctx, r.image); err != nil {
			fmt.Fprintf(os.Stderr, "agent-bench: removing the image %s: %v\n", r.image, err)
		}
	})
	return nil
}

// The kinds of container, by their number n: restart policies on one in
// ten each, and a mix of published ports.
const (
	crashEvery = 10 // n%10 == 0: exits with status 1 after a few seconds, restart policy on-failure
)

func policyOf(n int64) string {
	switch n % 10 {
	case 0:
		return "on-failure"
	case 1:
		return "always"
	case 2:
		return "unless-stopped"
	}
	return ""
}

// spec is the n-th container: a sleep, or for a crasher a short sleep
// that ends in failure; ports published on 127.0.0.1 mostly, some on
// every address (an IPv4 and an IPv6 binding) and some none.
func (r *run) spec(n int64) *createSpec {
	cmd := []string{"/bin/sleep", "86400"}
	if n%crashEvery == 0 {
		// 4 to 12 s: those over 10 s reset the engine's restart backoff.
		cmd = []string{"/bin/sh", "-c", fmt.Sprintf("sleep %d; exit 1", 4+n/crashEvery%9)}
	}
	sp := &createSpec{
		Image:  r.image,
		Cmd:    cmd,
		Env:    []string{"PATH=/bin"},
		Labels: map[string]string{labelKey: r.id},
		HostConfig: hostConfig{
			PortBindings:  map[string][]portBinding{},
			RestartPolicy: restartPolicy{Name: policyOf(n)},
		},
		ExposedPorts: map[string]struct{}{},
	}
	publish := func(port, ip string) {
		sp.ExposedPorts[port] = struct{}{}
		sp.HostConfig.PortBindings[port] = []portBinding{{HostIP: ip}}
	}
	switch n % 6 {
	case 0, 1, 2:
		publish("80/tcp", "127.0.0.1")
	case 3:
		publish("80/tcp", "127.0.0.1")
		publish("53/udp", "127.0.0.1")
	case 4:
		publish("80/tcp", "")
	}
	return sp
}

// startOne creates and starts the next container, and adds it to the
// pool.
func (r *run) startOne(ctx context.Context) error {
	n := r.names.Add(1) - 1
	name := fmt.Sprintf("pe-agentload-%s-%d", r.id, n)
	cctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	id, err := r.eng.create(cctx, name, r.spec(n))
	if err != nil {
		return err
	}
	if err := r.eng.start(cctx, id); err != nil {
		r.eng.remove(context.Background(), id)
		return err
	}
	r.pool.add(id)
	return nil
}

type setupResult struct {
	n      int
	took   time.Duration
	failed int
	last   string // the last failure
}

// setup starts the containers that run before the agent, parallel
// requests at most at a time. A start that fails is tried again with
// another container: an engine may pick a host port that something else
// holds (two engines on one host share the ephemeral range). Too many
// failures end the run.
func (r *run) setup(ctx context.Context) (setupResult, error) {
	start := time.Now()
	var res setupResult
	var mu sync.Mutex
	limit := max(10, r.s.containers/10)
	claimed := 0 // started or being started
	var wg sync.WaitGroup
	for range r.s.parallel {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				if claimed >= r.s.containers || res.failed > limit {
					mu.Unlock()
					return
				}
				claimed++
				mu.Unlock()
				err := r.startOne(ctx)
				mu.Lock()
				if err != nil {
					claimed--
					res.failed++
					res.last = err.Error()
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.failed > limit {
		return res, fmt.Errorf("starting the containers: %d failed, the last: %s", res.failed, res.last)
	}
	res.n, res.took = r.pool.size(), time.Since(start)
	return res, nil
}

// startAgent runs portenv agent with the proxy as its engine, its log in
// a file.
func (r *run) startAgent(bin, proxySock string) error {
	r.agentLog = filepath.Join(r.tmp, "agent.log")
	logf, err := os.Create(r.agentLog)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "agent", "--dir", r.dir)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "DOCKER_HOST=unix://" + proxySock}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Should the benchmark die, so does the agent.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting portenv agent: %v", err)
	}
	logf.Close()
	r.agent = cmd
	r.exited = make(chan struct{})
	go func() {
		r.agentErr = cmd.Wait()
		close(r.exited)
	}()
	r.defer_(func() {
		select {
		case <-r.exited:
		default:
			r.stopAgent()
		}
	})
	return nil
}

// awaitMarker waits for the agent's first marker, which it writes once it
// has recorded every running container.
func (r *run) awaitMarker(ctx context.Context, since time.Time) (time.Duration, error) {
	marker := filepath.Join(r.dir, discover.MarkerFile)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(marker); err == nil {
			return time.Since(since), nil
		}
		select {
		case <-r.exited:
			return 0, fmt.Errorf("portenv agent ended (%v) before it marked its records:\n%s", r.agentErr, tail(r.agentLog, 20))
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("portenv agent wrote no marker within 2 minutes:\n%s", tail(r.agentLog, 20))
		}
	}
}

// stopResult is how the agent ended.
type stopResult struct {
	err       error
	took      time.Duration
	stoppedAt bool // its marker says it stopped
	killed    bool
}

// stopAgent sends SIGTERM and waits for the agent to exit, then kills it
// after 10 s.
func (r *run) stopAgent() stopResult {
	var res stopResult
	if r.agent == nil {
		return res
	}
	start := time.Now()
	r.agent.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		r.agent.Process.Kill()
		<-r.exited
		res.killed = true
	}
	res.took, res.err = time.Since(start), r.agentErr
	if data, err := os.ReadFile(filepath.Join(r.dir, discover.MarkerFile)); err == nil {
		res.stoppedAt = strings.Contains(string(data), `"stoppedAt"`)
	}
	return res
}

// removeContainers removes every container of the run, also those whose
// start failed half-way.
func (r *run) removeContainers() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	list, err := r.eng.list(ctx, r.label(), true)
	if err != nil {
		fmt.Fprintf(os.Stderr, "agent-bench: listing the containers to remove: %v; remove them with docker rm -f $(docker ps -aq -f label=%s)\n", err, r.label())
		return
	}
	if len(list) == 0 {
		return
	}
	fmt.Fprintf(os.Stderr, "removing %d containers ...\n", len(list))
	ids := make(chan string)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range r.s.parallel {
		wg.Go(func() {
			for id := range ids {
				if err := r.eng.remove(ctx, id); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	for _, c := range list {
		ids <- c.ID
	}
	close(ids)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		fmt.Fprintf(os.Stderr, "agent-bench: %d containers could not be removed; docker rm -f $(docker ps -aq -f label=%s)\n", n, r.label())
	}
}

// sample is the agent's state at a moment when it is idle.
type sample struct {
	at       time.Time
	mem      memory
	cpu      time.Duration
	requests int // requests sent from the first sample on
}

func (r *run) sample(at time.Time) (sample, error) {
	pid := r.agent.Process.Pid
	m, err := readMemory(pid)
	if err != nil {
		return sample{}, fmt.Errorf("the agent: %v", err)
	}
	c, err := readCPU(pid)
	if err != nil {
		return sample{}, fmt.Errorf("the agent: %v", err)
	}
	return sample{at: at, mem: m, cpu: c}, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

// requestCount counts the agent's requests by method and path, ids
// replaced by {id}.
type requestCount struct {
	total  int
	byKind map[string]int
	other  []string // requests other than GET and HEAD
}

func newRequestCount() *requestCount { return &requestCount{byKind: map[string]int{}} }

func (c *requestCount) add(reqs []string) {
	for _, req := range reqs {
		c.total++
		method, path, _ := strings.Cut(req, " ")
		if method != "GET" && method != "HEAD" {
			c.other = append(c.other, req)
		}
		parts := strings.Split(path, "/")
		for i, p := range parts {
			if len(p) == 64 {
				parts[i] = "{id}"
			}
		}
		c.byKind[method+" "+strings.Join(parts, "/")]++
	}
}

func gitRev() string {
	out, err := exec.Command("git", "describe", "--always", "--dirty").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// fsType names the file system of dir, as the records' speed depends on
// it (the agent syncs each record before renaming it into place).
func fsType(dir string) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "?"
	}
	switch st.Type {
	case 0xEF53:
		return "ext4"
	case 0x01021994:
		return "tmpfs"
	case 0x9123683E:
		return "btrfs"
	case 0x58465342:
		return "xfs"
	case 0x794c7630:
		return "overlayfs"
	}
	return fmt.Sprintf("file system type %#x", st.Type)
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// agentWarnings are the warning and error lines of the agent's log.
func agentWarnings(path string) []string {
	data, _ := os.ReadFile(path)
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "portenv: warning: ") || strings.HasPrefix(line, "portenv: agent: ") {
			out = append(out, line)
		}
	}
	return out
}
