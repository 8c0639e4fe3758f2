package kafka_test

import (
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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/examples/kafka/check"
)

const (
	prefix       = "portenv-kafka-test-"
	labelKey     = "portenv-kafka-test"
	numBrokers   = 3
	containerTCP = "9092/tcp"
)

// TestKafkaCluster starts three broker containers behind portenv, each
// published with -p 9092 on a port the engine chooses, and checks with a
// Kafka client on the host that they form one cluster reachable at the
// published ports. The same cluster without portenv must fail.
func TestKafkaCluster(t *testing.T) {
	requireEngine(t)
	run := randomID(t)
	image := buildImage(t, run)

	t.Run("advertised_listeners", func(t *testing.T) {
		// The wurstmeister/kafka way for a listener: a template.
		c := startCluster(t, run+"-listeners", image, func(id int) []string {
			return []string{
				"-e", `PORTENV_SET_KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:{{port "9092"}}`,
				image, "--", "/broker",
			}
		})
		checkCluster(t, c)
	})

	t.Run("advertised_port", func(t *testing.T) {
		// The wurstmeister/kafka way for a port: --port, in place of
		// start-kafka.sh's `docker port` pipeline.
		c := startCluster(t, run+"-port", image, func(id int) []string {
			return []string{
				"-e", "KAFKA_ADVERTISED_HOST_NAME=127.0.0.1",
				image, "--port", "KAFKA_ADVERTISED_PORT=9092", "--", "/broker",
			}
		})
		checkCluster(t, c)
	})

	t.Run("docker_shim", func(t *testing.T) {
		// Keep the image, replace its docker CLI: portenv at
		// /usr/bin/docker, no portenv entrypoint, and shim/start-kafka.sh
		// unchanged. Brokers 0 and 2 get their port from the script's
		// classic `docker port "$(hostname)"` line; broker 1 from a
		// PORT_COMMAND placeholder. Custom hostnames name no container.
		shim := buildShimImage(t, run)
		c := startCluster(t, run+"-shim", shim, func(id int) []string {
			args := []string{"--hostname", fmt.Sprintf("kafka-%d", id)}
			if id == 1 {
				args = append(args,
					"-e", "PORT_COMMAND=docker port $(hostname) 9092/tcp | cut -d: -f2",
					"-e", "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:_{PORT_COMMAND}")
			} else {
				args = append(args, "-e", "KAFKA_ADVERTISED_HOST_NAME=127.0.0.1")
			}
			return append(args, shim)
		})
		checkCluster(t, c)
	})

	t.Run("socketless", func(t *testing.T) {
		// No broker has the socket: portenv agent, in its own container,
		// writes each container's record to a volume that the brokers
		// mount read-only, and portenv reads its own there (PORTENV_FROM).
		records := startAgent(t, run+"-socketless", image)
		c := startClusterWith(t, run+"-socketless", image, []string{"-v", records + ":/var/lib/portenv:ro", "-e", "PORTENV_FROM=/var/lib/portenv", "-e", "PORTENV_TIMEOUT=60s"}, func(id int) []string {
			return []string{
				"-e", `PORTENV_SET_KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:{{port "9092"}}`,
				image, "--", "/broker",
			}
		})
		for _, b := range c {
			if mounts := mustDocker(t, "inspect", "--format", `{{range .Mounts}}{{.Destination}} {{end}}`, b.name); strings.Contains(mounts, "docker.sock") {
				t.Fatalf("%s mounts %s", b.name, mounts)
			}
		}
		checkCluster(t, c)
	})

	t.Run("without_portenv", func(t *testing.T) {
		// The same cluster, started without portenv: each broker can only
		// advertise the port it listens on inside its container.
		c := startCluster(t, run+"-none", image, func(id int) []string {
			return []string{
				"--entrypoint", "/broker",
				"-e", "KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://127.0.0.1:9092",
				image,
			}
		})
		checkFails(t, c)
	})
}

// broker is one running broker container.
type broker struct {
	id       int
	name     string
	hostPort int // host port of 9092/tcp, as the engine reports it
}

func (b broker) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.hostPort)) }

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
	msg := fmt.Sprintf("NO DOCKER ENGINE ANSWERS: the Kafka cluster test did not run (%v)", err)
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

// buildImage builds a FROM scratch image holding two static binaries,
// portenv (as the entrypoint) and the broker.
func buildImage(t *testing.T, run string) string {
	t.Helper()
	return buildContext(t, run, run+":latest", "FROM scratch\nCOPY portenv /portenv\nCOPY broker /broker\nENTRYPOINT [\"/portenv\"]\n", nil)
}

// buildShimImage builds an image with no portenv entrypoint: busybox,
// shim/start-kafka.sh as its command in front of the broker, and portenv
// as its only docker, at /usr/bin/docker.
func buildShimImage(t *testing.T, run string) string {
	t.Helper()
	dockerfile := `FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
COPY portenv /usr/bin/docker
COPY broker /broker
COPY start-kafka.sh /start-kafka.sh
ENV PATH=/usr/bin:/bin
CMD ["/start-kafka.sh", "/broker"]
`
	return buildContext(t, run, run+"-shim:latest", dockerfile,
		map[string]string{"/bin/busybox": "busybox", filepath.Join("shim", "start-kafka.sh"): "start-kafka.sh"})
}

// buildContext builds image prefix+tag from dockerfile, in a context that
// holds portenv and the broker, built static for the engine's architecture,
// and the files of extra (a path here to its name in the context).
func buildContext(t *testing.T, run, tag, dockerfile string, extra map[string]string) string {
	t.Helper()
	arch := mustDocker(t, "version", "--format", "{{.Server.Arch}}")
	dir := t.TempDir()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	gobuild(t, root, filepath.Join(dir, "portenv"), "./cmd/portenv", arch)
	gobuild(t, ".", filepath.Join(dir, "broker"), "./broker", arch)
	for src, dest := range extra {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("the image %s needs %s (busybox-static for /bin/busybox): %v", tag, src, err)
		}
		if err := os.WriteFile(filepath.Join(dir, dest), data, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
		t.Fatal(err)
	}
	image := prefix + tag
	mustDocker(t, "build", "-q", "--label", labelKey+"="+run, "-t", image, dir)
	cleanup(t, "rmi", "-f", image)
	return image
}

func gobuild(t *testing.T, dir, out, pkg, arch string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s in %s: %v\n%s", pkg, dir, err, b)
	}
}

// startCluster runs numBrokers containers, each published with -p 9092,
// with the Docker socket and a volume shared by the brokers mounted. args
// returns the rest of the docker run arguments of broker id: options, the
// image, and the command.
func startCluster(t *testing.T, run, image string, args func(id int) []string) []broker {
	t.Helper()
	return startClusterWith(t, run, image, []string{"-v", "/var/run/docker.sock:/var/run/docker.sock"}, args)
}

// startAgent runs portenv agent with the Docker socket, writing the
// records to a new volume, and returns the volume's name.
func startAgent(t *testing.T, run, image string) string {
	t.Helper()
	volume := prefix + run + "-records"
	mustDocker(t, "volume", "create", "--label", labelKey+"="+run, volume)
	cleanup(t, "volume", "rm", "-f", volume)
	name := prefix + run + "-agent"
	mustDocker(t, "run", "-d", "--name", name, "--label", labelKey+"="+run,
		"-v", "/var/run/docker.sock:/var/run/docker.sock:ro", "-v", volume+":/var/lib/portenv", image, "agent", "--dir", "/var/lib/portenv")
	cleanup(t, "rm", "-f", "-v", name)
	return volume
}

// startClusterWith is startCluster where engine is how each broker
// learns its bindings: the socket, or the agent's records.
func startClusterWith(t *testing.T, run, image string, engine []string, args func(id int) []string) []broker {
	t.Helper()
	volume := prefix + run + "-peers"
	mustDocker(t, "volume", "create", "--label", labelKey+"="+run, volume)
	cleanup(t, "volume", "rm", "-f", volume)

	var bs []broker
	for id := 0; id < numBrokers; id++ {
		name := fmt.Sprintf("%s%s-broker-%d", prefix, run, id)
		runArgs := []string{
			"run", "-d", "--name", name, "--label", labelKey + "=" + run,
			"-p", "9092",
			"-v", volume + ":/peers",
			"-e", "KAFKA_BROKER_ID=" + strconv.Itoa(id),
			"-e", "KAFKA_NUM_BROKERS=" + strconv.Itoa(numBrokers),
			"-e", "KAFKA_TOPIC=" + check.Topic,
		}
		runArgs = append(runArgs, engine...)
		mustDocker(t, append(runArgs, args(id)...)...)
		// Registered per container, so that containers are removed
		// before the volume they use.
		cleanup(t, "rm", "-f", "-v", name)
		bs = append(bs, broker{id: id, name: name})
	}
	for i := range bs {
		bs[i].hostPort = publishedPort(t, bs[i].name)
	}
	for _, b := range bs {
		waitReady(t, b)
	}
	return bs
}

// publishedPort returns the host port the engine chose for 9092/tcp, read
// with docker inspect, independently of portenv.
func publishedPort(t *testing.T, name string) int {
	t.Helper()
	out := mustDocker(t, "inspect", "--format", "{{json .NetworkSettings.Ports}}", name)
	var ports map[string][]struct{ HostIp, HostPort string }
	if err := json.Unmarshal([]byte(out), &ports); err != nil {
		t.Fatalf("docker inspect %s: %v: %s", name, err, out)
	}
	bindings := ports[containerTCP]
	if len(bindings) == 0 {
		t.Fatalf("%s: %s is not published: %s", name, containerTCP, out)
	}
	port, err := strconv.Atoi(bindings[0].HostPort)
	if err != nil || port <= 0 {
		t.Fatalf("%s: bad host port in %s", name, out)
	}
	for _, b := range bindings[1:] {
		if b.HostPort != bindings[0].HostPort {
			t.Logf("%s: %s is published on different ports %s; using the first", name, containerTCP, out)
		}
	}
	return port
}

func logs(name string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "logs", name).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(docker logs %s: %v) %s", name, err, out)
	}
	return string(out)
}

// waitReady waits for the broker's "ready" line. If the container stops
// or never gets there, the test fails with its logs.
func waitReady(t *testing.T, b broker) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		l := logs(b.name)
		if strings.Contains(l, fmt.Sprintf("broker %d ready", b.id)) {
			return
		}
		if state := mustDocker(t, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", b.name); !strings.HasPrefix(state, "running") {
			t.Fatalf("%s is %s; logs:\n%s", b.name, state, l)
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s not ready after 90s; logs:\n%s", b.name, logs(b.name))
}

// checkCluster asserts, with the example's client, that the containers
// form one cluster at their published ports, and produces and consumes
// through every broker.
func checkCluster(t *testing.T, bs []broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	want := map[int32]string{}
	for _, b := range bs {
		want[int32(b.id)] = b.addr()
		t.Logf("container %s: 9092/tcp published on host port %d (docker inspect)", b.name, b.hostPort)
	}
	if err := check.Cluster(ctx, t.Logf, want, bs[0].addr()); err != nil {
		t.Fatal(err)
	}
}

// checkFails asserts that a client bootstrapped through a published port
// cannot produce to a cluster that advertises its container port.
func checkFails(t *testing.T, bs []broker) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	want := map[int32]string{}
	for _, b := range bs {
		want[int32(b.id)] = "127.0.0.1:9092"
		t.Logf("container %s: 9092/tcp published on host port %d (docker inspect)", b.name, b.hostPort)
	}
	if err := check.Fails(ctx, t.Logf, want, bs[0].addr()); err != nil {
		t.Fatalf("without portenv: %v", err)
	}
}
