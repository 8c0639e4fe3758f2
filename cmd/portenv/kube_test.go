package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/portenv/portenv/internal/kubetest"
)

// usePodFixtures points a command run by a script at the pod that the
// cluster command set up: its service account, its hostname and its
// addresses, and away from the host's Docker socket.
func usePodFixtures() {
	if d := os.Getenv("KUBETEST_SA_DIR"); d != "" {
		where.serviceAccount = d
	}
	if s := os.Getenv("KUBETEST_DOCKER_SOCKET"); s != "" {
		where.dockerSocket = s
	}
	if h, ok := os.LookupEnv("KUBETEST_HOSTNAME"); ok {
		where.hostname = func() (string, error) { return h, nil }
	}
	if ips, ok := os.LookupEnv("KUBETEST_LOCAL_IPS"); ok {
		where.localIPs = func() ([]string, error) { return strings.Split(ips, ","), nil }
	}
}

var clusters sync.Map // *testscript.TestScript to its *kubetest.Fake, and the fake to the requests checked

// cluster ROUTES serves a fake Kubernetes API, whose routes (path to
// "STATUS FILE", see kubetest.Fake) the JSON file ROUTES holds, files
// from the script's directory, for the rest of the script; the pod's
// service account is in $WORK/sa, for namespace shop. There is no Docker
// socket and no DOCKER_HOST.
func cluster(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: cluster ROUTES")
	}
	f := &kubetest.Fake{Dir: ts.Getenv("WORK")}
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), &f.Routes); err != nil {
		ts.Fatalf("cluster: %s: %v", args[0], err)
	}
	sa := filepath.Join(ts.Getenv("WORK"), "sa")
	ts.Check(os.MkdirAll(sa, 0o755))
	ts.Check(f.Start(sa, "shop"))
	ts.Defer(f.Close)
	clusters.Store(ts, f)
	for k, v := range f.Env() {
		ts.Setenv(k, v)
	}
	ts.Setenv("KUBETEST_SA_DIR", sa)
	ts.Setenv("KUBETEST_DOCKER_SOCKET", filepath.Join(ts.Getenv("WORK"), "no-docker.sock"))
	ts.Setenv("DOCKER_HOST", "")
}

// cluster-requests [REQUEST...] checks that the fake API has had exactly
// these requests ("GET /api/v1/namespaces/shop/services") since the last
// check, in order.
func clusterRequests(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := clusters.Load(ts)
	if neg || !ok {
		ts.Fatalf("usage: cluster-requests [REQUEST...], after cluster")
	}
	f := v.(*kubetest.Fake)
	got := f.Requests()
	n, _ := clusters.LoadOrStore(f, 0)
	got = got[n.(int):]
	clusters.Store(f, n.(int)+len(got))
	if strings.Join(got, "\n") != strings.Join(args, "\n") {
		ts.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(args, "\n"))
	}
}
