package nats_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

const (
	prefix     = "portenv-nats-test-"
	labelKey   = "portenv-nats-test"
	numServers = 3
	hostIP     = "127.0.0.1" // PORTENV_HOST_IP: the host's address the test's clients use
	subject    = "portenv.demo.echo"

	// Requests of the failover loop: before server 1 is stopped, and
	// started after the client has reconnected. Every one must get its reply.
	before = 100
	after  = 100
	// A request without a reply within this time counts as lost.
	requestTimeout = time.Second
)

// TestNATSCluster builds the example image from its Dockerfile, runs three
// nats-server containers clustered over a network of the test's own, each
// published with -p 4222 on a host port the engine chooses, and checks with
// the NATS Go client on the host that the servers hand out their published
// 127.0.0.1 ports and that the client fails over through them. The same
// cluster without portenv must hand out container addresses instead; and
// docker-compose.yml scaled to 3 must give three distinct advertised ports.
func TestNATSCluster(t *testing.T) {
	requireEngine(t)
	run := randomID(t)
	image := buildImage(t, run)

	t.Run("with_portenv", func(t *testing.T) {
		c := startCluster(t, run+"-portenv", func(name, routes string) []string {
			return []string{
				"-e", "PORTENV_HOST_IP=" + hostIP,
				image, "--cluster_name=portenv-demo", "--cluster=nats://0.0.0.0:6222", "--routes=" + routes,
			}
		})
		checkDiscovery(t, c)
		checkFailover(t, c)
	})

	t.Run("without_portenv", func(t *testing.T) {
		// nats-server as it runs by default: no portenv, no advertised
		// address, the same cluster flags.
		c := startCluster(t, run+"-none", func(name, routes string) []string {
			return []string{
				"--entrypoint", "nats-server",
				image, "--cluster_name=portenv-demo", "--cluster=nats://0.0.0.0:6222", "--routes=" + routes,
			}
		})
		checkContainerAddresses(t, c)
	})

	t.Run("compose_scale", func(t *testing.T) {
		checkComposeScale(t, run, image)
	})
}

// server is one running nats-server container.
type server struct {
	index    int // 1-based
	name     string
	hostPort int    // host port of 4222/tcp, from `docker port`
	ip       string // address on the test's network, from `docker inspect`
}

func (s server) addr() string { return net.JoinHostPort(hostIP, strconv.Itoa(s.hostPort)) }
func (s server) url() string  { return "nats://" + s.addr() }

// cluster is the servers of one run and the network they share.
type cluster struct {
	network string
	servers []server
}

// startCluster runs numServers containers on a new network, each published
// with -p 4222 and with the Docker socket mounted. Every server gets the
// same --routes, naming all of them (a server ignores the route to itself).
// args returns the rest of the docker run arguments: options, the image and
// nats-server's arguments.
func startCluster(t *testing.T, run string, args func(name, routes string) []string) cluster {
	t.Helper()
	network := prefix + run
	mustDocker(t, "network", "create", "--label", labelKey+"="+run, network)
	cleanup(t, "network", "rm", network)

	var names, routes []string
	for i := 1; i <= numServers; i++ {
		name := fmt.Sprintf("%s%s-%d", prefix, run, i)
		names = append(names, name)
		routes = append(routes, "nats://"+name+":6222")
	}
	var c cluster
	c.network = network
	for i, name := range names {
		runArgs := []string{
			"run", "-d", "--name", name, "--label", labelKey + "=" + run,
			"--network", network,
			"-p", "4222",
			"-v", "/var/run/docker.sock:/var/run/docker.sock:ro",
		}
		mustDocker(t, append(runArgs, args(name, strings.Join(routes, ","))...)...)
		// Registered per container, so that containers go before their network.
		cleanup(t, "rm", "-f", "-v", name)
		c.servers = append(c.servers, server{index: i + 1, name: name})
	}
	for i := range c.servers {
		s := &c.servers[i]
		s.hostPort = dockerPort(t, s.name)
		s.ip = mustDocker(t, "inspect", "--format", fmt.Sprintf("{{(index .NetworkSettings.Networks %q).IPAddress}}", network), s.name)
		if net.ParseIP(s.ip) == nil {
			t.Fatalf("%s: no address on %s: %q", s.name, network, s.ip)
		}
		t.Logf("server %d %s: 4222/tcp published on host port %d; address on %s: %s", s.index, s.name, s.hostPort, network, s.ip)
	}
	waitCluster(t, c.servers)
	return c
}

// dockerPort returns the host port of 4222/tcp as `docker port` prints it on
// its IPv4 line (0.0.0.0:32769), independently of portenv.
func dockerPort(t *testing.T, name string) int {
	t.Helper()
	out := mustDocker(t, "port", name, "4222/tcp")
	for _, line := range strings.Split(out, "\n") {
		host, port, err := net.SplitHostPort(strings.TrimSpace(line))
		if err != nil || net.ParseIP(host).To4() == nil {
			continue
		}
		n, err := strconv.Atoi(port)
		if err != nil || n <= 0 || n > 65535 {
			t.Fatalf("docker port %s 4222/tcp: bad port in %q", name, line)
		}
		return n
	}
	t.Fatalf("docker port %s 4222/tcp prints no IPv4 binding: %q", name, out)
	return 0
}

// info is the part of a server's INFO line the test reads.
type info struct {
	ServerID    string   `json:"server_id"`
	Host        string   `json:"host"`
	Port        int      `json:"port"`
	ConnectURLs []string `json:"connect_urls"`
}

func (i info) advertised() string { return net.JoinHostPort(i.Host, strconv.Itoa(i.Port)) }

// readINFO connects to addr and returns the INFO line the server sends
// first to every client.
func readINFO(addr string) (info, error) {
	var in info
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return in, err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return in, fmt.Errorf("reading INFO from %s: %v", addr, err)
	}
	body, ok := strings.CutPrefix(strings.TrimSpace(line), "INFO ")
	if !ok {
		return in, fmt.Errorf("%s sent %q, not INFO", addr, line)
	}
	if err := json.Unmarshal([]byte(body), &in); err != nil {
		return in, fmt.Errorf("INFO from %s: %v: %s", addr, err, body)
	}
	slices.Sort(in.ConnectURLs)
	return in, nil
}

// waitCluster waits until every server's INFO names numServers connect
// URLs, that is until each one knows the whole cluster. A container that
// stops fails the test with its logs.
func waitCluster(t *testing.T, servers []server) {
	t.Helper()
	start := time.Now()
	deadline := start.Add(60 * time.Second)
	for _, s := range servers {
		for {
			in, err := readINFO(s.addr())
			if err == nil && len(in.ConnectURLs) == len(servers) {
				break
			}
			if state := mustDocker(t, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", s.name); !strings.HasPrefix(state, "running") {
				t.Fatalf("%s is %s; logs:\n%s", s.name, state, logs(s.name))
			}
			if time.Now().After(deadline) {
				t.Fatalf("server %d at %s does not know the cluster after %s (INFO %+v, %v); logs:\n%s",
					s.index, s.addr(), time.Since(start).Round(time.Millisecond), in, err, logs(s.name))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	t.Logf("cluster formed: every server's INFO names %d servers (waited %s)", len(servers), time.Since(start).Round(time.Millisecond))
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// checkDiscovery asserts what every server advertises, then what a client
// that bootstraps through server 1 only discovers.
func checkDiscovery(t *testing.T, c cluster) {
	var all []string
	for _, s := range c.servers {
		all = append(all, s.addr())
	}
	all = sorted(all)
	for _, s := range c.servers {
		in, err := readINFO(s.addr())
		if err != nil {
			t.Fatal(err)
		}
		if in.advertised() != s.addr() {
			t.Errorf("server %d advertises %s, want %s (docker port)", s.index, in.advertised(), s.addr())
		}
		if !slices.Equal(in.ConnectURLs, all) {
			t.Errorf("server %d at %s hands out connect_urls %v, want %v (docker port)", s.index, s.addr(), in.ConnectURLs, all)
		}
		t.Logf("server %d at %s: INFO connect_urls %v", s.index, s.addr(), in.ConnectURLs)
	}
	if t.Failed() {
		t.FailNow()
	}

	s1 := c.servers[0]
	nc, err := nats.Connect(s1.url(), nats.Name("portenv-nats-test discovery"))
	if err != nil {
		t.Fatalf("connect to %s: %v", s1.url(), err)
	}
	defer nc.Close()
	var want []string
	for _, s := range c.servers[1:] {
		want = append(want, s.url())
	}
	want = sorted(want)
	got := sorted(nc.DiscoveredServers())
	if nc.ConnectedUrl() != s1.url() {
		t.Errorf("client connected to %s, want %s", nc.ConnectedUrl(), s1.url())
	}
	if !slices.Equal(got, want) {
		t.Fatalf("client bootstrapped through %s discovered %v, want the other servers' published ports %v", s1.url(), got, want)
	}
	t.Logf("client bootstrapped through %s only; discovered servers %v", s1.url(), got)
}

// result is one request of the failover loop.
type result struct {
	seq            int
	start          time.Time
	afterReconnect bool // started after the client had reconnected
	end            time.Time
	ok             bool
	err            error
}

// checkFailover runs a request/reply loop through a client bootstrapped
// through server 1 only, while a responder on server 2 answers. It stops
// server 1 after `before` answered requests and asserts that the client
// reconnects, on its own, to a discovered published address, and that
// every one of the `after` requests it starts after the reconnect gets its
// reply. Requests started while the client is cut off are counted and
// reported, not asserted: a request in flight on the stopped server can
// lose its reply.
func checkFailover(t *testing.T, c cluster) {
	s1, s2 := c.servers[0], c.servers[1]

	responder, err := nats.Connect(s2.url(), nats.Name("portenv-nats-test responder"))
	if err != nil {
		t.Fatalf("responder: connect to %s: %v", s2.url(), err)
	}
	defer responder.Close()
	var answeredMu sync.Mutex
	answered := map[string]int{} // payload -> replies sent
	if _, err := responder.Subscribe(subject, func(m *nats.Msg) {
		answeredMu.Lock()
		answered[string(m.Data)]++
		answeredMu.Unlock()
		m.Respond(m.Data)
	}); err != nil {
		t.Fatal(err)
	}
	if err := responder.Flush(); err != nil {
		t.Fatal(err)
	}

	var (
		mu           sync.Mutex
		disconnected time.Time
		reconnected  time.Time
		reconnectURL string
	)
	nc, err := nats.Connect(s1.url(),
		nats.Name("portenv-nats-test requester"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, _ error) {
			mu.Lock()
			defer mu.Unlock()
			if disconnected.IsZero() {
				disconnected = time.Now()
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			mu.Lock()
			defer mu.Unlock()
			if reconnected.IsZero() {
				reconnected = time.Now()
				reconnectURL = nc.ConnectedUrl()
			}
		}),
	)
	if err != nil {
		t.Fatalf("requester: connect to %s: %v", s1.url(), err)
	}
	defer nc.Close()
	discovered := sorted(nc.DiscoveredServers())

	// The responder's interest reaches server 1 over the route shortly
	// after its SUB; until then a request gets "no responders".
	deadline := time.Now().Add(10 * time.Second)
	for i := 1; ; i++ {
		_, err := nc.Request(subject, []byte("warm-up-"+strconv.Itoa(i)), requestTimeout)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reply through %s to %s on %s within 10s: %v", s1.url(), subject, s2.url(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	seq := 0
	request := func() result {
		seq++
		mu.Lock()
		r := result{seq: seq, start: time.Now(), afterReconnect: !reconnected.IsZero()}
		mu.Unlock()
		payload := "msg-" + strconv.Itoa(seq)
		reply, err := nc.Request(subject, []byte(payload), requestTimeout)
		switch {
		case err != nil:
			r.err = err
		case string(reply.Data) != payload:
			r.err = fmt.Errorf("reply %q to request %q", reply.Data, payload)
		default:
			r.ok = true
		}
		r.end = time.Now()
		return r
	}

	var all []result
	for i := 0; i < before; i++ {
		r := request()
		if !r.ok {
			t.Fatalf("request %d through %s, before any server stopped: %v", r.seq, nc.ConnectedUrl(), r.err)
		}
		all = append(all, r)
	}
	t.Logf("before the stop: %d requests through %s, %d replies", before, s1.url(), before)

	// The loop goes on while server 1 is stopped. The buffer holds every
	// result the loop can produce before it ends, so it never waits.
	results := make(chan result, 1<<20)
	done := make(chan struct{})
	go func() {
		defer close(results)
		gotAfter := 0
		loopDeadline := time.Now().Add(60 * time.Second)
		for gotAfter < after && time.Now().Before(loopDeadline) {
			select {
			case <-done:
				return
			default:
			}
			r := request()
			if r.afterReconnect {
				gotAfter++
			}
			results <- r
		}
	}()
	defer close(done)

	stopStart := time.Now()
	mustDocker(t, "stop", s1.name)
	stopReturned := time.Now()

	// Requests of the loop by when they started: before docker stop began,
	// between that and the reconnect, after the reconnect.
	var phase [3]struct{ n, ok int }
	var lastOK time.Time
	var maxGap time.Duration // longest time between two replies in the loop
	var failedAfter []string
	for r := range results {
		all = append(all, r)
		p := 1
		switch {
		case r.afterReconnect:
			p = 2
		case r.start.Before(stopStart):
			p = 0
		}
		phase[p].n++
		if r.ok {
			phase[p].ok++
		} else if p == 2 {
			failedAfter = append(failedAfter, fmt.Sprintf("request %d: %v", r.seq, r.err))
		}
		if r.ok {
			if !lastOK.IsZero() && r.end.Sub(lastOK) > maxGap {
				maxGap = r.end.Sub(lastOK)
			}
			lastOK = r.end
		}
	}

	mu.Lock()
	defer mu.Unlock()
	if disconnected.IsZero() || reconnected.IsZero() {
		t.Fatalf("stopping server 1 gave disconnect at %v, reconnect at %v; want both", disconnected, reconnected)
	}
	if !slices.Contains(discovered, reconnectURL) {
		t.Errorf("client reconnected to %s, want one of the discovered published addresses %v", reconnectURL, discovered)
	}
	if phase[2].n != after || phase[2].ok != after {
		t.Errorf("after the reconnect: %d requests, %d replies, want %d and %d; failed: %v", phase[2].n, phase[2].ok, after, after, failedAfter)
	}
	// The responder saw each answered request exactly once, and no request
	// more than once.
	answeredMu.Lock()
	for _, r := range all {
		n := answered["msg-"+strconv.Itoa(r.seq)]
		if n > 1 || (r.ok && n != 1) {
			t.Errorf("request %d (reply received: %v) reached the responder %d times", r.seq, r.ok, n)
		}
	}
	answeredMu.Unlock()

	t.Logf("server 1 stopped: docker stop %s took %s", s1.name, stopReturned.Sub(stopStart).Round(time.Millisecond))
	t.Logf("failover: client disconnected %s after docker stop began, reconnected to %s %s after the disconnect",
		disconnected.Sub(stopStart).Round(time.Millisecond), reconnectURL, reconnected.Sub(disconnected).Round(time.Millisecond))
	t.Logf("failover: longest time between two replies in the loop: %s", maxGap.Round(time.Millisecond))
	t.Logf("messages: %d requests %d replies before the loop; in the loop: started before docker stop %d/%d, between docker stop and the reconnect %d/%d, after the reconnect %d/%d (requests/replies)",
		before, before, phase[0].n, phase[0].ok, phase[1].n, phase[1].ok, phase[2].n, phase[2].ok)

	// The remaining servers stop handing out server 1.
	var want []string
	for _, s := range c.servers[1:] {
		want = append(want, s.addr())
	}
	want = sorted(want)
	deadline = time.Now().Add(10 * time.Second)
	for {
		in, err := readINFO(s2.addr())
		if err == nil && slices.Equal(in.ConnectURLs, want) {
			t.Logf("server 2 at %s now hands out connect_urls %v", s2.addr(), in.ConnectURLs)
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("server 2 at %s hands out %v (%v) 10s after server 1 stopped, want %v", s2.addr(), in.ConnectURLs, err, want)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkContainerAddresses is the negative control: without portenv each
// server hands out its address on the container network and port 4222,
// and a client bootstrapped through a published port is told those.
func checkContainerAddresses(t *testing.T, c cluster) {
	var internal, published, internalURLs []string
	for _, s := range c.servers {
		a := net.JoinHostPort(s.ip, "4222")
		internal = append(internal, a)
		internalURLs = append(internalURLs, "nats://"+a)
		published = append(published, s.addr())
	}
	internal, internalURLs = sorted(internal), sorted(internalURLs)
	for _, s := range c.servers {
		in, err := readINFO(s.addr())
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(in.ConnectURLs, internal) {
			t.Errorf("without portenv, server %d at %s hands out %v, want the container addresses %v", s.index, s.addr(), in.ConnectURLs, internal)
		}
		for _, u := range in.ConnectURLs {
			if slices.Contains(published, u) {
				t.Errorf("without portenv, server %d hands out the published address %s; the control cannot tell the difference", s.index, u)
			}
		}
		if in.Port != 4222 {
			t.Errorf("without portenv, server %d advertises port %d, want 4222", s.index, in.Port)
		}
		t.Logf("without portenv, server %d at %s: INFO host %s port %d, connect_urls %v", s.index, s.addr(), in.Host, in.Port, in.ConnectURLs)
	}
	if t.Failed() {
		t.FailNow()
	}

	// The client only reads what it is told; it sends nothing to those
	// addresses.
	s1 := c.servers[0]
	nc, err := nats.Connect(s1.url(), nats.Name("portenv-nats-test control"), nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect to %s: %v", s1.url(), err)
	}
	defer nc.Close()
	got := sorted(nc.DiscoveredServers())
	if !slices.Equal(got, internalURLs) {
		t.Fatalf("without portenv, client bootstrapped through %s discovered %v, want %v", s1.url(), got, internalURLs)
	}
	t.Logf("without portenv, client bootstrapped through %s discovered %v: container addresses, none of the published ports %v", s1.url(), got, published)
}

// checkComposeScale runs docker-compose.yml with --scale nats=3 and asserts
// that the three replicas advertise three distinct ports, each its own
// published one, and form one cluster.
func checkComposeScale(t *testing.T, run, image string) {
	compose := composeCommand(t)
	project := prefix + run + "-compose"
	env := append(os.Environ(), "NATS_IMAGE="+image, "DOCKER_HOST_IP="+hostIP)
	composeRun := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		full := append(slices.Clone(compose[1:]), append([]string{"-p", project, "-f", "docker-compose.yml"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, compose[0], full...)
		cmd.Env, cmd.Stdout, cmd.Stderr = env, &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s %s: %v: %s", compose[0], strings.Join(full, " "), err, strings.TrimSpace(stderr.String()))
		}
		return strings.TrimSpace(stdout.String()), nil
	}
	t.Cleanup(func() {
		if _, err := composeRun("down", "-v", "--remove-orphans"); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
	if _, err := composeRun("up", "-d", "--no-build", "--scale", "nats="+strconv.Itoa(numServers)); err != nil {
		t.Fatal(err)
	}

	var servers []server
	seen := map[int]bool{}
	for i := 1; i <= numServers; i++ {
		out, err := composeRun("port", "--index="+strconv.Itoa(i), "nats", "4222")
		if err != nil {
			t.Fatal(err)
		}
		_, port, err := net.SplitHostPort(out)
		n, perr := strconv.Atoi(port)
		if err != nil || perr != nil {
			t.Fatalf("compose port --index=%d nats 4222 printed %q", i, out)
		}
		if seen[n] {
			t.Fatalf("replicas share host port %d", n)
		}
		seen[n] = true
		id := mustDocker(t, "ps", "-aq",
			"--filter", "label=com.docker.compose.project="+project,
			"--filter", "label=com.docker.compose.service=nats",
			"--filter", "label=com.docker.compose.container-number="+strconv.Itoa(i))
		if id == "" || strings.Contains(id, "\n") {
			t.Fatalf("compose replica %d of project %s: containers %q, want one", i, project, id)
		}
		servers = append(servers, server{index: i, name: id, hostPort: n})
	}
	waitCluster(t, servers)

	var all []string
	for _, s := range servers {
		all = append(all, s.addr())
	}
	all = sorted(all)
	var advertised []string
	for _, s := range servers {
		in, err := readINFO(s.addr())
		if err != nil {
			t.Fatal(err)
		}
		if in.advertised() != s.addr() {
			t.Errorf("replica %d advertises %s, want %s (compose port)", s.index, in.advertised(), s.addr())
		}
		if !slices.Equal(in.ConnectURLs, all) {
			t.Errorf("replica %d at %s hands out connect_urls %v, want %v", s.index, s.addr(), in.ConnectURLs, all)
		}
		advertised = append(advertised, in.advertised())
		t.Logf("compose replica %d: published and advertised %s, connect_urls %v", s.index, in.advertised(), in.ConnectURLs)
	}
	if len(slices.Compact(sorted(advertised))) != numServers {
		t.Errorf("advertised addresses %v are not %d distinct ones", advertised, numServers)
	}
}

// composeCommand is docker-compose, or `docker compose` where only the
// plugin is installed.
func composeCommand(t *testing.T) []string {
	t.Helper()
	if _, err := exec.LookPath("docker-compose"); err == nil {
		return []string{"docker-compose"}
	}
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	t.Fatal("neither docker-compose nor 'docker compose' is installed; the --scale check needs one")
	return nil
}

// buildImage builds the example image from ./Dockerfile, unchanged. Its
// base images come from DEBIAN_IMAGE and PORTENV_IMAGE when set (as CI
// sets them: the engine here cannot pull); without PORTENV_IMAGE, the
// portenv image is built from the repository's Dockerfile first.
func buildImage(t *testing.T, run string) string {
	t.Helper()
	image := prefix + run + ":latest"
	args := []string{"build", "--force-rm", "-t", image}
	if v := os.Getenv("DEBIAN_IMAGE"); v != "" {
		args = append(args, "--build-arg", "DEBIAN_IMAGE="+v)
	}
	portenvImage := os.Getenv("PORTENV_IMAGE")
	if portenvImage == "" {
		portenvImage = prefix + run + "-portenv:latest"
		root, err := filepath.Abs(filepath.Join("..", ".."))
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		buildCmd(t, "build", "--force-rm", "-t", portenvImage, root)
		cleanup(t, "rmi", portenvImage)
		t.Logf("built %s from %s/Dockerfile in %s", portenvImage, root, time.Since(start).Round(time.Second))
	}
	args = append(args, "--build-arg", "PORTENV_IMAGE="+portenvImage, ".")
	start := time.Now()
	buildCmd(t, args...)
	cleanup(t, "rmi", image)
	t.Logf("built %s from ./Dockerfile (PORTENV_IMAGE=%s DEBIAN_IMAGE=%s) in %s",
		image, portenvImage, os.Getenv("DEBIAN_IMAGE"), time.Since(start).Round(time.Second))
	return image
}

// buildCmd runs docker build with the classic builder, which finds base
// images in the local store before any registry.
func buildCmd(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 40))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// docker runs the docker CLI and returns its trimmed stdout.
func docker(ctx context.Context, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "docker", args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := docker(ctx, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cleanup removes what the test created, and only that.
func cleanup(t *testing.T, args ...string) {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := docker(ctx, args...); err != nil {
			t.Logf("cleanup: %v", err)
		}
	})
}

func logs(name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "logs", "--tail", "40", name).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(docker logs %s: %v) %s", name, err, out)
	}
	return string(out)
}

// requireEngine skips the test when no Docker engine answers, unless
// PORTENV_E2E=1 asks for it to be a failure.
func requireEngine(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	v, err := docker(ctx, "version", "--format", "{{.Server.Version}}")
	if err == nil && v != "" {
		t.Logf("engine: Docker %s", v)
		return
	}
	msg := fmt.Sprintf("NO DOCKER ENGINE ANSWERS: the NATS cluster test did not run (%v)", err)
	if os.Getenv("PORTENV_E2E") == "1" {
		t.Fatal(msg + "; PORTENV_E2E=1 requires it")
	}
	t.Skip("SKIPPED: " + msg + "; set PORTENV_E2E=1 to make this a failure")
}

func randomID(t *testing.T) string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
