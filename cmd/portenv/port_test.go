package main

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/portenv/portenv/internal/enginetest"
)

func shimInspect(id, name, hostPort string) map[string]any {
	return map[string]any{
		"Id": id, "Name": "/" + name,
		"State":      map[string]any{"Status": "running", "Running": true},
		"Config":     map[string]any{"Hostname": name, "Image": "img"},
		"HostConfig": map[string]any{"NetworkMode": "bridge"},
		"NetworkSettings": map[string]any{"Ports": map[string]any{
			"9092/tcp": []map[string]string{{"HostIp": "0.0.0.0", "HostPort": hostPort}, {"HostIp": "::", "HostPort": hostPort}},
		}},
	}
}

// This host's name names this container, found as portenv finds itself,
// even when another container carries that name. Here PORTENV_CONTAINER
// says which container this is; without it, this process is in no
// container of the engine, and the one that carries the name is not taken
// for it. (The name is the test machine's, so this is a Go test rather
// than a script.)
func TestShimOwnHostname(t *testing.T) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		t.Fatalf("this machine has no hostname to test with: %v", err)
	}
	f := &enginetest.Fake{Containers: map[string]any{
		"app": shimInspect(strings.Repeat("a", 64), "app", "32769"),
		host:  shimInspect(strings.Repeat("d", 64), host, "40000"),
	}}
	sock := f.Serve(t)
	shim := func(container string, args ...string) (string, string, int) {
		var o, e strings.Builder
		code := dockerShim(args, environ{"PATH=/usr/bin:/bin", "DOCKER_HOST=unix://" + sock, "PORTENV_CONTAINER=" + container}, &o, &e)
		return o.String(), e.String(), code
	}

	out, errOut, code := shim("app", "port", host, "9092")
	if code != 0 || out != "0.0.0.0:32769\n" || errOut != "" {
		t.Errorf("docker port %s 9092: exit %d, stdout %q, stderr %q; want app's 0.0.0.0:32769", host, code, out, errOut)
	}
	if got := strings.Join(f.Requests(), ","); got != "HEAD /_ping,GET /containers/app/json" {
		t.Errorf("requests %s; want app's inspection only", got)
	}

	out, errOut, code = shim("", "port", host, "9092")
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "portenv: cannot tell which container this is") || strings.Count(errOut, "\n") != 1 {
		t.Errorf("without PORTENV_CONTAINER: exit %d, stdout %q, stderr %q; want exit 1 and one line saying this container is not found", code, out, errOut)
	}

	// Named otherwise, the container is looked up as --container does.
	out, _, code = shim("", "port", "app", "9092")
	if code != 0 || out != "0.0.0.0:32769\n" {
		t.Errorf("docker port app 9092: exit %d, stdout %q", code, out)
	}
}

func TestNaturalLess(t *testing.T) {
	in := []string{"9092/tcp -> [::]:1", "9092/tcp -> 0.0.0.0:1", "53/udp -> x", "9000/tcp -> a", "10000/tcp -> a", "9000/tcp -> 0.0.0.0:32769", "9000/tcp -> 0.0.0.0:9000", "007", "7", "a", ""}
	want := []string{"", "7", "007", "53/udp -> x", "9000/tcp -> 0.0.0.0:9000", "9000/tcp -> 0.0.0.0:32769", "9000/tcp -> a", "9092/tcp -> 0.0.0.0:1", "9092/tcp -> [::]:1", "10000/tcp -> a", "a"}
	sort.SliceStable(in, func(i, j int) bool { return naturalLess(in[i], in[j]) })
	if strings.Join(in, "|") != strings.Join(want, "|") {
		t.Errorf("sorted\n %q\nwant\n %q", in, want)
	}
}
