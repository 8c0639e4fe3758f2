package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// podmanSocket is the Docker-compatible API socket the Podman test uses;
// the test starts `podman system service` on it unless it answers already.
// PORTENV_E2E_PODMAN_SOCKET names instead the socket of a Podman service
// that runs already, such as .ci/engines.sh's podman5, which the `podman`
// on PATH talks to: the test then starts none. Containers mount the socket
// by that path, so it must name the socket for the service too.
var podmanSocket = func() string {
	if s := os.Getenv("PORTENV_E2E_PODMAN_SOCKET"); s != "" {
		return s
	}
	return "/run/podman-portenv-test.sock"
}()

const podmanImage = "localhost/portenv-test:podman"

// requirePodman skips the test, loudly, when rootful Podman cannot run
// here; with PORTENV_E2E=1 it fails instead.
func requirePodman(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := exec.LookPath("podman"); err != nil {
		why = "podman is not installed (apt-get install podman, or .ci/podman-setup.sh)"
	} else if os.Geteuid() != 0 {
		why = "the Podman test runs rootful Podman and needs root"
	}
	if why == "" {
		return
	}
	if os.Getenv("PORTENV_E2E") == "1" {
		t.Fatalf("PORTENV_E2E=1 but %s", why)
	}
	t.Skipf("SKIPPING PODMAN TEST: %s; set PORTENV_E2E=1 to make this a failure", why)
}

func podman(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "podman", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Run(); err != nil {
		t.Fatalf("podman %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, o.String(), e.String())
	}
	return strings.TrimSpace(o.String())
}

func pingSocket(path string) error {
	c := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", path)
		},
	}}
	resp, err := c.Get("http://podman/_ping")
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// podmanService makes sure the API socket answers, starting `podman system
// service` if it does not and stopping it when the test ends.
func podmanService(t *testing.T) {
	t.Helper()
	if pingSocket(podmanSocket) == nil {
		return
	}
	if os.Getenv("PORTENV_E2E_PODMAN_SOCKET") != "" {
		t.Fatalf("no Podman service answers on %s (PORTENV_E2E_PODMAN_SOCKET); the test starts none of its own there", podmanSocket)
	}
	t.Cleanup(func() { os.Remove(podmanSocket) })
	startService(t, exec.Command("podman", "system", "service", "--time=0", "unix://"+podmanSocket), podmanSocket, 20*time.Second, 10*time.Second)
}

// podmanOutput waits, bounded, until container name printed
// enginetest.Marker, and returns what it printed before it.
func podmanOutput(t *testing.T, name string) (stdout, stderr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		cmd := exec.Command("podman", "logs", name)
		var o, e bytes.Buffer
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("podman logs %s: %v: %s", name, err, e.String())
		}
		if before, _, ok := strings.Cut(o.String(), enginetest.Marker+"\n"); ok {
			return before, e.String()
		}
		state, _ := exec.Command("podman", "inspect", "-f", "{{.State.Status}}", name).Output()
		if strings.TrimSpace(string(state)) == "exited" || time.Now().After(deadline) {
			t.Fatalf("container %s (%s) did not print %q\nstdout: %s\nstderr: %s", name, strings.TrimSpace(string(state)), enginetest.Marker, o.String(), e.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// podmanPort is the host port of container port ("9092/tcp") as `podman
// port` reports it, and the host address.
func podmanPort(t *testing.T, name, port string) (ip, hostPort string) {
	t.Helper()
	out := podman(t, nil, "port", name, port)
	line, _, _ := strings.Cut(out, "\n")
	i := strings.LastIndex(line, ":")
	if i < 0 {
		t.Fatalf("podman port %s %s: %q", name, port, out)
	}
	return line[:i], line[i+1:]
}

// Podman through its Docker-compatible socket, mounted where portenv looks
// by default: the bindings come from the compatible API, and the container
// is found through Podman's mountinfo layout
// (.../overlay-containers/<id>/userdata/...).
func TestEnginePodman(t *testing.T) {
	podmanSetup(t)
	podmanContainer(t, podmanSocket)
}

// podmanContainer runs portenv in a container of the Podman service that
// serves sock, with that socket mounted, and checks its variables against
// `podman port`.
func podmanContainer(t *testing.T, sock string) {
	t.Helper()
	name := uniqueName("portenv-e2e-podman")
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", "-t", "0", name).Run() })
	// Podman's default rlimits are above what a nested or limited host
	// allows runc to set; these fit anywhere.
	podman(t, nil, "run", "-d", "--name", name,
		"--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"-p", "9092", "-p", "127.0.0.1::53/udp",
		"-v", sock+":/var/run/docker.sock",
		podmanImage,
		"portenv", "-v", "--port", "KAFKA_ADVERTISED_PORT=9092", "--", "sh", "-c", "env; echo "+enginetest.Marker+"; exec sleep 600")
	out, errOut := podmanOutput(t, name)
	_, p9092 := podmanPort(t, name, "9092/tcp")
	ip53, p53 := podmanPort(t, name, "53/udp")
	if ip53 != "127.0.0.1" {
		t.Errorf("podman port %s 53/udp is on %q, want 127.0.0.1", name, ip53)
	}
	assertVars(t, envOf(out), map[string]string{
		"HOST_PORT_9092":        p9092,
		"HOST_PORT_53_UDP":      p53,
		"HOST_IP_53_UDP":        "127.0.0.1",
		"KAFKA_ADVERTISED_PORT": p9092,
	})
	id := podman(t, nil, "inspect", "-f", "{{.Id}}", name)
	want := "find container by mountinfo: container " + id[:12] + " (" + name + ") from /proc/self/mountinfo"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr does not say that mountinfo found the container; want %q in:\n%s", want, errOut)
	}
	t.Logf("podman port 9092/tcp -> %s, 53/udp -> 127.0.0.1:%s; identified by mountinfo as %s", p9092, p53, id[:12])
}

// podmanSetup makes sure Podman, its API socket and the test image are
// there for the rest of the test.
func podmanSetup(t *testing.T) {
	t.Helper()
	requirePodman(t)
	podmanService(t)
	podman(t, enginetest.RootfsTar(t), "import", "--change", "ENV PATH=/usr/local/bin:/bin", "-", podmanImage)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", podmanImage).Run() })
}

// In a Podman pod the mounts name two containers, the member (hostname,
// .containerenv) and the pod's infra container (hosts, resolv.conf), which
// holds the pod's network and its published ports. portenv takes the
// member, confirmed by its network mode, and reads the pod's bindings.
func TestEnginePodmanPod(t *testing.T) {
	podmanSetup(t)
	podmanPod(t, podmanSocket)
}

// podmanPod runs portenv in a member of a pod of the Podman service that
// serves sock, and checks that it reads the pod's bindings.
func podmanPod(t *testing.T, sock string) {
	t.Helper()
	// The infra container takes its rlimits from containers.conf, and
	// Podman's defaults are above what runc may set here.
	conf := filepath.Join(t.TempDir(), "containers.conf")
	if err := os.WriteFile(conf, []byte("[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONTAINERS_CONF", conf)

	pod := uniqueName("portenv-e2e-pod")
	podman(t, nil, "pod", "create", "--name", pod, "-p", "9092")
	t.Cleanup(func() { exec.Command("podman", "pod", "rm", "-f", "-t", "0", pod).Run() })
	name := pod + "-app"
	podman(t, nil, "run", "-d", "--name", name, "--pod", pod,
		"-v", sock+":/var/run/docker.sock", podmanImage,
		"portenv", "-v", "--set", "ME={{.Container.Name}}", "--", "sh", "-c", "env; echo "+enginetest.Marker+"; exec sleep 600")
	out, errOut := podmanOutput(t, name)
	_, p9092 := podmanPort(t, name, "9092/tcp")
	got := envOf(out)
	if got["HOST_PORT_9092"] != p9092 || got["ME"] != name {
		t.Errorf("HOST_PORT_9092=%q ME=%q, want %q and %q; stderr:\n%s", got["HOST_PORT_9092"], got["ME"], p9092, name, errOut)
	}
	id := podman(t, nil, "inspect", "-f", "{{.Id}}", name)
	want := "find container by mountinfo: container " + id[:12] + " (" + name + ") from /proc/self/mountinfo, which also names the container whose network it shares"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
	t.Logf("pod %s: podman port 9092/tcp -> %s; %s", pod, p9092, want)
}
