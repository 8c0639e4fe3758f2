// Command portenv-bench measures portenv's whole-process cost at container
// start against the docker CLI pipeline it replaces and against the least
// a program can do, on the local engine, and prints the figures with
// PASS/FAIL lines for portenv's budgets. Run from the repository root:
//
//	go run ./bench/cmd/portenv-bench [-n ROUNDS]
//
// It builds its programs, imports a throwaway image, starts one container
// with -p 9092, and removes both when it ends. A failed budget is printed,
// not an exit status: it exits non-zero only when it cannot measure.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func main() {
	rounds := flag.Int("n", 40, "measured `rounds`; each runs every program once, in a shuffled order")
	warmup := flag.Int("warmup", 3, "unmeasured rounds first")
	docker := flag.String("docker", "docker", "the docker CLI that manages the test container")
	var clis cliList
	flag.Var(&clis, "pipeline-cli", "a docker CLI `PATH` for the docker port pipeline; repeatable (default: /usr/bin/docker and /usr/local/bin/docker, those that exist)")
	baseline := flag.String("baseline", "", "also measure portenv as built from git `REV`, for a before/after table from one run")
	seed := flag.Uint64("seed", uint64(time.Now().UnixNano()), "seed of the run order")
	flag.Parse()
	if *rounds < 1 || *warmup < 0 {
		fmt.Fprintln(os.Stderr, "portenv-bench: -n must be at least 1 and -warmup at least 0")
		os.Exit(2)
	}
	if len(clis) == 0 {
		clis = defaultCLIs()
	}
	b := &bench{rounds: *rounds, warmup: *warmup, seed: *seed, clis: clis, baseline: *baseline}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	// A reader that goes away (| head) must not kill the benchmark before
	// it removes its container and image: writes fail instead.
	signal.Ignore(syscall.SIGPIPE)
	err := b.main(ctx, *docker)
	b.cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "portenv-bench:", err)
		os.Exit(1)
	}
}

type bench struct {
	rounds, warmup int
	seed           uint64

	docker   string   // absolute path of the CLI that manages the container
	clis     []string // the CLIs of the pipelines
	cliNames map[string]string
	baseline string // a git revision, or ""
	tmp      string
	bin      map[string]string // program name to its path on the host
	proxy    *countingProxy
	image    string
	ctr      string // container name
	id       string // container id
	hostPort string // the host port of 9092/tcp
	host     *launcher
	inside   *launcher
	cleanups []func()
}

func (b *bench) defer_(f func()) { b.cleanups = append(b.cleanups, f) }

func (b *bench) cleanup() {
	for i := len(b.cleanups) - 1; i >= 0; i-- {
		b.cleanups[i]()
	}
}

func (b *bench) main(ctx context.Context, docker string) error {
	var err error
	if b.docker, err = exec.LookPath(docker); err != nil {
		return err
	}
	if b.docker, err = filepath.Abs(b.docker); err != nil {
		return err
	}
	sock, err := engineSocket()
	if err != nil {
		return err
	}
	engine, err := b.dockerOut("version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})")
	if err != nil {
		return fmt.Errorf("no engine answers: %v", err)
	}
	b.cliNames = map[string]string{}
	var cliDesc []string
	for _, c := range b.clis {
		v, err := exec.Command(c, "version", "--format", "{{.Client.Version}}").Output()
		if err != nil {
			return fmt.Errorf("%s version: %v", c, err)
		}
		b.cliNames[c] = strings.TrimSpace(string(v))
		cliDesc = append(cliDesc, c+" "+b.cliNames[c])
	}

	if b.tmp, err = os.MkdirTemp("", "portenv-bench-"); err != nil {
		return err
	}
	b.defer_(func() { os.RemoveAll(b.tmp) })
	fmt.Fprintln(os.Stderr, "building ...")
	if err := b.build(); err != nil {
		return err
	}
	proxyDir := filepath.Join(b.tmp, "proxy")
	if err := os.Mkdir(proxyDir, 0o755); err != nil {
		return err
	}
	if b.proxy, err = startProxy(filepath.Join(proxyDir, "docker.sock"), sock); err != nil {
		return err
	}
	b.defer_(b.proxy.close)
	if err := b.startContainer(sock, proxyDir); err != nil {
		return err
	}
	if b.host, err = startLauncher(b.bin["launcher"], "serve"); err != nil {
		return err
	}
	b.defer_(b.host.stop)
	if b.inside, err = startLauncher(b.docker, "exec", "-i", b.ctr, "/launcher", "serve"); err != nil {
		return err
	}
	b.defer_(b.inside.stop)

	vs := b.variants(proxyDir)
	fmt.Fprintln(os.Stderr, "counting requests ...")
	for _, v := range vs {
		if err := b.count(v); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "measuring %d rounds after %d warm-up rounds ", b.rounds, b.warmup)
	rng := rand.New(rand.NewPCG(b.seed, 0))
	order := make([]*variant, len(vs))
	copy(order, vs)
	for r := 0; r < b.warmup+b.rounds; r++ {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, v := range order {
			res, err := b.runOnce(v, v.env)
			if err != nil {
				return err
			}
			if r >= b.warmup {
				v.walls = append(v.walls, time.Duration(res.WallNs))
				v.rss = append(v.rss, res.MaxRSSKiB)
				v.launcherKiB = max(v.launcherKiB, res.LauncherAnonKiB)
			}
		}
		fmt.Fprint(os.Stderr, ".")
	}
	fmt.Fprintln(os.Stderr)

	report(os.Stdout, reportInfo{
		engine: engine, cli: strings.Join(cliDesc, ", "), goVersion: runtime.Version(),
		cpus: runtime.NumCPU(), rounds: b.rounds, warmup: b.warmup, seed: b.seed,
	}, vs)
	return nil
}

// engineSocket is the engine's unix socket as the docker CLI would find it
// through DOCKER_HOST; the floor program and the proxy speak only unix.
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

func (b *bench) dockerOut(args ...string) (string, error) {
	cmd := exec.Command(b.docker, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// build makes every program as portenv is released: static, stripped,
// without file paths.
func (b *bench) build() error {
	root, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil || strings.TrimSpace(string(root)) == "" || strings.TrimSpace(string(root)) == os.DevNull {
		return fmt.Errorf("run from within the portenv module (go env GOMOD: %v)", err)
	}
	dir := filepath.Join(b.tmp, "bin")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", dir+"/",
		"./cmd/portenv", "./bench/floor", "./bench/hello", "./bench/launcher")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(root)))
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	b.bin = map[string]string{}
	for _, name := range []string{"portenv", "floor", "hello", "launcher"} {
		b.bin[name] = filepath.Join(dir, name)
	}
	if b.baseline == "" {
		return nil
	}
	// The baseline is built from its own tree, as it was at that revision.
	src := filepath.Join(b.tmp, "baseline")
	if err := os.Mkdir(src, 0o755); err != nil {
		return err
	}
	archive := exec.Command("sh", "-c", `git archive "$1" | tar -x -C "$2"`, "sh", b.baseline, src)
	archive.Dir = cmd.Dir
	if out, err := archive.CombinedOutput(); err != nil {
		return fmt.Errorf("git archive %s: %v\n%s", b.baseline, err, out)
	}
	b.bin["portenv-base"] = filepath.Join(dir, "portenv-base")
	base := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", b.bin["portenv-base"], "./cmd/portenv")
	base.Dir, base.Env = src, cmd.Env
	if out, err := base.CombinedOutput(); err != nil {
		return fmt.Errorf("go build of %s: %v\n%s", b.baseline, err, out)
	}
	return nil
}

// cliList collects -pipeline-cli.
type cliList []string

func (c *cliList) String() string     { return strings.Join(*c, ",") }
func (c *cliList) Set(v string) error { *c = append(*c, v); return nil }

// defaultCLIs are the distribution's CLI (the one matching its engine) and
// the current docker-ce CLI, where installed.
func defaultCLIs() []string {
	var out []string
	seen := map[string]bool{}
	for _, c := range []string{"/usr/bin/docker", "/usr/local/bin/docker"} {
		real, err := filepath.EvalSymlinks(c)
		if err == nil && !seen[real] {
			seen[real] = true
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		out = []string{"docker"}
	}
	return out
}

// startContainer imports an image of the launcher, portenv and the floor
// program, nothing else, and starts it with one published port, the
// engine's socket and the proxy's directory.
func (b *bench) startContainer(sock, proxyDir string) error {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, d := range []string{"tmp", "bench-proxy"} {
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o1777}); err != nil {
			return err
		}
	}
	for _, name := range []string{"launcher", "portenv", "floor", "portenv-base"} {
		if b.bin[name] == "" {
			continue
		}
		data, err := os.ReadFile(b.bin[name])
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(data))}); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	suffix := fmt.Sprintf("%d-%d", os.Getpid(), time.Now().UnixNano()%1e6)
	b.image = "portenv-bench:" + suffix
	imp := exec.Command(b.docker, "import", "-", b.image)
	imp.Stdin = &buf
	if out, err := imp.CombinedOutput(); err != nil {
		return fmt.Errorf("docker import: %v: %s", err, out)
	}
	b.defer_(func() { exec.Command(b.docker, "rmi", "-f", b.image).Run() })

	b.ctr = "portenv-bench-" + suffix
	b.defer_(func() { exec.Command(b.docker, "rm", "-f", "-v", b.ctr).Run() })
	id, err := b.dockerOut("run", "-d", "--name", b.ctr, "-p", "9092",
		"-v", sock+":/var/run/docker.sock", "-v", proxyDir+":/bench-proxy",
		b.image, "/launcher", "idle")
	if err != nil {
		return err
	}
	b.id = id
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := b.dockerOut("inspect", "-f", "{{json .NetworkSettings.Ports}}", b.ctr)
		if err != nil {
			return err
		}
		var ports map[string][]struct{ HostIp, HostPort string }
		if err := json.Unmarshal([]byte(out), &ports); err != nil {
			return fmt.Errorf("docker inspect: %v", err)
		}
		for _, p := range ports["9092/tcp"] {
			if !strings.Contains(p.HostIp, ":") && p.HostPort != "" {
				b.hostPort = p.HostPort
				return nil
			}
		}
		if time.Now().After(deadline) {
			state, _ := b.dockerOut("inspect", "-f", "{{.State.Status}} {{.State.Error}}", b.ctr)
			return fmt.Errorf("the engine did not publish 9092/tcp of the test container (state: %s)", state)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// variant is one program measured, on one side of the container wall.
type variant struct {
	name       string
	inside     bool
	path       string
	argv       []string
	env        []string // for timed runs
	countEnv   []string // for the counting run: DOCKER_HOST is the proxy
	expect     string   // stdout must hold it
	size       int64    // of the program's binary; 0 for the pipeline
	sizeNote   string
	isPortenv  bool
	isPipeline bool

	requests    []string
	walls       []time.Duration
	rss         []int64
	launcherKiB int64
}

// Variant names, also used for the ratios and budgets.
const (
	vHello         = "hello, static Go"
	vFloor         = "floor, host"
	vPortenv       = "portenv --container, host"
	vPipeline      = "docker port | sed | head"
	vFloorIn       = "floor, in container"
	vPortenvSelfIn = "portenv, in container"
	vBaseSuffix    = " (baseline)"
)

func (b *bench) variants(proxyDir string) []*variant {
	hostEnv := []string{"PATH=" + os.Getenv("PATH")}
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k == "HOME" || (strings.HasPrefix(k, "DOCKER_") && k != "DOCKER_HOST") {
			hostEnv = append(hostEnv, kv)
		}
	}
	hostTimed := append(hostEnv[:len(hostEnv):len(hostEnv)], "DOCKER_HOST="+"unix://"+mustSocket())
	hostCount := append(hostEnv[:len(hostEnv):len(hostEnv)], "DOCKER_HOST=unix://"+filepath.Join(proxyDir, "docker.sock"))
	inTimed := []string{"PATH=/"}
	inCount := []string{"PATH=/", "DOCKER_HOST=unix:///bench-proxy/docker.sock"}
	portenvArgs := []string{"--port", "KAFKA_ADVERTISED_PORT=9092"}
	portenvExpect := "export KAFKA_ADVERTISED_PORT='" + b.hostPort + "'"
	vs := []*variant{
		{name: vHello, path: b.bin["hello"], argv: []string{"hello"}, env: hostTimed, countEnv: hostCount, expect: "hello", size: fileSize(b.bin["hello"])},
		{name: vFloor, path: b.bin["floor"], argv: []string{"floor", b.id}, env: hostTimed, countEnv: hostCount, expect: b.hostPort + "\n", size: fileSize(b.bin["floor"])},
		{name: vPortenv, path: b.bin["portenv"], argv: append([]string{"portenv", "--container", b.ctr}, portenvArgs...), env: hostTimed, countEnv: hostCount, expect: portenvExpect, size: fileSize(b.bin["portenv"]), isPortenv: true},
	}
	for _, c := range b.clis {
		pipeline := c + ` port ` + b.ctr + ` 9092 | sed -r "s/.*:(.*)/\1/g" | head -n1`
		vs = append(vs, &variant{name: vPipeline + ", CLI " + b.cliNames[c], path: "/bin/sh", argv: []string{"sh", "-c", pipeline}, env: hostTimed, countEnv: hostCount, expect: b.hostPort + "\n", size: fileSize(c), sizeNote: "(the CLI)", isPipeline: true})
	}
	vs = append(vs,
		&variant{name: vFloorIn, inside: true, path: "/floor", argv: []string{"floor", b.id}, env: inTimed, countEnv: inCount, expect: b.hostPort + "\n", size: fileSize(b.bin["floor"])},
		&variant{name: vPortenvSelfIn, inside: true, path: "/portenv", argv: append([]string{"portenv"}, portenvArgs...), env: inTimed, countEnv: inCount, expect: portenvExpect, size: fileSize(b.bin["portenv"]), isPortenv: true},
	)
	if base := b.bin["portenv-base"]; base != "" {
		vs = append(vs,
			&variant{name: vPortenv + vBaseSuffix, path: base, argv: append([]string{"portenv", "--container", b.ctr}, portenvArgs...), env: hostTimed, countEnv: hostCount, expect: portenvExpect, size: fileSize(base)},
			&variant{name: vPortenvSelfIn + vBaseSuffix, inside: true, path: "/portenv-base", argv: append([]string{"portenv"}, portenvArgs...), env: inTimed, countEnv: inCount, expect: portenvExpect, size: fileSize(base)},
		)
	}
	return vs
}

func mustSocket() string {
	s, _ := engineSocket()
	return s
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func (b *bench) runOnce(v *variant, env []string) (result, error) {
	l := b.host
	if v.inside {
		l = b.inside
	}
	res, err := l.run(request{Path: v.path, Argv: v.argv, Env: env})
	if err != nil {
		return res, fmt.Errorf("%s: %v", v.name, err)
	}
	if res.Status != 0 || !strings.Contains(res.Stdout, v.expect) {
		return res, fmt.Errorf("%s: exit status %d, stdout %q (want it to hold %q), stderr %q",
			v.name, res.Status, res.Stdout, v.expect, res.Stderr)
	}
	return res, nil
}

// count runs v once through the proxy to record the requests it makes.
func (b *bench) count(v *variant) error {
	b.proxy.take(b.id, b.ctr)
	if _, err := b.runOnce(v, v.countEnv); err != nil {
		return fmt.Errorf("through the counting proxy: %v", err)
	}
	v.requests = b.proxy.take(b.id, b.ctr)
	return nil
}
