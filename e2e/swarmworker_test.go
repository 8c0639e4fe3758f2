package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// workerEngine is a second Docker engine the test starts in a network
// namespace of its own, reached from the host over a veth pair, to join
// the main engine's Swarm as a worker.
type workerEngine struct {
	ns         string   // network namespace, /run/netns/<ns>
	hostIP, ip string   // the host's end of the veth pair, and the worker's
	dir        string   // data root, exec root, pid file, socket
	sock, host string   // its API socket, and as -H / DOCKER_HOST writes it
	nodeID     string   // in the Swarm, once joined
	args       []string // nsenter's, which start its dockerd
	held       *os.File // the socket, when the test holds it (holdSocket)
}

func (w *workerEngine) docker(t *testing.T, args ...string) string {
	t.Helper()
	return enginetest.Docker(t, append([]string{"-H", w.host}, args...)...)
}

// vethSubnet picks a /30 in 10.231.0.0/16 whose /24 overlaps no address
// and no route of the machine (every table), so that the veth pair can
// neither take traffic meant elsewhere nor cut the machine off.
func vethSubnet(t *testing.T) (hostIP, workerIP string) {
	t.Helper()
	var taken []*net.IPNet
	for _, args := range [][]string{{"-4", "-o", "addr", "show"}, {"-4", "route", "show", "table", "all"}} {
		out, err := exec.Command("ip", args...).Output()
		if err != nil {
			t.Fatalf("ip %s: %v", strings.Join(args, " "), err)
		}
		// Every address or prefix named anywhere in the output is taken;
		// "default" is a word, not 0.0.0.0/0, and is passed over.
		for _, f := range strings.Fields(string(out)) {
			if _, n, err := net.ParseCIDR(f); err == nil {
				if ones, _ := n.Mask.Size(); ones > 0 {
					taken = append(taken, n)
				}
			} else if ip := net.ParseIP(f).To4(); ip != nil {
				taken = append(taken, &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)})
			}
		}
	}
next:
	for i := 0; i < 256; i++ {
		block := &net.IPNet{IP: net.IPv4(10, 231, byte(i), 0).To4(), Mask: net.CIDRMask(24, 32)}
		for _, n := range taken {
			if n.Contains(block.IP) || block.Contains(n.IP) {
				continue next
			}
		}
		return fmt.Sprintf("10.231.%d.1", i), fmt.Sprintf("10.231.%d.2", i)
	}
	t.Fatalf("every /24 of 10.231.0.0/16 overlaps an address or route of this machine")
	return "", ""
}

func ipCmd(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// startWorker makes the network namespace and the veth pair, and starts
// dockerd in that namespace (nsenter --net, not `ip netns exec`, whose
// remount of /sys hides the cgroup mounts) with its own data root, exec
// root, pid file and socket. Its containerd is its own too: dockerd starts
// one under its exec root when no system containerd socket is there, and
// would otherwise keep to its own containerd namespaces. All of it goes
// when the test ends.
func startWorker(t *testing.T) *workerEngine {
	t.Helper()
	hostIP, ip := vethSubnet(t)
	return startWorkerAt(t, hostIP, ip)
}

// startWorkerAt starts the worker with the host's end of the veth pair at
// hostIP and its own at ip; dockerdArgs are added to dockerd's own.
func startWorkerAt(t *testing.T, hostIP, ip string, dockerdArgs ...string) *workerEngine {
	t.Helper()
	w := newWorker(t, hostIP, ip, dockerdArgs...)
	w.start(t)
	return w
}

// newWorker is startWorkerAt up to the start of dockerd.
func newWorker(t *testing.T, hostIP, ip string, dockerdArgs ...string) *workerEngine {
	t.Helper()
	if os.Geteuid() != 0 {
		unmet(t, "the Swarm worker test makes a network namespace and starts a second dockerd, which needs root")
	}
	for _, c := range []string{"ip", "nsenter", "dockerd"} {
		if _, err := exec.LookPath(c); err != nil {
			unmet(t, c+" is not installed (iproute2, util-linux, docker.io)")
		}
	}
	id := fmt.Sprintf("%05d", time.Now().UnixNano()/1000%100000)
	w := &workerEngine{ns: "pe-worker-" + id}
	hostIf, workerIf := "pe-w"+id+"h", "pe-w"+id+"w"
	w.hostIP, w.ip = hostIP, ip

	ipCmd(t, "netns", "add", w.ns)
	t.Cleanup(func() {
		// A namespace is freed some time after its last user goes, and its
		// interfaces with it; deleting one end of the pair is immediate.
		exec.Command("ip", "-n", w.ns, "link", "delete", workerIf).Run()
		if out, err := exec.Command("ip", "netns", "delete", w.ns).CombinedOutput(); err != nil {
			t.Errorf("ip netns delete %s: %v: %s", w.ns, err, out)
		}
		if exec.Command("ip", "link", "show", hostIf).Run() == nil {
			t.Errorf("veth %s is still there after its peer was deleted", hostIf)
			exec.Command("ip", "link", "delete", hostIf).Run()
		}
	})
	ipCmd(t, "link", "add", hostIf, "type", "veth", "peer", "name", workerIf, "netns", w.ns)
	ipCmd(t, "addr", "add", w.hostIP+"/30", "dev", hostIf)
	ipCmd(t, "link", "set", hostIf, "up")
	ipCmd(t, "-n", w.ns, "addr", "add", w.ip+"/30", "dev", workerIf)
	ipCmd(t, "-n", w.ns, "link", "set", workerIf, "up")
	ipCmd(t, "-n", w.ns, "link", "set", "lo", "up")

	dir, err := os.MkdirTemp("", "pe-worker")
	if err != nil {
		t.Fatal(err)
	}
	w.dir = dir
	t.Cleanup(func() {
		unmountUnder(t, dir)
		os.RemoveAll(dir)
	})
	config := filepath.Join(dir, "daemon.json")
	if err := os.WriteFile(config, []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.sock = filepath.Join(dir, "docker.sock")
	w.host = "unix://" + w.sock
	w.args = append([]string{"--net=/run/netns/" + w.ns, "--",
		"dockerd", "--config-file", config,
		"--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "docker.pid"), "-H", w.host,
		"--containerd-namespace", "pe-worker", "--containerd-plugins-namespace", "pe-worker-plugins"}, dockerdArgs...)
	return w
}

// start starts the worker's dockerd with w.args and waits until it
// answers; it is stopped when the test ends.
func (w *workerEngine) start(t *testing.T) {
	t.Helper()
	cmd := exec.Command("nsenter", w.args...)
	if w.held != nil {
		// As systemd passes its socket: fd 3, and LISTEN_PID naming the
		// process, which nsenter (no --fork) and exec keep.
		cmd = exec.Command("sh", append([]string{"-c", `export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"`, "sh", "nsenter"}, w.args...)...)
		cmd.ExtraFiles = []*os.File{w.held}
	}
	startService(t, cmd, w.sock, 60*time.Second, 30*time.Second)
}

// holdSocket makes the test hold the worker's socket and hand it to each
// dockerd it starts (-H fd://), as systemd's docker.socket does: the
// socket stays while dockerd is stopped, and a connection made then
// waits until a dockerd serves it. Call it before start.
func (w *workerEngine) holdSocket(t *testing.T) {
	t.Helper()
	l, err := net.Listen("unix", w.sock)
	if err != nil {
		t.Fatal(err)
	}
	f, err := l.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close(); l.Close() })
	w.held = f
	for i, a := range w.args {
		if a == w.host && w.args[i-1] == "-H" {
			w.args[i] = "fd://"
		}
	}
}

// stop stops the worker's dockerd as a service manager does: SIGTERM to
// the process its pid file names. It returns once that process has
// exited, which is after dockerd has stopped its containers.
func (w *workerEngine) stop(t *testing.T) {
	t.Helper()
	pidFile := filepath.Join(w.dir, "docker.pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("the worker's dockerd has no pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		t.Fatalf("%s holds %q, not a process id", pidFile, data)
	}
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM to the worker's dockerd (pid %d): %v", pid, err)
	}
	// startService waits for the process, so once it has exited the pid
	// names no process.
	deadline := time.Now().Add(60 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("the worker's dockerd (pid %d) did not exit within 60s of SIGTERM", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// engineAnswer sends GET path to the engine at sock and returns the
// status of its answer and, for an error, the engine's message.
func engineAnswer(t *testing.T, sock, path string) (status int, message string) {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", sock)
		},
	}}
	resp, err := c.Get("http://engine" + path)
	if err != nil {
		t.Fatalf("GET %s on %s: %v", path, sock, err)
	}
	defer resp.Body.Close()
	var body struct{ Message string }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Message
}

// unmountUnder detaches whatever is still mounted below dir, deepest
// first, so that removing dir cannot reach into a mounted file system.
func unmountUnder(t *testing.T, dir string) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && strings.HasPrefix(fields[4], dir+"/") {
			points = append(points, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(points)))
	for _, p := range points {
		t.Logf("%s still mounted after the worker stopped; detaching it", p)
		syscall.Unmount(p, syscall.MNT_DETACH)
	}
}

// join makes the worker a worker of the main engine's Swarm, and waits
// until the manager sees it ready.
func (w *workerEngine) join(t *testing.T, managerAddr string) {
	t.Helper()
	token := enginetest.Docker(t, "swarm", "join-token", "-q", "worker")
	w.docker(t, "swarm", "join", "--token", token, "--advertise-addr", w.ip, "--listen-addr", w.ip+":2377", managerAddr+":2377")
	t.Cleanup(func() {
		if _, errOut, err := enginetest.DockerResult("-H", w.host, "swarm", "leave", "--force"); err != nil {
			t.Errorf("docker -H %s swarm leave --force: %v: %s", w.host, err, errOut)
		}
	})
	w.nodeID = w.docker(t, "info", "--format", "{{.Swarm.NodeID}}")
	deadline := time.Now().Add(60 * time.Second)
	for {
		state, _, _ := enginetest.DockerResult("node", "inspect", w.nodeID, "--format", "{{.Spec.Role}} {{.Status.State}} {{.Status.Addr}}")
		if strings.TrimSpace(state) == "worker ready "+w.ip {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the manager does not see node %s as a ready worker at %s within 60s: %q", w.nodeID, w.ip, state)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// removeServiceWhenDone removes service svc through the manager when the
// test ends, and waits, bounded, for the worker to remove its task
// containers. Call it while DOCKER_HOST is still the manager's.
func (w *workerEngine) removeServiceWhenDone(t *testing.T, svc string) {
	t.Cleanup(func() {
		enginetest.DockerResult("service", "rm", svc)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			out, _, _ := enginetest.DockerResult("-H", w.host, "ps", "-aq", "--filter", "label=com.docker.swarm.service.name="+svc)
			if strings.TrimSpace(out) == "" {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Logf("task containers of %s still on the worker 60s after docker service rm", svc)
	})
}

// workerTask waits until the one task container of service svc on the
// engine DOCKER_HOST names is in state ("running", "exited"), and returns
// its id and name. manager is the manager's -H, for the diagnosis.
func workerTask(t *testing.T, svc, state, manager string) (id, name string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, _, _ := enginetest.DockerResult("ps", "-a", "--no-trunc", "--filter", "label=com.docker.swarm.service.name="+svc, "--format", "{{.ID}} {{.State}} {{.Names}}")
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if f := strings.Fields(lines[0]); len(lines) == 1 && len(f) == 3 && f[1] == state {
			return f[0], f[2]
		}
		if time.Now().After(deadline) {
			ps, _, _ := enginetest.DockerResult("-H", manager, "service", "ps", "--no-trunc", svc)
			t.Fatalf("the worker has no single %s task container of %s after 90s: %q\n%s", state, svc, out, ps)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// A real two-node Swarm: the main engine is the manager, and a second
// engine, in a network namespace of the test's, joins it as a worker over
// a veth pair. Tasks pinned to the worker have the worker's socket, whose
// engine refuses to read services.
func TestEngineSwarmWorker(t *testing.T) {
	enginetest.Require(t)
	manager := os.Getenv("DOCKER_HOST")
	if manager == "" {
		manager = "unix:///var/run/docker.sock"
	}
	// Everything, the choice of subnet too, in the Swarm tests' turn.
	lockSwarm(t)
	started := time.Now()
	w := startWorker(t)
	managerAddr, _ := swarmManager(t, w.hostIP)
	if managerAddr != w.hostIP {
		t.Fatalf("the engine is already a Swarm manager, at %s; the worker test makes its own Swarm on the veth pair and needs the engine in no Swarm", managerAddr)
	}
	w.join(t, managerAddr)
	enginetest.ImportImage(t, swarmImage, nil)
	copyImage(t, swarmImage, w.host)
	t.Logf("manager %s, worker %s (node %s) in network namespace %s, data in %s; ready with the image after %s",
		managerAddr, w.ip, w.nodeID, w.ns, w.dir, time.Since(started).Round(10*time.Millisecond))
	workerMount := "type=bind,source=" + w.sock + ",target=/var/run/docker.sock,readonly"

	// Ingress mode: the task's container has no bindings, and the worker
	// refuses GET /services/{id}: one line naming both fixes, exit 1.
	t.Run("ingress", func(t *testing.T) {
		svc := uniqueName("pe-worker-ingress")
		w.removeServiceWhenDone(t, svc)
		enginetest.Docker(t, "service", "create", "-d", "--no-resolve-image", "--name", svc,
			"--constraint", "node.id=="+w.nodeID, "--restart-condition", "none", "--stop-grace-period", "1s",
			"--publish", "target=9092", "--mount", workerMount,
			swarmImage, "portenv", "-v", "--", "sh", "-c", "env"+andWait)
		svcID := enginetest.Docker(t, "service", "inspect", "-f", "{{.ID}}", svc)
		if pub := published(t, svc); pub["9092/tcp"] == "" || pub["9092/tcp"] == "0" {
			t.Fatalf("service publishes %v, want 9092/tcp in ingress mode", pub)
		}
		// The worker's own words when asked for the service, in its
		// answer (the docker CLI words them its own way around).
		status, refusal := engineAnswer(t, w.sock, "/services/"+svcID)
		if status < 400 || refusal == "" {
			t.Fatalf("the worker answered GET /services/%s with %d %q; a worker refuses it", svcID, status, refusal)
		}

		enginetest.UseEngineAt(t, w.sock) // the rest of the subtest asks the worker
		id, name := workerTask(t, svc, "exited", manager)
		if code := enginetest.Docker(t, "inspect", "-f", "{{.State.ExitCode}}", id); code != "1" {
			t.Errorf("portenv exited %s, want 1", code)
		}
		out, errOut, _ := enginetest.DockerResult("logs", id)
		want := "portenv: container " + name + " is a task of Swarm service " + svc +
			", which has no published ports of its own (ingress mode), and the engine at unix:///var/run/docker.sock is a Swarm worker, which refuses to read the service (GET /services/" + svcID + ": " + refusal +
			"); publish the ports in host mode (--publish mode=host,target=9092, or mode: host in a stack file), or point DOCKER_HOST at a manager's API through a read-only socket proxy"
		if got := tail(errOut, 1); got != want || out != "" {
			t.Errorf("stdout %q, last line of stderr\n got %q\nwant %q\nstderr:\n%s", out, got, want, errOut)
		}
		found := "portenv: find container by mountinfo: container " + id[:12] + " (" + name + ") from /proc/self/mountinfo"
		if !strings.Contains(errOut, found) {
			t.Errorf("stderr lacks %q:\n%s", found, errOut)
		}
		t.Logf("ingress task on the worker, exit 1:\n%s", errOut)
	})

	// Host mode: the task's container has its own bindings on the worker,
	// read through the worker's socket; the service is not asked.
	t.Run("host", func(t *testing.T) {
		svc := uniqueName("pe-worker-host")
		w.removeServiceWhenDone(t, svc)
		enginetest.Docker(t, "service", "create", "-d", "--no-resolve-image", "--name", svc,
			"--constraint", "node.id=="+w.nodeID, "--stop-grace-period", "1s",
			"--publish", "mode=host,target=9092", "--mount", workerMount,
			swarmImage, "portenv", "-v", "--set", `ADVERTISED={{.Swarm.NodeAddr}}:{{port "9092"}}`,
			"--", "sh", "-c", "env"+andWait)

		enginetest.UseEngineAt(t, w.sock) // the rest of the subtest asks the worker
		id, name := workerTask(t, svc, "running", manager)
		out, errOut := enginetest.Output(t, id)
		_, port := dockerPort(t, id, "9092/tcp")
		assertVars(t, envOf(out), map[string]string{
			"HOST_PORT_9092": port,
			"ADVERTISED":     w.ip + ":" + port,
		})
		found := "portenv: find container by mountinfo: container " + id[:12] + " (" + name + ") from /proc/self/mountinfo"
		if !strings.Contains(errOut, found) || strings.Contains(errOut, "by swarm") {
			t.Errorf("stderr lacks %q or reads the service:\n%s", found, errOut)
		}
		t.Logf("host-mode task on the worker: docker port 9092/tcp -> %s; stderr:\n%s", port, errOut)
	})
}
