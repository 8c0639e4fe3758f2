package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// An image's own TIMEOUT, OUTPUT, FORMAT, PORTS ... configure nothing: the
// output is byte for byte the one without them, and nothing is written.
func TestEngineBareNamesChangeNothing(t *testing.T) {
	enginetest.Require(t)
	name := enginetest.Name(t, "bare")
	hostile := "CONTAINER=nope PORTS=A=9092 NO_AUTO=true PREFIX=/usr FORCE=true OUTPUT=/tmp/x.env FORMAT=json TEMPLATE=/etc/passwd " +
		"TIMEOUT=5 OPTIONAL=yes HOST_IP=nowhere DELIMS=x LOG_LEVEL=loud FROM=/nowhere"
	out, errOut := startKept(t, name, []string{"-v", socketMount, "-p", "9092", "-p", "127.0.0.1::53/udp"},
		"sh", "-c", "portenv; echo ===; env "+hostile+" portenv; echo ===; ls /tmp"+andWait)
	parts := strings.Split(out, "===\n")
	want := "export HOST_IP_53_UDP='127.0.0.1'\nexport HOST_PORT_53_UDP='" + enginetest.HostPort(t, name, "53/udp") +
		"'\nexport HOST_PORT_9092='" + enginetest.HostPort(t, name, "9092/tcp") + "'\n"
	note := enginetest.DualStackNote(t, name, "9092/tcp", "using")
	if len(parts) != 3 || parts[0] != want || parts[1] != want || parts[2] != "" || errOut != note+note {
		t.Errorf("got %q (stderr %q); want twice\n%s\nand no /tmp/x.env (stderr %q)", parts, errOut, want, note+note)
	}
}

// runTimed runs a container to its end and returns what it printed, its
// exit code and how long it took.
func runTimed(t *testing.T, name string, docker []string, command ...string) (stdout, stderr string, code int, took time.Duration) {
	t.Helper()
	start := time.Now()
	stdout, stderr, code = enginetest.Run(t, name, docker, command...)
	return stdout, stderr, code, time.Since(start)
}

// Network modes in which nothing can be published are decided from the
// inspection at once; --timeout 60s shows that nothing waits for it.
func TestEngineNetworkModes(t *testing.T) {
	enginetest.Require(t)
	t.Run("host", func(t *testing.T) {
		name := enginetest.Name(t, "net-host")
		out, errOut, code, _ := runTimed(t, name, []string{"-v", socketMount, "--network", "host", "-p", "9092", "--expose", "7000"},
			"portenv", "--format", "dotenv", "--port", "KAFKA_ADVERTISED_PORT=9092", "--set", "L=PLAINTEXT://{{addr 9092}}")
		want := "HOST_PORT_7000=7000\nHOST_PORT_9092=9092\nKAFKA_ADVERTISED_PORT=9092\nL=PLAINTEXT://0.0.0.0:9092\n"
		// The docker CLI's own warning comes first.
		errOut = strings.TrimPrefix(errOut, "WARNING: Published ports are discarded when using host network mode\n")
		wantErr := "portenv: container " + name + " uses the host's network, so the engine publishes nothing: its ports are reached on the host at their own numbers (7000/tcp at 7000, 9092/tcp at 9092)\n"
		if code != 0 || out != want || errOut != wantErr {
			t.Errorf("exit %d, stdout %q, stderr %q; want 0, %q, %q", code, out, errOut, want, wantErr)
		}
	})
	t.Run("none", func(t *testing.T) {
		name := enginetest.Name(t, "net-none")
		_, errOut, code, took := runTimed(t, name, []string{"-v", socketMount, "--network", "none", "-p", "9092"}, "portenv", "--timeout", "60s")
		want := "portenv: container " + name + " runs with --network none, where no port can be published, yet asks for 9092/tcp with -p; give it a network (remove --network none, or network_mode: none in Compose)\n"
		if code != 1 || errOut != want || took > 30*time.Second {
			t.Errorf("exit %d after %v, stderr %q; want 1 at once, %q", code, took, errOut, want)
		}
	})
	t.Run("internal", func(t *testing.T) {
		netName := enginetest.Name(t, "internal-net")
		enginetest.Docker(t, "network", "create", "--internal", netName)
		t.Cleanup(func() { exec.Command("docker", "network", "rm", netName).Run() })
		name := enginetest.Name(t, "net-internal")
		_, errOut, code, took := runTimed(t, name, []string{"-v", socketMount, "--network", netName, "-p", "9092"}, "portenv", "--timeout", "60s")
		want := "portenv: container " + name + " asks for 9092/tcp with -p, but its network " + netName + " publishes no ports (an internal network, internal: true in Compose, or a driver without port mapping); connect it to a bridge network that is not internal\n"
		if code != 1 || errOut != want || took > 30*time.Second {
			t.Errorf("exit %d after %v, stderr %q; want 1 at once, %q", code, took, errOut, want)
		}
	})
	t.Run("container-of-host-network", func(t *testing.T) {
		owner := enginetest.Name(t, "net-host-owner")
		enginetest.Docker(t, "run", "-d", "--name", owner, "--network", "host", "--expose", "7000", enginetest.BuildImage(t), "sleep", "600")
		name := enginetest.Name(t, "net-sharer")
		out, _, code, _ := runTimed(t, name, []string{"-v", socketMount, "--network", "container:" + owner},
			"portenv", "--container", name, "--format", "dotenv", "--port", "P=9092")
		if want := "HOST_PORT_7000=7000\nP=9092\n"; code != 0 || out != want {
			t.Errorf("exit %d, stdout %q; want 0, %q", code, out, want)
		}
	})
	t.Run("container-of-none", func(t *testing.T) {
		owner := enginetest.Name(t, "net-none-owner")
		enginetest.Docker(t, "run", "-d", "--name", owner, "--network", "none", enginetest.BuildImage(t), "sleep", "600")
		name := enginetest.Name(t, "net-none-sharer")
		_, errOut, code, took := runTimed(t, name, []string{"-v", socketMount, "--network", "container:" + owner}, "portenv", "--timeout", "60s", "--port", "P=9092")
		want := "portenv: container " + name + " shares the network of container " + owner + ", which runs with --network none, where nothing is published and no port can be reached; give " + owner + " a network and publish the ports on it with -p\n"
		if code != 1 || errOut != want || took > 30*time.Second {
			t.Errorf("exit %d after %v, stderr %q; want 1 at once, %q", code, took, errOut, want)
		}
	})
	t.Run("not-running", func(t *testing.T) {
		bin := enginetest.Binary(t)
		created := enginetest.Name(t, "created")
		enginetest.Docker(t, "create", "--name", created, "-p", "9092", enginetest.BuildImage(t), "sleep", "600")
		exited := enginetest.Name(t, "exited")
		enginetest.Docker(t, "run", "--name", exited, "-p", "9092", enginetest.BuildImage(t), "true")
		paused := enginetest.Name(t, "paused")
		enginetest.Docker(t, "run", "-d", "--name", paused, "-p", "9092", enginetest.BuildImage(t), "sleep", "600")
		enginetest.Docker(t, "pause", paused)
		for name, want := range map[string]string{
			created: "portenv: container " + created + " is created, not running, so it has no published ports; start it (docker start " + created + "), then run portenv again\n",
			exited:  "portenv: container " + exited + " is exited, not running, so it has no published ports; start it (docker start " + exited + "), then run portenv again\n",
			paused:  "portenv: container " + paused + " is paused: its ports stay published, but its processes are frozen and answer nothing there; unpause it (docker unpause " + paused + "), then run portenv again\n",
		} {
			cmd := exec.Command(bin, "--timeout", "60s", "--container", name, "--port", "P=9092")
			cmd.Env = enginetest.HostEnv()
			var errOut strings.Builder
			cmd.Stderr = &errOut
			err := cmd.Run()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || errOut.String() != want {
				t.Errorf("%s: %v, stderr %q; want exit 1, %q", name, err, errOut.String(), want)
			}
		}
	})
}

// A container started with another's name as --hostname, its own id
// hidden from /proc, is not given the other's ports: the hostname is a
// hint that nothing confirms.
func TestEngineHostnameIsNotProof(t *testing.T) {
	enginetest.Require(t)
	a := enginetest.Name(t, "adv-a")
	enginetest.Docker(t, "run", "-d", "--name", a, "--hostname", a, "-p", "9092", enginetest.BuildImage(t), "sleep", "600")
	aID := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", a)
	aIP := enginetest.Docker(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", a)

	// B's /etc/hostname, /etc/hosts and /etc/resolv.conf come from files
	// of the test, and its cgroup is private: no id of B anywhere in /proc.
	dir := t.TempDir()
	for _, f := range []string{"hostname", "hosts", "resolv.conf"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("# "+f+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hidden := []string{"-v", socketMount, "--cgroupns", "private",
		"-v", dir + "/hostname:/etc/hostname", "-v", dir + "/hosts:/etc/hosts", "-v", dir + "/resolv.conf:/etc/resolv.conf", "-p", "9092"}
	b := enginetest.Name(t, "adv-b")
	out, errOut := startKept(t, b, append(hidden, "--hostname", a), "sh", "-c", "portenv --port P=9092; echo exit $?"+andWait)
	bIP := enginetest.Docker(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", b)
	want := "portenv: cannot tell which container this is: container " + aID[:12] + " (" + a + ") has this hostname, \"" + a +
		"\", but another container may have been given it with --hostname, and nothing confirms that it is this one (none of its addresses (" + aIP +
		") is an address of this process (" + bIP + ")); pass --container " + a + " if it is\n"
	if out != "exit 1\n" || errOut != want {
		t.Errorf("stdout %q, stderr\n got %q\nwant %q", out, errOut, want)
	}

	// The same hiding, with the container's own name as its hostname: the
	// hostname is confirmed by the container's address.
	c := enginetest.Name(t, "adv-c")
	out, errOut = startKept(t, c, append(hidden, "--hostname", c), "sh", "-c", "portenv -v --no-auto --port P=9092; echo exit $?"+andWait)
	cID := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", c)
	cIP := enginetest.Docker(t, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", c)
	wantLine := "portenv: find container by hostname: container " + cID[:12] + " (" + c + ") has hostname \"" + c + "\" and this process's address " + cIP + "\n"
	if want := "export P='" + enginetest.HostPort(t, c, "9092/tcp") + "'\nexit 0\n"; out != want || !strings.Contains(errOut, wantLine) {
		t.Errorf("stdout %q, stderr %q; want %q and %q", out, errOut, want, wantLine)
	}
}

// On the host, a container named and hostnamed like the host is not taken
// for the one portenv runs in.
func TestEngineHostNamedContainerOnHost(t *testing.T) {
	enginetest.Require(t)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := enginetest.DockerResult("inspect", host); err == nil {
		t.Fatalf("a container named %q exists already; this test makes its own", host)
	}
	enginetest.Docker(t, "run", "-d", "--name", host, "--hostname", host, "-p", "9092", enginetest.BuildImage(t), "sleep", "600")
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", host).Run() })
	cmd := exec.Command(enginetest.Binary(t), "--timeout", "20s")
	cmd.Env = enginetest.HostEnv()
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || stdout.String() != "" ||
		!strings.HasPrefix(stderr.String(), "portenv: cannot tell which container this is: container ") ||
		!strings.Contains(stderr.String(), "("+host+") has this hostname, \""+host+"\", but another container may have been given it with --hostname") {
		t.Errorf("%v, stdout %q, stderr %q; want exit 1 and the hostname refusal", err, stdout.String(), stderr.String())
	}
}

// Docker's own variables and socket mounts that cannot work are answered
// at once, inside a real container.
func TestEngineOddDockerSettings(t *testing.T) {
	enginetest.Require(t)
	missing := filepath.Join(t.TempDir(), "no-such-docker.sock") // -v makes it a directory
	for _, tc := range []struct {
		name   string
		docker []string
		want   string
	}{
		{"api-version-abc", []string{"-v", socketMount, "-e", "DOCKER_API_VERSION=abc"},
			`portenv: DOCKER_API_VERSION="abc" is not an API version; write it as 1.41 (digits, a dot, digits), or remove it so that portenv agrees on one with the engine`},
		{"api-version-space", []string{"-v", socketMount, "-e", "DOCKER_API_VERSION=1.41 "},
			`portenv: DOCKER_API_VERSION="1.41 " is not an API version; write it as 1.41 (digits, a dot, digits), or remove it so that portenv agrees on one with the engine`},
		{"ssh", []string{"-e", "DOCKER_HOST=ssh://user@host"},
			`portenv: DOCKER_HOST="ssh://user@host": portenv does not speak ssh:// (the docker CLI runs an ssh command for it); point DOCKER_HOST at unix:///path/to/docker.sock or tcp://host:2376, for example a socket forwarded with ssh -L`},
		{"garbage", []string{"-e", "DOCKER_HOST=garbage://x"},
			`portenv: DOCKER_HOST="garbage://x": portenv cannot reach an engine over garbage://; write it as unix:///var/run/docker.sock or tcp://host:2376`},
		{"directory", []string{"-v", missing + ":/var/run/docker.sock"},
			`portenv: /var/run/docker.sock is a directory, not the engine's socket (DOCKER_HOST is not set, so portenv looked there); Docker makes an empty directory when the host path given to -v does not exist: check the host side of -v (/var/run/docker.sock on most hosts) and start the container again`},
		{"regular-file", []string{"-v", "/etc/hostname:/var/run/docker.sock:ro"},
			`portenv: /var/run/docker.sock is a regular file, not a socket, so no engine answers there (DOCKER_HOST is not set, so portenv looked there); mount the engine's socket there with -v /var/run/docker.sock:/var/run/docker.sock:ro`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := enginetest.Name(t, "odd-"+tc.name)
			_, errOut, code, took := runTimed(t, name, append(tc.docker, "-p", "9092"), "portenv", "--timeout", "60s")
			if code != 1 || errOut != tc.want+"\n" || took > 30*time.Second {
				t.Errorf("exit %d after %v, stderr\n got %q\nwant %q", code, took, errOut, tc.want+"\n")
			}
		})
	}
	os.RemoveAll(missing)
}

// docker stop while portenv waits for an engine that does not answer: it
// says so and exits 143, as a process ended by SIGTERM, not 2, the usage
// code.
func TestEngineStopWhileWaiting(t *testing.T) {
	enginetest.Require(t)
	name := enginetest.Name(t, "stop")
	enginetest.Start(t, name, []string{"-v", silentSocket(t) + ":/var/run/docker.sock", "-p", "9092"},
		"portenv", "--timeout", "5m", "--", "echo", "should not run")
	time.Sleep(time.Second) // portenv is waiting for /_ping
	enginetest.Docker(t, "stop", "-t", "20", name)
	code := enginetest.Docker(t, "inspect", "-f", "{{.State.ExitCode}}", name)
	out, errOut, _ := enginetest.DockerResult("logs", name)
	want := "portenv: stopped by SIGTERM (docker stop) before the variables were ready; nothing was written or run\n"
	if code != "143" || out != "" || errOut != want {
		t.Errorf("exit %s, stdout %q, stderr %q; want 143 and %q", code, out, errOut, want)
	}
}
