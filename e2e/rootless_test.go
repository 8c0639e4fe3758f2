package e2e

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// rootlessUserName is the unprivileged user whose own engines the rootless
// tests start; .ci/rootless-setup.sh makes it, with its subordinate ids.
const rootlessUserName = "portenv-rootless"

// rootlessUser is that user, and its runtime directory as systemd-logind
// would make it ($XDG_RUNTIME_DIR, where the engines put their sockets).
type rootlessUser struct {
	name, home, runtimeDir string
	uid, gid               uint32
}

// requireRootless returns the user, or skips the test, loudly, when it
// cannot be used; with PORTENV_E2E=1 it fails instead.
func requireRootless(t *testing.T) rootlessUser {
	t.Helper()
	if os.Geteuid() != 0 {
		unmet(t, "the rootless tests start engines as user "+rootlessUserName+" and need root to do so")
	}
	u, err := user.Lookup(rootlessUserName)
	if err != nil {
		unmet(t, "there is no user "+rootlessUserName+" (run .ci/rootless-setup.sh as root)")
	}
	for _, f := range []string{"/etc/subuid", "/etc/subgid"} {
		data, _ := os.ReadFile(f)
		if !strings.Contains("\n"+string(data), "\n"+rootlessUserName+":") && !strings.Contains("\n"+string(data), "\n"+u.Uid+":") {
			unmet(t, f+" gives user "+rootlessUserName+" no range (run .ci/rootless-setup.sh as root)")
		}
	}
	uid, _ := strconv.ParseUint(u.Uid, 10, 32)
	gid, _ := strconv.ParseUint(u.Gid, 10, 32)
	r := rootlessUser{name: u.Username, home: u.HomeDir, runtimeDir: "/run/user/" + u.Uid, uid: uint32(uid), gid: uint32(gid)}
	// /run is emptied at boot; make the directory as logind does.
	r.mkdir(t, r.runtimeDir)
	return r
}

// mkdir makes dir, owned by the user and private to it, as the user's
// programs expect their runtime directories.
func (u rootlessUser) mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, int(u.uid), int(u.gid)); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
}

// command runs a program as the user, with the environment of a login
// session: HOME, XDG_RUNTIME_DIR, and no supplementary groups.
func (u rootlessUser) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = u.home
	cmd.Env = []string{
		"HOME=" + u.home, "USER=" + u.name, "LOGNAME=" + u.name,
		"XDG_RUNTIME_DIR=" + u.runtimeDir,
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin",
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid, Groups: []uint32{}}}
	return cmd
}

// rootlessLine is what doctor says about an engine that runs rootless.
const rootlessLine = "  runs rootless (GET /info): its port forwarder publishes the ports on the host, so the HOST_ values are the host's; this container's own addresses and {{gateway}} are in the engine's private network, from which the host's 127.0.0.1 is not reached\n"

// checkDoctor checks that doctor's report, out, says that the engine runs
// rootless, would set HOST_PORT_9092 to port9092, and ends in OK.
func checkDoctor(t *testing.T, out, port9092 string) {
	t.Helper()
	if !strings.Contains(out, rootlessLine) || !strings.Contains(out, "\n  HOST_PORT_9092="+port9092+"\n") || !strings.HasSuffix(out, "\nOK\n") {
		t.Errorf("doctor does not say %q, HOST_PORT_9092=%s and OK:\n%s", strings.TrimSpace(rootlessLine), port9092, out)
	}
}

// Podman as its users run it by default: rootless, the user's own service
// socket mounted, the published ports forwarded by Podman's rootless port
// forwarder. The podman CLI of the test talks to that service
// (CONTAINER_HOST), so `podman port` is the rootless engine's own.
func TestEngineRootlessPodman(t *testing.T) {
	requirePodman(t)
	u := requireRootless(t)
	// The user's service is the podman on PATH, run as the user; a podman
	// that is a client of a running service (podman --remote, as
	// .ci/engines.sh gives its podman5) serves nothing itself.
	if remote := podman(t, nil, "info", "--format", "{{.Host.ServiceIsRemote}}"); remote != "false" {
		t.Skipf("SKIPPING %s: the podman on PATH is a client of the Podman service at %s (ServiceIsRemote %s) and cannot run user %s's own rootless service; that Podman's binaries run only in its own root", t.Name(), podmanSocket, remote, u.name)
	}
	// Where podman.socket puts it under systemd.
	sock := filepath.Join(u.runtimeDir, "podman", "podman.sock")
	if pingSocket(sock) != nil {
		u.mkdir(t, filepath.Dir(sock))
		u.stopPauseProcess(t)
		startService(t, u.command("podman", "system", "service", "--time=0", "unix://"+sock), sock, 30*time.Second, 10*time.Second)
	}
	t.Setenv("CONTAINER_HOST", "unix://"+sock)
	if got := podman(t, nil, "info", "--format", "{{.Host.Security.Rootless}} {{.Host.RemoteSocket.Path}}"); got != "true unix://"+sock {
		t.Fatalf("podman info through %s says rootless and socket %q, want \"true unix://%s\"", sock, got, sock)
	}
	podman(t, enginetest.RootfsTar(t), "import", "--change", "ENV PATH=/usr/local/bin:/bin", "-", podmanImage)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", podmanImage).Run() })

	t.Run("container", func(t *testing.T) { podmanContainer(t, sock) })
	t.Run("pod", func(t *testing.T) { podmanPod(t, sock) })
	t.Run("doctor", func(t *testing.T) {
		name := uniqueName("portenv-e2e-podman-doctor")
		t.Cleanup(func() { exec.Command("podman", "rm", "-f", "-t", "0", name).Run() })
		podman(t, nil, "run", "-d", "--name", name, "-p", "9092", "-v", sock+":/var/run/docker.sock", podmanImage,
			"sh", "-c", "portenv doctor"+andWait)
		out, _ := podmanOutput(t, name)
		_, p9092 := podmanPort(t, name, "9092/tcp")
		checkDoctor(t, out, p9092)
		t.Logf("doctor on rootless Podman:\n%s", out)
	})
}

// stopPauseProcess stops, when the test ends, the pause process that
// rootless Podman starts to keep its user namespace, unless one was there
// before the test.
func (u rootlessUser) stopPauseProcess(t *testing.T) {
	t.Helper()
	pidFile := filepath.Join(u.runtimeDir, "libpod", "tmp", "pause.pid")
	if pid := readPid(pidFile); pid > 0 && syscall.Kill(pid, 0) == nil {
		return
	}
	t.Cleanup(func() {
		if pid := readPid(pidFile); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
			os.Remove(pidFile)
		}
	})
}

func readPid(file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
	return pid
}

// Docker as its security-minded users run it: dockerd-rootless.sh, as the
// user, in RootlessKit's user, mount and network namespaces, the user's
// socket mounted, the ports published by RootlessKit's port driver.
func TestEngineRootlessDocker(t *testing.T) {
	enginetest.Require(t)
	u := requireRootless(t)
	script := dockerdRootlessScript(t)
	// dockerd-rootless.sh starts the dockerd of the user's PATH.
	mine, _ := u.command("sh", "-c", "dockerd --version").Output()
	if engine := enginetest.ServerVersion(t); !strings.Contains(string(mine), "version "+engine+",") {
		t.Skipf("SKIPPING %s: it starts this machine's dockerd as user %s (%s), not a rootless form of the engine under test (Docker %s); it would test that other engine", t.Name(), u.name, strings.TrimSpace(string(mine)), engine)
	}
	// Made on the main engine, before the test turns to the user's, under
	// a tag of this test's own: another test process may import the shared
	// tag (enginetest.Image) with its own binary at any moment.
	image := uniqueName("portenv-test:rootless")
	enginetest.ImportImage(t, image, nil)
	sock := filepath.Join(u.runtimeDir, "docker.sock")
	host := "unix://" + sock
	if pingSocket(sock) != nil {
		startService(t, u.command(script), sock, 90*time.Second, 30*time.Second)
	}
	if sec := enginetest.Docker(t, "-H", host, "info", "--format", "{{json .SecurityOptions}}"); !strings.Contains(sec, `"name=rootless"`) {
		t.Fatalf("the engine at %s lists security options %s, without name=rootless", host, sec)
	}
	copyImage(t, image, host)
	enginetest.UseEngineAt(t, sock)

	name := enginetest.Name(t, "rootless")
	enginetest.Docker(t, "run", "-d", "--name", name, "-v", sock+":/var/run/docker.sock:ro", "-p", "9092", "-p", "127.0.0.1::53/udp", image,
		"portenv", "-v", "--port", "KAFKA_ADVERTISED_PORT=9092", "--", "sh", "-c", "env"+andWait)
	out, errOut := enginetest.Output(t, name)
	_, p9092 := dockerPort(t, name, "9092/tcp")
	ip53, p53 := dockerPort(t, name, "53/udp")
	if ip53 != "127.0.0.1" {
		t.Errorf("docker port %s 53/udp is on %q, want 127.0.0.1", name, ip53)
	}
	assertVars(t, envOf(out), map[string]string{
		"HOST_PORT_9092":        p9092,
		"HOST_PORT_53_UDP":      p53,
		"HOST_IP_53_UDP":        "127.0.0.1",
		"KAFKA_ADVERTISED_PORT": p9092,
	})
	id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
	want := "find container by mountinfo: container " + id[:12] + " (" + name + ") from /proc/self/mountinfo"
	if !strings.Contains(errOut, want) {
		t.Errorf("stderr does not say that mountinfo found the container; want %q in:\n%s", want, errOut)
	}
	doctor := enginetest.Docker(t, "exec", name, "portenv", "doctor") + "\n"
	checkDoctor(t, doctor, p9092)
	t.Logf("docker port (rootless) 9092/tcp -> %s, 53/udp -> 127.0.0.1:%s; identified by mountinfo as %s; doctor:\n%s", p9092, p53, id[:12], doctor)
}

// dockerdRootlessScript is the path of dockerd-rootless.sh, which Debian's
// docker.io keeps among its contrib files rather than on PATH.
func dockerdRootlessScript(t *testing.T) string {
	t.Helper()
	var why string
	if _, err := exec.LookPath("rootlesskit"); err != nil {
		why = "rootlesskit is not installed (run .ci/rootless-setup.sh)"
	} else if p, err := exec.LookPath("dockerd-rootless.sh"); err == nil {
		return p
	} else if p := "/usr/share/docker.io/contrib/dockerd-rootless.sh"; fileExists(p) {
		return p
	} else {
		why = "dockerd-rootless.sh is neither on PATH nor in /usr/share/docker.io/contrib"
	}
	unmet(t, why)
	return ""
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// copyImage loads image from the main engine into the engine at host
// (docker save | docker -H host load), and removes it there at the end.
func copyImage(t *testing.T, image, host string) {
	t.Helper()
	save := exec.Command("docker", "save", image)
	load := exec.Command("docker", "-H", host, "load", "-q")
	pipe, err := save.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var saveErr, loadOut bytes.Buffer
	save.Stderr = &saveErr
	load.Stdin, load.Stdout, load.Stderr = pipe, &loadOut, &loadOut
	if err := save.Start(); err != nil {
		t.Fatal(err)
	}
	loadErr := load.Run()
	// What load left unread, so that save can end.
	io.Copy(io.Discard, pipe)
	if err := errors.Join(save.Wait(), loadErr); err != nil {
		t.Fatalf("docker save %s | docker -H %s load: %v\n%s%s", image, host, err, saveErr.String(), loadOut.String())
	}
	t.Cleanup(func() { exec.Command("docker", "-H", host, "rmi", "-f", image).Run() })
}

// dockerPort is the IPv4 binding of container port ("9092/tcp") of
// container name as `docker port` prints it (against DOCKER_HOST, or the
// engine that global flags such as -H name): its host address and port.
func dockerPort(t *testing.T, name, port string, global ...string) (ip, hostPort string) {
	t.Helper()
	out := enginetest.Docker(t, append(global, "port", name, port)...)
	for _, line := range strings.Split(out, "\n") {
		i := strings.LastIndex(line, ":")
		if i > 0 && !strings.HasPrefix(line, "[") && !strings.HasPrefix(line, ":") {
			return line[:i], line[i+1:]
		}
	}
	t.Fatalf("docker %s port %s %s printed no IPv4 binding: %q", strings.Join(global, " "), name, port, out)
	return "", ""
}
