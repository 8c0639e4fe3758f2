package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// image is the one image every pod runs: portenv at /portenv and at
// /usr/bin/docker, the example broker at /broker, the example's
// start-kafka.sh, and busybox. It has the name the example manifests use.
const image = "portenv-kafka-example:latest"

// cl is what TestMain found and made.
var cl struct {
	repo     string // the repository's root
	work     string // binaries and hostPath directories, 0755 for the client's user
	client   string // the Kafka example's client
	nodeIP   string
	podCIDR  string
	k8s      string // .ci/k8s.sh
	auditLog string
	skip     string // why the tests skip, when they do
}

func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	repo, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/cluster:", err)
		return 1
	}
	cl.repo = repo
	if os.Getenv("PORTENV_E2E_K8S") == "" {
		if os.Getenv("PORTENV_E2E") == "1" {
			return inCluster()
		}
		cl.skip = "SKIPPING CLUSTER TEST: no Kubernetes cluster (PORTENV_E2E_K8S is not set); set PORTENV_E2E=1 to run these tests in the one of .ci/k8s.sh, or run them through `bash .ci/k8s.sh run -- go test ./e2e/cluster/`"
		fmt.Fprintln(os.Stderr, cl.skip)
		return m.Run()
	}
	cl.nodeIP = os.Getenv("PORTENV_E2E_K8S_NODE_IP")
	cl.podCIDR = os.Getenv("PORTENV_E2E_K8S_POD_CIDR")
	cl.k8s = os.Getenv("PORTENV_E2E_K8S")
	cl.auditLog = os.Getenv("PORTENV_E2E_K8S_AUDIT_LOG")
	t0 := time.Now()
	if err := setup(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e/cluster: setup failed:", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e/cluster: portenv, the broker and the client built, image %s loaded (%s)\n", image, time.Since(t0).Round(100*time.Millisecond))
	defer os.RemoveAll(cl.work)
	return m.Run()
}

// inCluster runs this test binary again, with its arguments, in the
// cluster of .ci/k8s.sh, and returns its exit status. Go modules are
// fetched first: the cluster's network namespace reaches nothing else.
func inCluster() int {
	for _, dir := range []string{cl.repo, filepath.Join(cl.repo, "examples", "kafka")} {
		cmd := exec.Command("go", "mod", "download")
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e/cluster: go mod download in %s: %v\n", dir, err)
			return 1
		}
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e/cluster:", err)
		return 1
	}
	args := append([]string{filepath.Join(cl.repo, ".ci", "k8s.sh"), "run", "--", exe}, os.Args[1:]...)
	cmd := exec.Command("bash", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return ee.ExitCode()
	case err != nil:
		fmt.Fprintf(os.Stderr, "e2e/cluster: bash .ci/k8s.sh run: %v\n", err)
		return 1
	}
	return 0
}

// need skips the test when there is no cluster and PORTENV_E2E=1 does not
// ask for one (with it, TestMain ran the tests in a cluster).
func need(t *testing.T) {
	t.Helper()
	if cl.skip != "" {
		t.Skip(cl.skip)
	}
}

// setup builds the binaries and loads the image.
func setup() error {
	work, err := os.MkdirTemp("", "portenv-e2e-cluster-")
	if err != nil {
		return err
	}
	cl.work = work
	root := filepath.Join(work, "root")
	cl.client = filepath.Join(work, "client")
	kafka := filepath.Join(cl.repo, "examples", "kafka")
	for _, b := range []struct{ dir, pkg, out string }{
		{cl.repo, "./cmd/portenv", filepath.Join(root, "portenv")},
		{kafka, "./broker", filepath.Join(root, "broker")},
		{kafka, "./client", cl.client},
	} {
		cmd := exec.Command("go", "build", "-buildvcs=false", "-o", b.out, b.pkg)
		// The namespace reaches no proxy: the modules are there already.
		cmd.Dir, cmd.Env = b.dir, append(os.Environ(), "CGO_ENABLED=0", "GOPROXY=off", "GOFLAGS=-mod=readonly")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s in %s: %v\n%s", b.pkg, b.dir, err, out)
		}
	}
	if err := imageRoot(root, kafka); err != nil {
		return err
	}
	// The client runs as another user (see restrict), who must reach it.
	for _, p := range []string{work, cl.client} {
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	out, err := exec.Command("bash", cl.k8s, "image", image, root).CombinedOutput()
	if err != nil {
		return fmt.Errorf("bash %s image %s: %v\n%s", cl.k8s, image, err, out)
	}
	return nil
}

// imageRoot fills root: busybox (the machine's busybox-static) with its
// applets in /bin, portenv also as /usr/bin/docker, the example's
// start-kafka.sh.
func imageRoot(root, kafka string) error {
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return fmt.Errorf("the image needs a static busybox at /bin/busybox (apt-get install busybox-static): %v", err)
	}
	for _, d := range []string{"bin", "usr/bin", "tmp", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			return err
		}
	}
	if err := os.Chmod(filepath.Join(root, "tmp"), 0o1777); err != nil {
		return err
	}
	portenv, err := os.ReadFile(filepath.Join(root, "portenv"))
	if err != nil {
		return err
	}
	script, err := os.ReadFile(filepath.Join(kafka, "shim", "start-kafka.sh"))
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{"bin/busybox": bb, "usr/bin/docker": portenv, "start-kafka.sh": script} {
		if err := os.WriteFile(filepath.Join(root, name), data, 0o755); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "passwd"), []byte("root:x:0:0:root:/:/bin/sh\n"), 0o644); err != nil {
		return err
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return fmt.Errorf("/bin/busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", applet)); err != nil && !errors.Is(err, os.ErrExist) {
			return err
		}
	}
	return nil
}

// kubectl runs kubectl with stdin and returns its trimmed stdout.
func kubectlIn(stdin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "kubectl", args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("kubectl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := kubectlIn("", args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// apply applies manifests in namespace ns.
func apply(t *testing.T, ns, manifests string) {
	t.Helper()
	if _, err := kubectlIn(manifests, "apply", "-n", ns, "-f", "-"); err != nil {
		t.Fatalf("%v\n%s", err, manifests)
	}
}

// jsonpath is one value of an object as the API reports it.
func jsonpath(t *testing.T, ns, object, path string) string {
	t.Helper()
	v := kubectl(t, "get", "-n", ns, object, "-o", "jsonpath="+path)
	if v == "" {
		t.Fatalf("kubectl get -n %s %s: %s is empty", ns, object, path)
	}
	return v
}

// namespace makes a namespace of its own for the test, with the
// ServiceAccount kafka and the Role of examples/kubernetes/rbac.yaml.
func namespace(t *testing.T, name string) string {
	t.Helper()
	b := make([]byte, 3)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	ns := "e2e-" + name + "-" + hex.EncodeToString(b)
	kubectl(t, "create", "namespace", ns)
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := kubectlIn("", "get", "-n", ns, "pods,services", "-o", "wide")
			t.Logf("namespace %s left for a look (the cluster goes when the run ends):\n%s", ns, out)
			return
		}
		if _, err := kubectlIn("", "delete", "namespace", ns, "--wait=false"); err != nil {
			t.Log(err)
		}
	})
	kubectl(t, "apply", "-n", ns, "-f", filepath.Join(cl.repo, "examples", "kubernetes", "rbac.yaml"))
	return ns
}

// waitLogs polls the logs of pod until they hold want, and returns them;
// the pod ending otherwise, or a minute passing, fails the test.
func waitLogs(t *testing.T, ns, pod, want string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	logs := ""
	for time.Now().Before(deadline) {
		logs, _ = kubectlIn("", "logs", "-n", ns, pod)
		if strings.Contains(logs, want) {
			return logs
		}
		if phase, _ := kubectlIn("", "get", "-n", ns, "pod", pod, "-o", "jsonpath={.status.phase}"); phase == "Failed" || phase == "Succeeded" {
			logs, _ = kubectlIn("", "logs", "-n", ns, pod)
			if strings.Contains(logs, want) {
				return logs
			}
			t.Fatalf("pod %s/%s is %s without %q in its logs:\n%s", ns, pod, phase, want, logs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	desc, _ := kubectlIn("", "describe", "pod", "-n", ns, pod)
	t.Fatalf("pod %s/%s: no %q in its logs within a minute:\n%s\n%s", ns, pod, want, logs, desc)
	return ""
}

// waitPhase polls pod until its phase is want and returns its logs.
func waitPhase(t *testing.T, ns, pod, want string) string {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	phase := ""
	for time.Now().Before(deadline) {
		phase, _ = kubectlIn("", "get", "-n", ns, "pod", pod, "-o", "jsonpath={.status.phase}")
		if phase == want {
			logs, _ := kubectlIn("", "logs", "-n", ns, pod)
			return logs
		}
		if phase == "Failed" || phase == "Succeeded" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	logs, _ := kubectlIn("", "logs", "-n", ns, pod)
	t.Fatalf("pod %s/%s is %q, want %s; logs:\n%s", ns, pod, phase, want, logs)
	return ""
}

// line is the one line of logs that starts with prefix.
func line(t *testing.T, logs, prefix string) string {
	t.Helper()
	for _, l := range strings.Split(logs, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	t.Fatalf("no line starting %q in:\n%s", prefix, logs)
	return ""
}

// answer is the first line a TCP server at addr sends, retried for 10s:
// kube-proxy and the CNI's portmap write their rules a moment after the
// pod is ready.
func answer(t *testing.T, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	got := ""
	for tries := 1; time.Now().Before(deadline); tries++ {
		got = readLine(addr)
		if got == want {
			t.Logf("%s answers %q (try %d)", addr, got, tries)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s answered %q, not %q, for 10s", addr, got, want)
}

func readLine(addr string) string {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 256)
	n, _ := c.Read(b)
	return strings.TrimSpace(string(b[:n]))
}
