package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// shortSocket returns a unix socket path short enough for sun_path.
func shortSocket(t *testing.T) string {
	dir, err := os.MkdirTemp("", "pe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "d.sock")
}

// runWith runs portenv in this process against DOCKER_HOST=unix://sock.
func runWith(t *testing.T, sock string, env map[string]string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	for _, k := range []string{"DOCKER_API_VERSION", "DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH"} {
		t.Setenv(k, env[k])
	}
	var o, e strings.Builder
	code = run(args, environ{"PATH=/usr/bin:/bin"}, &o, &e)
	return o.String(), e.String(), code
}

func appInspect(ports map[string][]map[string]string) map[string]any {
	return enginetest.Inspect(strings.Repeat("a", 64), "app", "app", ports)
}

var bound9092 = map[string][]map[string]string{"9092/tcp": {{"HostIp": "0.0.0.0", "HostPort": "32769"}, {"HostIp": "::", "HostPort": "32769"}}}

// A DOCKER_API_VERSION the engine refuses, as DOCKER_API_VERSION=1.22 in
// wurstmeister's compose file is refused by an engine whose minimum is
// 1.24, is dropped for the negotiated version, with a warning.
func TestPinnedVersionRefusedFallsBackToNegotiation(t *testing.T) {
	stub := &enginetest.Fake{MaxAPI: "1.43", Containers: map[string]any{"app": appInspect(bound9092)}}
	sock := stub.Serve(t)
	out, errOut, code := runWith(t, sock, map[string]string{"DOCKER_API_VERSION": "1.22"}, "--container", "app", "--format", "dotenv")
	if code != 0 || out != "HOST_PORT_9092=32769\n" {
		t.Errorf("exit %d, stdout %q; want 0 and HOST_PORT_9092=32769", code, out)
	}
	want := "portenv: warning: the engine refused API version 1.22 set by DOCKER_API_VERSION (client version 1.22 is too old. Minimum supported API version is 1.24); using the negotiated version 1.43 instead; remove DOCKER_API_VERSION from the container's environment\n"
	if errOut != want {
		t.Errorf("stderr\n got %q\nwant %q", errOut, want)
	}
	wantReq := []string{"HEAD /_ping", "GET /v1.22/containers/app/json", "GET /v1.43/containers/app/json"}
	if strings.Join(stub.Versioned(), ",") != strings.Join(wantReq, ",") {
		t.Errorf("requests %q, want %q", stub.Versioned(), wantReq)
	}
}

// Without a pin, the negotiated version can only be refused by an engine
// older than any portenv supports: that is an error.
func TestNegotiatedVersionRefused(t *testing.T) {
	stub := &enginetest.Fake{MinAPI: "1.50", MaxAPI: "1.43", Containers: map[string]any{"app": appInspect(bound9092)}}
	sock := stub.Serve(t)
	out, errOut, code := runWith(t, sock, nil, "--container", "app")
	want := "portenv: the engine at unix://" + sock + " refused API version 1.43 for GET /containers/app/json (client version 1.43 is too old. Minimum supported API version is 1.50); portenv needs an engine with API 1.24 (Docker 1.12) or newer\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %q", code, out, errOut, want)
	}
}

func TestIPv4AndIPv6PortsDiffer(t *testing.T) {
	stub := &enginetest.Fake{Containers: map[string]any{"app": appInspect(map[string][]map[string]string{
		"9092/tcp": {{"HostIp": "::", "HostPort": "32770"}, {"HostIp": "0.0.0.0", "HostPort": "32769"}},
	})}}
	sock := stub.Serve(t)
	out, errOut, code := runWith(t, sock, nil, "--container", "app", "--port", "KAFKA_ADVERTISED_PORT=9092", "--format", "dotenv")
	if code != 0 || out != "HOST_PORT_9092=32769\nKAFKA_ADVERTISED_PORT=32769\n" {
		t.Errorf("exit %d, stdout %q; want the IPv4 port 32769 in both", code, out)
	}
	want := "portenv: port 9092/tcp is published on host port 32769 (0.0.0.0) and on 32770 (::); using 32769\n" +
		"portenv: port 9092/tcp is published on host port 32769 (0.0.0.0) and on 32770 (::); KAFKA_ADVERTISED_PORT gets 32769\n"
	if errOut != want {
		t.Errorf("stderr\n got %q\nwant %q", errOut, want)
	}
}

// A socket that accepts and never answers: the wait ends at --timeout, and
// the message says so.
func TestEngineNeverAnswers(t *testing.T) {
	sock := shortSocket(t)
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	out, errOut, code := runWith(t, sock, nil, "--timeout", "700ms", "--container", "app")
	took := time.Since(start)
	want := "portenv: the engine at unix://" + sock + " did not answer HEAD /_ping within 700ms (--timeout); check that the engine runs and that this is its address, or raise --timeout\n"
	if code != 1 || out != "" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %q", code, out, errOut, want)
	}
	if took < 700*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, want about 700ms", took)
	}
}

// A proxy that forbids /_ping fails at once, not at the timeout.
func TestPingForbidden(t *testing.T) {
	sock := (&enginetest.Fake{Ping: &enginetest.Answer{Status: http.StatusForbidden, Body: `{"message":"forbidden"}`}}).Serve(t)
	start := time.Now()
	_, errOut, code := runWith(t, sock, nil, "--timeout", "5s", "--container", "app")
	want := "portenv: the engine at unix://" + sock + " forbade HEAD /_ping (403: forbidden); a socket proxy in front of the engine must allow HEAD and GET on /_ping and /containers/{id}/json, and /info when a template uses .Host.Name\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr\n got %q\nwant %q", code, errOut, want)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("took %v; a refusal is not worth waiting for", took)
	}
}
