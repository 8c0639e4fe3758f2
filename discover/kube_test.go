package discover

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/kubetest"
)

// selfSigned makes a certificate for ips that is its own CA, as a
// cluster's API server certificate is for its CA in these tests.
func selfSigned(t *testing.T, ips ...string) (tls.Certificate, []byte) {
	t.Helper()
	cert, ca, err := kubetest.SelfSigned(ips...)
	if err != nil {
		t.Fatal(err)
	}
	return cert, ca
}

// jwt is a token shaped as the kubelet's, unsigned: portenv reads its
// subject and never verifies it.
func jwt(sub, serial string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." +
		enc([]byte(`{"aud":["https://kubernetes.default.svc.cluster.local"],"iss":"https://kubernetes.default.svc.cluster.local","sub":"`+sub+`","jti":"`+serial+`"}`)) +
		".c2lnbmF0dXJl"
}

// serviceAccount writes a service account directory as the kubelet
// mounts it, its files links into a ..data directory that is swapped
// when the token is renewed.
func serviceAccount(t *testing.T, token string, ca []byte) string {
	t.Helper()
	dir := t.TempDir()
	data := filepath.Join(dir, "..2026_03_02_09_14_27.1")
	must(t, os.Mkdir(data, 0o755))
	must(t, os.WriteFile(filepath.Join(data, "token"), []byte(token), 0o644))
	must(t, os.WriteFile(filepath.Join(data, "ca.crt"), ca, 0o644))
	must(t, os.WriteFile(filepath.Join(data, "namespace"), []byte("shop"), 0o644))
	must(t, os.Symlink(filepath.Base(data), filepath.Join(dir, "..data")))
	for _, f := range []string{"token", "ca.crt", "namespace"} {
		must(t, os.Symlink(filepath.Join("..data", f), filepath.Join(dir, f)))
	}
	return dir
}

// renewToken replaces the token as the kubelet does: a new ..data
// directory, swapped in by a rename. The new file has the old one's size
// and time, so that only its identity tells it apart.
func renewToken(t *testing.T, dir, token string) {
	t.Helper()
	old, err := os.Stat(filepath.Join(dir, "token"))
	must(t, err)
	data, err := os.MkdirTemp(dir, "..2026_03_02_10_09_27.")
	must(t, err)
	for _, f := range []string{"ca.crt", "namespace"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		must(t, err)
		must(t, os.WriteFile(filepath.Join(data, f), b, 0o644))
	}
	tok := filepath.Join(data, "token")
	must(t, os.WriteFile(tok, []byte(token), 0o644))
	must(t, os.Chtimes(tok, old.ModTime(), old.ModTime()))
	must(t, os.Symlink(filepath.Base(data), filepath.Join(dir, "..data_tmp")))
	must(t, os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")))
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// kubeServer answers as an API server from the fixtures in
// testdata/kube, and records each request and connection.
type kubeServer struct {
	*httptest.Server
	// routes answer each path: "STATUS file", or answers in turn
	// separated by " | ", the last one repeated.
	routes map[string]string

	mu       sync.Mutex
	requests []string
	conns    int
	asked    map[string]int
}

func startKube(t *testing.T, cert tls.Certificate, routes map[string]string) *kubeServer {
	t.Helper()
	s := &kubeServer{routes: routes}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func (s *kubeServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r.Method+" "+r.URL.RequestURI()+" | "+r.Header.Get("Authorization")+" | "+r.Header.Get("Accept"))
	if s.asked == nil {
		s.asked = map[string]int{}
	}
	n := s.asked[r.URL.Path]
	s.asked[r.URL.Path]++
	s.mu.Unlock()
	route, ok := s.routes[r.URL.Path]
	if !ok {
		route = "404 notfound-pod.json"
	}
	turns := strings.Split(route, " | ")
	route = turns[min(n, len(turns)-1)]
	status, file, _ := strings.Cut(route, " ")
	code := map[string]int{"200": 200, "401": 401, "403": 403, "404": 404, "500": 500, "503": 503}[status]
	body := []byte(file)
	if strings.HasSuffix(file, ".json") {
		b, err := os.ReadFile(filepath.Join("testdata", "kube", file))
		if err != nil {
			code, body = 500, []byte(err.Error())
		} else {
			body = b
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
}

func (s *kubeServer) seen() ([]string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...), s.conns
}

// kubeEnv is the environment of a pod whose API server is at addr.
func kubeEnv(addr string) func(string) string {
	host, port, _ := net.SplitHostPort(addr)
	env := map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
	return func(k string) string { return env[k] }
}

var kubeRoutes = map[string]string{
	"/api/v1/namespaces/shop/pods/kafka-0": "200 pod.json",
	"/api/v1/namespaces/shop/services":     "200 services.json",
	"/api/v1/nodes/node-a":                 "200 node.json",
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The three reads, each with the token as it is at that moment, over one
// TLS connection checked against the cluster's CA, decode the fields
// portenv reads.
func TestKubeReads(t *testing.T) {
	cert, ca := selfSigned(t, "127.0.0.1")
	srv := startKube(t, cert, kubeRoutes)
	first, second := jwt("system:serviceaccount:shop:kafka", "1"), jwt("system:serviceaccount:shop:kafka", "2")
	dir := serviceAccount(t, first, ca)
	k, err := ConnectKube(kubeEnv(srv.Listener.Addr().String()), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if k.Namespace != "shop" || k.Endpoint != srv.Listener.Addr().String() {
		t.Errorf("namespace %q, endpoint %q", k.Namespace, k.Endpoint)
	}
	ctx := testCtx(t)
	pod, err := k.Pod(ctx, k.Namespace, "kafka-0")
	if err != nil {
		t.Fatal(err)
	}
	renewToken(t, dir, second)
	svcs, err := k.Services(ctx, "shop")
	if err != nil {
		t.Fatal(err)
	}
	node, err := k.Node(ctx, pod.Spec.NodeName)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*pod, wantPod) {
		t.Errorf("pod\n%+v\nwant\n%+v", *pod, wantPod)
	}
	if !reflect.DeepEqual(*svcs, wantServices) {
		t.Errorf("services\n%+v\nwant\n%+v", *svcs, wantServices)
	}
	if !reflect.DeepEqual(*node, wantNode) {
		t.Errorf("node\n%+v\nwant\n%+v", *node, wantNode)
	}
	reqs, conns := srv.seen()
	want := []string{
		"GET /api/v1/namespaces/shop/pods/kafka-0 | Bearer " + first + " | application/json",
		"GET /api/v1/namespaces/shop/services | Bearer " + second + " | application/json",
		"GET /api/v1/nodes/node-a | Bearer " + second + " | application/json",
	}
	if strings.Join(reqs, "\n") != strings.Join(want, "\n") || conns != 1 {
		t.Errorf("requests on %d connections:\n%s\nwant on 1:\n%s", conns, strings.Join(reqs, "\n"), strings.Join(want, "\n"))
	}
	// Read when connecting, and once after the renewal: a token that has
	// not changed is not read again.
	if k.token.reads != 2 {
		t.Errorf("the token was read %d times, want 2", k.token.reads)
	}
}

var wantPod = Pod{
	Metadata: ObjectMeta{
		Name: "kafka-0", Namespace: "shop", UID: "5d0a3c1e-8f2b-4a77-9c55-0e4b3f6a2d91",
		Labels: map[string]string{
			"app.kubernetes.io/name": "kafka", "apps.kubernetes.io/pod-index": "0",
			"controller-revision-hash": "kafka-6b8d9c7f4d", "statefulset.kubernetes.io/pod-name": "kafka-0",
		},
		OwnerReferences: []OwnerReference{{Kind: "StatefulSet", Name: "kafka"}},
	},
	Spec: PodSpec{NodeName: "node-a", Hostname: "kafka-0", Containers: []PodContainer{
		{Name: "broker", Image: "apache/kafka:3.9.0", Ports: []ContainerPort{
			{Name: "external", ContainerPort: 9092, HostPort: 30092, Protocol: "TCP"},
			{Name: "internal", ContainerPort: 9093, Protocol: "TCP"},
			{Name: "jmx", ContainerPort: 9999, HostPort: 9999, HostIP: "10.0.0.11", Protocol: "TCP"},
		}},
		{Name: "metrics", Image: "prom/statsd-exporter:v0.28.0", Ports: []ContainerPort{{Name: "statsd", ContainerPort: 9125, Protocol: "UDP"}}},
	}},
	Status: PodStatus{
		Phase: "Running",
		PodIP: "10.244.1.17", PodIPs: []PodIP{{"10.244.1.17"}, {"fd00:10:244:1::11"}},
		HostIP: "10.0.0.11", HostIPs: []PodIP{{"10.0.0.11"}, {"fd00:10::11"}},
	},
}

var wantServices = ServiceList{Items: []Service{
	{
		Metadata: ObjectMeta{Name: "kafka-headless", Namespace: "shop", UID: "0b9e7c2d-1a3f-4d5e-8f6a-7b8c9d0e1f2a", Labels: map[string]string{"app.kubernetes.io/name": "kafka"}},
		Spec: ServiceSpec{Type: "ClusterIP", Selector: map[string]string{"app.kubernetes.io/name": "kafka"},
			Ports: []ServicePort{{Name: "internal", Port: 9093, TargetPort: IntOrString{Str: "internal"}, Protocol: "TCP"}}},
	},
	{
		Metadata: ObjectMeta{Name: "kafka-external", Namespace: "shop", UID: "6c5d4e3f-2a1b-4c0d-9e8f-7a6b5c4d3e2f", Labels: map[string]string{"app.kubernetes.io/name": "kafka", "exposure": "nodeport"}},
		Spec: ServiceSpec{Type: "NodePort", Selector: map[string]string{"app.kubernetes.io/name": "kafka", "statefulset.kubernetes.io/pod-name": "kafka-0"},
			Ports: []ServicePort{{Name: "external", Port: 9094, TargetPort: IntOrString{Int: 9092}, NodePort: 31094, Protocol: "TCP"}}},
	},
	{
		Metadata: ObjectMeta{Name: "kafka-lb", Namespace: "shop", UID: "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"},
		Spec: ServiceSpec{Type: "LoadBalancer", Selector: map[string]string{"app.kubernetes.io/name": "kafka"},
			Ports: []ServicePort{
				{Name: "client", Port: 9092, TargetPort: IntOrString{Str: "external"}, NodePort: 32092, Protocol: "TCP"},
				{Name: "metrics", Port: 9125, TargetPort: IntOrString{Int: 9125}, NodePort: 30125, Protocol: "UDP"},
			}},
		Status: ServiceStatus{LoadBalancer: LoadBalancerStatus{Ingress: []LoadBalancerIngress{
			{IP: "203.0.113.40"}, {Hostname: "a1b2c3d4e5f6-1234567890.elb.eu-west-1.amazonaws.com"},
		}}},
	},
	{
		Metadata: ObjectMeta{Name: "zookeeper", Namespace: "shop", UID: "1e2d3c4b-5a69-4788-9a0b-c1d2e3f4a5b6", Labels: map[string]string{"app.kubernetes.io/name": "zookeeper"}},
		Spec: ServiceSpec{Type: "ClusterIP", Selector: map[string]string{"app.kubernetes.io/name": "zookeeper"},
			Ports: []ServicePort{{Name: "client", Port: 2181, TargetPort: IntOrString{Int: 2181}, Protocol: "TCP"}}},
	},
}}

var wantNode = Node{
	Metadata: ObjectMeta{Name: "node-a", UID: "2b3c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e", Labels: map[string]string{
		"beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
		"kubernetes.io/hostname": "node-a", "kubernetes.io/os": "linux", "topology.kubernetes.io/zone": "eu-west-1a",
	}},
	Status: NodeStatus{Addresses: []NodeAddress{
		{"InternalIP", "10.0.0.11"}, {"InternalIP", "fd00:10::11"}, {"ExternalIP", "198.51.100.21"},
		{"Hostname", "node-a"}, {"InternalDNS", "ip-10-0-0-11.eu-west-1.compute.internal"},
	}},
}

func TestIntOrString(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want IntOrString
		text string
	}{
		{`8080`, IntOrString{Int: 8080}, "8080"},
		{`"http"`, IntOrString{Str: "http"}, "http"},
		{`null`, IntOrString{}, "0"},
	} {
		var v IntOrString
		if err := v.UnmarshalJSON([]byte(tc.in)); err != nil || v != tc.want || v.String() != tc.text {
			t.Errorf("%s: %+v %q %v, want %+v %q", tc.in, v, v.String(), err, tc.want, tc.text)
		}
	}
}

// Refusals name who was refused, what, and the rule that would allow
// it; a pod that does not exist is told apart. Each is one request, and a
// 403 one more: GET /readyz, which says that the refusal is the ready
// API server's word.
func TestKubeRefusals(t *testing.T) {
	cert, ca := selfSigned(t, "127.0.0.1")
	srv := startKube(t, cert, map[string]string{
		"/api/v1/namespaces/shop/services":     "403 forbidden-services.json",
		"/api/v1/nodes/node-a":                 "403 forbidden-nodes.json",
		"/api/v1/namespaces/shop/pods/kafka-0": `403 {"kind":"Status","status":"Failure","message":"Forbidden","code":403}`,
		"/api/v1/namespaces/shop/pods/kafka-1": "401 unauthorized.json",
		"/api/v1/namespaces/shop/pods/kafka-2": "503 the apiserver is shutting down",
		"/readyz":                              "200 ok",
	})
	dir := serviceAccount(t, jwt("system:serviceaccount:shop:kafka", "1"), ca)
	k, err := ConnectKube(kubeEnv(srv.Listener.Addr().String()), dir)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ctx := testCtx(t)
	read := func(what string) error {
		var err error
		switch what {
		case "services":
			_, err = k.Services(ctx, "shop")
		case "node-a":
			_, err = k.Node(ctx, what)
		default:
			_, err = k.Pod(ctx, "shop", what)
		}
		return err
	}
	ep := srv.Listener.Addr().String()
	for _, tc := range []struct {
		read     string
		status   int
		notFound bool
		retry    bool
		want     string
	}{
		{"services", 403, false, false, `the service account "shop:kafka" may not list services in namespace "shop" (403 Forbidden); add to its Role: {apiGroups: [""], resources: ["services"], verbs: ["list"]}`},
		{"node-a", 403, false, false, `the service account "shop:kafka" may not get nodes (403 Forbidden); add to a ClusterRole bound to it (nodes belong to no namespace): {apiGroups: [""], resources: ["nodes"], verbs: ["get"]}`},
		{"kafka-0", 403, false, false, `the service account "shop:kafka" may not get pods in namespace "shop" (403 Forbidden); add to its Role: {apiGroups: [""], resources: ["pods"], verbs: ["get"]}`},
		{"kafka-1", 401, false, false, `the Kubernetes API at ` + ep + ` did not accept the token of the service account "shop:kafka" to get pods in namespace "shop" (401 Unauthorized); the token in ` + dir + `/token may have expired or belong to another cluster: check that the pod mounts its service account token (automountServiceAccountToken) and that the service account exists`},
		{"kafka-9", 404, true, false, `the Kubernetes API at ` + ep + ` knows no pod "shop/kafka-9" (GET /api/v1/namespaces/shop/pods/kafka-9 answered 404 Not Found)`},
		{"kafka-2", 503, false, true, `GET /api/v1/namespaces/shop/pods/kafka-2 at the Kubernetes API at ` + ep + ` failed: 503 Service Unavailable (the apiserver is shutting down)`},
	} {
		err := read(tc.read)
		var ke *KubeError
		if !errors.As(err, &ke) || ke.Status != tc.status || errors.Is(err, ErrKubeNotFound) != tc.notFound || ke.Temporary() != tc.retry || err.Error() != tc.want {
			t.Errorf("%s: %v\nwant status %d, not found %v, temporary %v:\n%s", tc.read, err, tc.status, tc.notFound, tc.retry, tc.want)
		}
	}
	if reqs, conns := srv.seen(); len(reqs) != 9 || conns != 1 {
		t.Errorf("%d requests on %d connections, want 9 on 1", len(reqs), conns)
	}
}

// What answers in the API server's place, or nothing at all, is named
// with the variables that chose the address and what to check.
func TestKubeUnreachable(t *testing.T) {
	cert, ca := selfSigned(t, "127.0.0.1")
	other, _ := selfSigned(t, "127.0.0.1")
	ctx := testCtx(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closedAddr := closed.Addr().String()
	closed.Close()
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	foreign := startKube(t, other, kubeRoutes)
	right := startKube(t, cert, kubeRoutes)
	_, rightPort, _ := net.SplitHostPort(right.Listener.Addr().String())
	const suffix = "; check that a NetworkPolicy or firewall lets the pod reach the API server"
	for _, tc := range []struct {
		name, host, port string
		want             string
	}{
		{"closed", "127.0.0.1", portOf(closedAddr), "connection refused: nothing listens there" + suffix},
		{"plain", "127.0.0.1", portOf(plain.Listener.Addr().String()), "it does not speak TLS; KUBERNETES_SERVICE_PORT must be the API server's TLS port, as the kubelet sets it"},
		{"foreign", "127.0.0.1", portOf(foreign.Listener.Addr().String()), "its TLS certificate is not signed by the cluster's CA in DIR/ca.crt; check that DIR/ca.crt is this cluster's and that nothing between the pod and the API server answers in its place"},
		{"name", "localhost", rightPort, "its TLS certificate is not for localhost; KUBERNETES_SERVICE_HOST must be the address of the kubernetes Service, which the API server's certificate names"},
	} {
		dir := serviceAccount(t, jwt("system:serviceaccount:shop:kafka", "1"), ca)
		env := map[string]string{"KUBERNETES_SERVICE_HOST": tc.host, "KUBERNETES_SERVICE_PORT": tc.port}
		k, err := ConnectKube(func(k string) string { return env[k] }, dir)
		must(t, err)
		_, err = k.Pod(ctx, "shop", "kafka-0")
		want := "cannot reach the Kubernetes API at " + net.JoinHostPort(tc.host, tc.port) + " (KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT): " + strings.ReplaceAll(tc.want, "DIR", dir)
		var ke *KubeError
		if !errors.As(err, &ke) || ke.Status != 0 || ke.Temporary() != (tc.name == "closed") || err.Error() != want {
			t.Errorf("%s: %v\nwant\n%s", tc.name, err, want)
		}
	}
	if reqs, _ := right.seen(); len(reqs) != 0 {
		t.Errorf("requests %q reached the server whose certificate does not name the host", reqs)
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func TestConnectKubeConfig(t *testing.T) {
	_, ca := selfSigned(t, "127.0.0.1")
	good := serviceAccount(t, jwt("system:serviceaccount:shop:kafka", "1"), ca)
	empty := t.TempDir()
	bad := t.TempDir()
	must(t, os.WriteFile(filepath.Join(bad, "token"), []byte("a b\n"), 0o644))
	noCA := t.TempDir()
	must(t, os.WriteFile(filepath.Join(noCA, "token"), []byte("t\n"), 0o644))
	must(t, os.WriteFile(filepath.Join(noCA, "ca.crt"), []byte("not pem"), 0o644))
	for _, tc := range []struct {
		host, port, dir string
		want            string // the endpoint, or the error
	}{
		{"10.96.0.1", "443", good, "10.96.0.1:443"},
		{"fd00:96::1", "443", good, "[fd00:96::1]:443"},
		{"[fd00:96::1]", "6443", good, "[fd00:96::1]:6443"},
		{"", "", good, `KUBERNETES_SERVICE_HOST="" and KUBERNETES_SERVICE_PORT="": portenv finds the Kubernetes API through both, which the kubelet sets in every container of a pod; is portenv running in a pod?`},
		{"10.96.0.1", "https", good, `KUBERNETES_SERVICE_PORT="https" is not a port number; the kubelet sets it to the API server's port, such as 443`},
		{"10.96.0.1", "443", empty, "the service account token " + empty + "/token cannot be used (it does not exist); portenv asks the Kubernetes API with it: mount the pod's service account token (automountServiceAccountToken: true)"},
		{"10.96.0.1", "443", bad, "the service account token " + bad + "/token cannot be used (it holds more than one word); portenv asks the Kubernetes API with it: mount the pod's service account token (automountServiceAccountToken: true)"},
		{"10.96.0.1", "443", noCA, "the cluster's CA " + noCA + "/ca.crt holds no certificate in PEM; it must be the service account's ca.crt, as the kubelet mounts it"},
	} {
		env := map[string]string{"KUBERNETES_SERVICE_HOST": tc.host, "KUBERNETES_SERVICE_PORT": tc.port}
		getenv := func(k string) string { return env[k] }
		k, err := ConnectKube(getenv, tc.dir)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = k.Endpoint
		}
		if got != tc.want || InCluster(getenv) != (tc.host != "") {
			t.Errorf("%q %q: %s\nwant %s", tc.host, tc.port, got, tc.want)
		}
	}
}

func TestTokenSubject(t *testing.T) {
	for tok, want := range map[string]string{
		jwt("system:serviceaccount:shop:kafka", "1"): "system:serviceaccount:shop:kafka",
		"opaque-token": "",
		"a.!!.c":       "",
	} {
		if got := tokenSubject(tok); got != want {
			t.Errorf("tokenSubject(%q) = %q, want %q", tok, got, want)
		}
	}
}
