package cluster

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAPIServerRestart: portenv starts while kube-apiserver is down (the
// pod waits for a file of a hostPath directory, which the test writes
// after stopping it), keeps trying within --timeout, and gives the right
// values once kube-apiserver is back. Not parallel: the whole cluster
// loses its API for the while.
func TestAPIServerRestart(t *testing.T) {
	need(t)
	ns := namespace(t, "restart")
	gate, err := os.MkdirTemp(cl.work, "gate-")
	if err != nil {
		t.Fatal(err)
	}
	script := `touch /gate/started; while ! [ -e /gate/go ]; do sleep 0.1; done; touch /gate/running; ` +
		`exec /portenv --timeout 60s --set 'ADDR={{addr "8080"}}' -- sh -c 'echo "values: ADDR=$ADDR"' >/gate/out 2>&1`
	p := pod{name: "restart", labels: "{app: restart}", ports: "{containerPort: 8080}", command: []string{"sh", "-c", script}, gate: gate}
	apply(t, ns, nodePortService("restart", "restart")+"---\n"+p.yaml())
	waitFile(t, filepath.Join(gate, "started"))
	hostIP := jsonpath(t, ns, "pod/restart", "{.status.hostIP}")
	nodePort := jsonpath(t, ns, "service/restart", "{.spec.ports[0].nodePort}")

	k8s(t, "stop-apiserver")
	stopped := time.Now()
	t.Cleanup(func() {
		// A failure between stop and start must not leave the cluster without its API.
		if _, err := kubectlIn("", "get", "--raw", "/readyz"); err != nil {
			k8s(t, "start-apiserver")
		}
	})
	if err := os.WriteFile(filepath.Join(gate, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(gate, "running"))
	started := time.Now()
	k8s(t, "start-apiserver")
	t.Logf("portenv started %s after kube-apiserver stopped; kube-apiserver ready again %s later",
		started.Sub(stopped).Round(100*time.Millisecond), time.Since(started).Round(100*time.Millisecond))
	out := waitFile(t, filepath.Join(gate, "out"))
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(out, "\n") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		out = waitFile(t, filepath.Join(gate, "out"))
	}
	want := fmt.Sprintf("values: ADDR=%s\n", net.JoinHostPort(hostIP, nodePort))
	if out != want {
		t.Fatalf("portenv, started while kube-apiserver was down, wrote\n%s\nwant (status.hostIP and the Service's nodePort)\n%s", out, want)
	}
	t.Logf("after the restart: %s; portenv's requests that reached kube-apiserver (audit log):\n%s", strings.TrimSpace(out), strings.Join(requests(t, ns, "kafka"), "\n"))
}

// k8s runs a subcommand of .ci/k8s.sh.
func k8s(t *testing.T, cmd string) {
	t.Helper()
	if out, err := exec.Command("bash", cl.k8s, cmd).CombinedOutput(); err != nil {
		t.Fatalf("bash %s %s: %v\n%s", cl.k8s, cmd, err, out)
	}
}

// waitFile waits up to a minute for path to exist and returns what it holds.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within a minute: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
