// Package enginetest runs portenv's end-to-end tests against a real Docker
// Engine: it builds the static binary, packs it with a static busybox into
// an image made without any registry, and starts containers from it.
package enginetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Image is the tag of the test image: busybox at /bin (sh, env, cat, ...)
// and portenv at /usr/local/bin/portenv. The tag names the checkout, so
// that the tests of two checkouts run on one engine at once each use their
// own binary, and a later run of the same checkout replaces its image.
var Image = "portenv-test:e2e-" + checkoutTag()

func checkoutTag() string {
	root, err := filepath.Abs(RepoRoot())
	if err != nil {
		root = RepoRoot()
	}
	sum := sha256.Sum256([]byte(root))
	return hex.EncodeToString(sum[:4])
}

// Busybox is the static busybox the image is made from (Debian's
// busybox-static).
var Busybox = "/bin/busybox"

// Require skips the test when no engine answers, loudly; with
// PORTENV_E2E=1 (as CI sets) it fails instead.
func Require(t testing.TB) {
	t.Helper()
	if err := ping(); err != nil {
		if os.Getenv("PORTENV_E2E") == "1" {
			t.Fatalf("PORTENV_E2E=1 but no Docker engine answers: %v", err)
		}
		t.Skipf("SKIPPING ENGINE TEST: no Docker engine answers (%v); set PORTENV_E2E=1 to make this a failure", err)
	}
}

var pingOnce sync.Once
var pingErr error

func ping() error {
	pingOnce.Do(func() {
		out, err := exec.Command("docker", "version", "--format", "{{.Server.APIVersion}}").CombinedOutput()
		if err != nil {
			pingErr = fmt.Errorf("docker version: %v: %s", err, strings.TrimSpace(string(out)))
		}
	})
	return pingErr
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// Binary builds portenv statically, once per test process, and returns its
// path. The binary is kept in the user's cache directory, one per checkout
// (portenv-e2e/<checkout>/portenv), and replaced by each build, so that
// test processes leave nothing behind in the temporary directory; test
// processes of one checkout that build at once each rename a whole binary
// into place.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		cache, err := os.UserCacheDir()
		if err != nil {
			buildErr = fmt.Errorf("a directory for the test binary: %v", err)
			return
		}
		dir := filepath.Join(cache, "portenv-e2e", checkoutTag())
		if err := os.MkdirAll(dir, 0o755); err != nil {
			buildErr = err
			return
		}
		tmp, err := os.CreateTemp(dir, "portenv-*.tmp")
		if err != nil {
			buildErr = err
			return
		}
		tmp.Close()
		defer os.Remove(tmp.Name())
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", tmp.Name(), "./cmd/portenv")
		cmd.Dir = RepoRoot()
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
			return
		}
		binPath = filepath.Join(dir, "portenv")
		buildErr = os.Rename(tmp.Name(), binPath)
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// RepoRoot is the directory of portenv's go.mod.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

var (
	imageOnce sync.Once
	imageErr  error
)

// BuildImage makes Image with docker import, once per test process.
func BuildImage(t testing.TB) string {
	t.Helper()
	Require(t)
	bin := Binary(t)
	imageOnce.Do(func() { imageErr = importImage(Image, bin, nil) })
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return Image
}

// ImportImage makes an image named tag holding busybox, portenv and the
// extra files (path in the image to content).
func ImportImage(t testing.TB, tag string, extra map[string][]byte) {
	t.Helper()
	if err := importImage(tag, Binary(t), extra); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })
}

func importImage(tag, bin string, extra map[string][]byte) error {
	tarball, err := rootfs(bin, extra)
	if err != nil {
		return err
	}
	// The image of an earlier run would stay behind, untagged, once the tag
	// moves to the new one.
	exec.Command("docker", "rmi", "-f", tag).Run()
	cmd := exec.Command("docker", "import", "--change", "ENV PATH=/usr/local/bin:/bin", "-", tag)
	cmd.Stdin = bytes.NewReader(tarball)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("docker import: %v: %s", err, out)
	}
	return nil
}

// RootfsTar returns the test image's root file system as a tar, for other
// engines' import commands (podman import). Its PATH must be set on
// import to /usr/local/bin:/bin.
func RootfsTar(t testing.TB) []byte {
	t.Helper()
	tarball, err := rootfs(Binary(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	return tarball
}

func rootfs(bin string, extra map[string][]byte) ([]byte, error) {
	bb, err := os.ReadFile(Busybox)
	if err != nil {
		return nil, fmt.Errorf("the test image needs a static busybox at %s (apt-get install busybox-static): %v", Busybox, err)
	}
	pe, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := []string{"bin", "usr", "usr/local", "usr/local/bin", "etc", "tmp", "var", "var/run", "run"}
	for _, d := range dirs {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		if err := tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: mode}); err != nil {
			return nil, err
		}
	}
	file := func(name string, mode int64, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := file("bin/busybox", 0o755, bb); err != nil {
		return nil, err
	}
	if err := file("usr/local/bin/portenv", 0o755, pe); err != nil {
		return nil, err
	}
	if err := file("etc/passwd", 0o644, []byte("root:x:0:0:root:/:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")); err != nil {
		return nil, err
	}
	if err := file("etc/group", 0o644, []byte("root:x:0:\nnogroup:x:65534:\n")); err != nil {
		return nil, err
	}
	for name, data := range extra {
		if err := file(strings.TrimPrefix(name, "/"), 0o755, data); err != nil {
			return nil, err
		}
	}
	for _, applet := range []string{"sh", "env", "cat", "echo", "sleep", "id", "ls", "true", "false", "grep", "sort", "test", "printf"} {
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Docker runs the docker CLI and returns its stdout, failing the test on
// error.
func Docker(t testing.TB, args ...string) string {
	t.Helper()
	out, errOut, err := DockerResult(args...)
	if err != nil {
		t.Fatalf("docker %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out, errOut)
	}
	return strings.TrimSpace(out)
}

// DockerResult runs the docker CLI and returns what it printed and its
// error, for tests that expect a failure.
func DockerResult(args ...string) (stdout, stderr string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// Name returns a container name unique to this test, and removes that
// container when the test ends.
func Name(t testing.TB, suffix string) string {
	t.Helper()
	name := fmt.Sprintf("portenv-e2e-%s-%d", suffix, time.Now().UnixNano()%1e9)
	t.Cleanup(func() { exec.Command("docker", "rm", "-f", "-v", name).Run() })
	return name
}

// SocketMount is the -v value that gives a container the engine's socket.
const SocketMount = "/var/run/docker.sock:/var/run/docker.sock"

// Run starts a container and waits for it to end,
// returning its stdout, stderr and exit code. The container is kept until
// the test ends so that its bindings can be compared.
func Run(t testing.TB, name string, dockerArgs []string, command ...string) (stdout, stderr string, code int) {
	t.Helper()
	args := append([]string{"run", "--name", name}, dockerArgs...)
	args = append(args, BuildImage(t))
	args = append(args, command...)
	stdout, stderr, err := DockerResult(args...)
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return stdout, stderr, ee.ExitCode()
		}
		t.Fatalf("docker run: %v", err)
	}
	return stdout, stderr, 0
}

// Start starts a container in the background.
func Start(t testing.TB, name string, dockerArgs []string, command ...string) {
	t.Helper()
	args := append([]string{"run", "-d", "--name", name}, dockerArgs...)
	args = append(args, BuildImage(t))
	Docker(t, append(args, command...)...)
}

// Marker is the line a test's container prints when it has printed all it
// will; it then stays up so that its bindings can be read.
const Marker = "--end--"

// Output waits until the container has printed Marker on stdout, and
// returns what it printed before it, on stdout and stderr.
func Output(t testing.TB, name string) (stdout, stderr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, errOut, err := DockerResult("logs", name)
		if err != nil {
			t.Fatalf("docker logs %s: %v: %s", name, err, errOut)
		}
		if before, _, ok := strings.Cut(out, Marker+"\n"); ok {
			return before, errOut
		}
		state, _, _ := DockerResult("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", name)
		if strings.HasPrefix(state, "exited") || time.Now().After(deadline) {
			t.Fatalf("container %s (%s) did not print %q\nstdout: %s\nstderr: %s", name, strings.TrimSpace(state), Marker, out, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// HostPort returns the host port the engine bound for container port
// ("9092/tcp") of container name on an IPv4 address, as docker inspect
// reports it.
func HostPort(t testing.TB, name, port string) string {
	t.Helper()
	v4, _ := hostPorts(t, name, port)
	if v4 == "" {
		t.Fatalf("container %s has no IPv4 binding for %s", name, port)
	}
	return v4
}

// hostPorts returns the host ports of container port on 0.0.0.0, or else
// the first IPv4 address, and on ::, "" where there is none.
func hostPorts(t testing.TB, name, port string) (v4, v6 string) {
	t.Helper()
	out := Docker(t, "inspect", "-f", `{{range (index .NetworkSettings.Ports "`+port+`")}}{{.HostIp}} {{.HostPort}}{{"\n"}}{{end}}`, name)
	for _, line := range strings.Split(out, "\n") {
		ip, hp, _ := strings.Cut(line, " ")
		switch {
		case hp == "":
		case ip == "::" && v6 == "":
			v6 = hp
		case !strings.Contains(ip, ":") && (v4 == "" || ip == "0.0.0.0"):
			v4 = hp
		}
	}
	return v4, v6
}

// HostPortIPv6 returns the host port of container port on ::, the IPv6
// half of a publication on every address.
func HostPortIPv6(t testing.TB, name, port string) string {
	t.Helper()
	_, v6 := hostPorts(t, name, port)
	if v6 == "" {
		t.Fatalf("container %s has no binding on :: for %s", name, port)
	}
	return v6
}

// DualStackNote is the line portenv writes about container port
// ("9092/tcp") of the running container name when the engine gave the
// IPv4 and IPv6 halves of its publication different host ports, as Docker
// 20.10 does once any port was published on IPv4 only; "" when they agree
// or there is no such pair. how names the use of the IPv4 port: "using"
// for a run and doctor, "printing" for docker port and portenv port.
func DualStackNote(t testing.TB, name, port, how string) string {
	t.Helper()
	v4, v6 := hostPorts(t, name, port)
	if v4 == "" || v6 == "" || v4 == v6 {
		return ""
	}
	return fmt.Sprintf("portenv: port %s is published on host port %s (0.0.0.0) and on %s (::); %s %s\n", port, v4, v6, how, v4)
}

// dualStackNote matches the line of DualStackNote.
var dualStackNote = regexp.MustCompile(`(?m)^portenv: port ([0-9]+/[a-z]+) is published on host port ([0-9]+) \(0\.0\.0\.0\) and on ([0-9]+) \(::\); using ([0-9]+)\n`)

// WithoutDualStackNotes returns stderr of a run in a container that has
// ended, whose bindings can no longer be read, without the lines
// DualStackNote would give. Each must be about one of ports, published
// with -p and no address, at most once, and say that the IPv4 port is
// used; anything else stays in what is returned, for the test to reject.
func WithoutDualStackNotes(stderr string, ports ...string) string {
	seen := map[string]bool{}
	return dualStackNote.ReplaceAllStringFunc(stderr, func(line string) string {
		m := dualStackNote.FindStringSubmatch(line)
		if !slices.Contains(ports, m[1]) || seen[m[1]] || m[2] == m[3] || m[2] != m[4] {
			return line
		}
		seen[m[1]] = true
		return ""
	})
}
