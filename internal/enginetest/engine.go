package enginetest

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The engine under test is the one the docker CLI of the tests reaches:
// DOCKER_HOST, or else the default socket. Two views of its socket matter.
// What a container mounts with -v is named in the engine's own mount
// namespace, where /var/run/docker.sock is the engine's socket (SocketMount);
// what the test process opens itself, such as the upstream of a proxy or
// the socket whose group it reads, is named in the test's, and is the path
// in DOCKER_HOST (SocketPath). Both are /var/run/docker.sock for an engine
// installed on the host.

// SocketPath returns the path of the engine's unix socket as the test
// process reaches it: the one DOCKER_HOST names, or /var/run/docker.sock.
func SocketPath(t testing.TB) string {
	t.Helper()
	host := os.Getenv("DOCKER_HOST")
	if host == "" {
		return "/var/run/docker.sock"
	}
	if p, ok := strings.CutPrefix(host, "unix://"); ok {
		return p
	}
	t.Fatalf("DOCKER_HOST=%s: this test opens the engine's unix socket itself, and DOCKER_HOST names none", host)
	return ""
}

// HostEnv is the environment for portenv run by a test on the host, in
// the test's engine's stead of a container: a bare PATH, and DOCKER_HOST
// when the tests' engine is given by it.
func HostEnv() []string {
	env := []string{"PATH=/usr/bin:/bin"}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		env = append(env, "DOCKER_HOST="+h)
	}
	return env
}

var (
	versionsOnce         sync.Once
	apiMax, apiMin       string
	serverVer, clientVer string
	versionsErr          string
)

func versions(t testing.TB) {
	t.Helper()
	versionsOnce.Do(func() {
		out, errOut, err := DockerResult("version", "--format", "{{.Server.APIVersion}} {{.Server.MinAPIVersion}} {{.Server.Version}} {{.Client.Version}}")
		f := strings.Fields(out)
		if err != nil || len(f) != 4 {
			versionsErr = "docker version: " + strings.TrimSpace(out+" "+errOut)
			return
		}
		apiMax, apiMin, serverVer, clientVer = f[0], f[1], f[2], f[3]
	})
	if versionsErr != "" {
		t.Fatal(versionsErr)
	}
}

// APIVersion is the highest API version the engine offers, as it says in
// GET /version.
func APIVersion(t testing.TB) string {
	versions(t)
	return apiMax
}

// MinAPIVersion is the lowest API version the engine accepts.
func MinAPIVersion(t testing.TB) string {
	versions(t)
	return apiMin
}

// ServerVersion is the engine's version, as docker version prints it.
func ServerVersion(t testing.TB) string {
	versions(t)
	return serverVer
}

// ClientVersion is the version of the docker CLI the tests run.
func ClientVersion(t testing.TB) string {
	versions(t)
	return clientVer
}

// VersionLess compares API versions ("1.9" < "1.41") number by number.
func VersionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) || i < len(bs); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

// NetworkMode is the network mode the engine reports for a container
// started without --network: Docker 20.10 says "default", later engines
// "bridge".
func NetworkMode(t testing.TB, container string) string {
	t.Helper()
	return Docker(t, "inspect", "-f", "{{.HostConfig.NetworkMode}}", container)
}
