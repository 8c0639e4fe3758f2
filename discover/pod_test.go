package discover

import (
	"context"
	"encoding/base64"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// podCluster serves routes as the API server of a pod in namespace shop,
// with the service account of kafka.
func podCluster(t *testing.T, routes map[string]string) (*Kube, *kubeServer) {
	t.Helper()
	cert, ca := selfSigned(t, "127.0.0.1")
	srv := startKube(t, cert, routes)
	k, err := ConnectKube(kubeEnv(srv.Listener.Addr().String()), serviceAccount(t, jwt("system:serviceaccount:shop:kafka", "1"), ca))
	must(t, err)
	t.Cleanup(k.Close)
	return k, srv
}

var kafka1Routes = map[string]string{
	"/api/v1/namespaces/shop/pods/kafka-1": "200 pod-kafka-1.json",
	"/api/v1/namespaces/shop/services":     "200 services-kafka.json",
	"/api/v1/nodes/node-b":                 "200 node-b.json",
}

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func localIPs(ips ...string) func() ([]string, error) {
	return func() ([]string, error) { return ips, nil }
}

func noHostname() (string, error) { return "", nil }

// paths are the requests' methods and paths, without their headers.
func paths(s *kubeServer) []string {
	reqs, _ := s.seen()
	out := make([]string, len(reqs))
	for i, r := range reqs {
		out[i], _, _ = strings.Cut(r, " | ")
	}
	return out
}

func checkPaths(t *testing.T, s *kubeServer, want ...string) {
	t.Helper()
	if got := paths(s); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var kafka1 = Container{
	ID: "7e1b9c3a-4d2f-4b8e-a6c1-93f0d2e8b457", Name: "kafka-1", Hostname: "kafka-1", Image: "portenv-kafka-example:latest",
	Labels: map[string]string{
		"app.kubernetes.io/name": "kafka", "apps.kubernetes.io/pod-index": "1", "statefulset.kubernetes.io/pod-name": "kafka-1",
	},
	Networks: map[string]Network{"pod": {IP: "10.244.2.8", IPv6: "fd00:10:244:2::8"}},
	Ports: []Binding{
		{Port{8080, "tcp"}, "10.0.0.12", 18080},
		{Port{9092, "tcp"}, "10.0.0.12", 31091},
		{Port{9092, "tcp"}, "fd00:10::12", 31091},
		{Port{9999, "tcp"}, "10.0.0.12", 9999},
		{Port{9999, "tcp"}, "fd00:10::12", 9999},
	},
	Exposed: []Port{{8080, "tcp"}, {9092, "tcp"}, {9093, "tcp"}, {9999, "tcp"}},
}

// checkKafka1 compares c with kafka-1 as services-kafka.json publishes it.
func checkKafka1(t *testing.T, c *Container) {
	t.Helper()
	got := *c
	got.Pod = nil
	if !reflect.DeepEqual(got, kafka1) {
		t.Errorf("container\n%+v\nwant\n%+v", got, kafka1)
	}
	p := c.Pod
	want := &PodInfo{Name: "kafka-1", Namespace: "shop", Ordinal: 1, StatefulSet: "kafka", NodeName: "node-b", NodeAddress: "10.0.0.12",
		Service: &ServiceRef{Name: "kafka-1-external", Type: "NodePort"}}
	if p.Name != want.Name || p.Namespace != want.Namespace || p.Ordinal != want.Ordinal || p.StatefulSet != want.StatefulSet ||
		p.NodeName != want.NodeName || p.NodeAddress != want.NodeAddress || p.HostNetwork || *p.Service != *want.Service || p.Cluster != c.Pod.Cluster || p.Cluster == "" {
		t.Errorf("pod %+v, service %+v", p, p.Service)
	}
}

// POD_NAME names the pod, and its address, one of this process's,
// confirms it: GET the pod, list the Services, and nothing else. Of the
// two Services that publish 9092, the per-pod one is taken, and said;
// the hostPort of 9999 wins over a Service.
func TestPodByName(t *testing.T) {
	k, srv := podCluster(t, kafka1Routes)
	var said []string
	c, tried, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Getenv: env("POD_NAME", "kafka-1"), Hostname: noHostname,
		LocalIPs: localIPs("10.244.2.8", "fd00:10:244:2::8"), Infof: func(f string, a ...any) { said = append(said, fmt.Sprintf(f, a...)) }})
	if err != nil {
		t.Fatal(err)
	}
	checkKafka1(t, c)
	wantSaid := []string{
		"port 9092/tcp is published by Services kafka-1-external, kafka-bootstrap; using kafka-1-external: its selector names this pod (statefulset.kubernetes.io/pod-name)",
		"port 9999/tcp has a hostPort, which is used; Service kafka-bootstrap, which also publishes it, is not",
	}
	if strings.Join(said, "\n") != strings.Join(wantSaid, "\n") {
		t.Errorf("said:\n%s\nwant:\n%s", strings.Join(said, "\n"), strings.Join(wantSaid, "\n"))
	}
	if tried[0] != (Attempt{Method: "POD_NAME", OK: true, Result: "pod shop/kafka-1 has this process's address 10.244.2.8"}) {
		t.Errorf("first attempt %+v", tried[0])
	}
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /api/v1/namespaces/shop/services")

	// One publication on both of the node's addresses: the IPv4 one.
	b, other, err := c.Lookup(Port{9092, "tcp"})
	if err != nil || other != nil || b.Addr("") != "10.0.0.12:31091" {
		t.Errorf("9092: %+v %v %v", b, other, err)
	}
	if v4, ok := c.IPv4Twin(c.Ports[2]); !ok || v4 != c.Ports[1] {
		t.Errorf("twin of %+v: %+v %v", c.Ports[2], v4, ok)
	}
	_, _, err = c.Lookup(Port{9093, "tcp"})
	if want := "port 9093/tcp of pod kafka-1 is declared but not published: give it a hostPort, or select the pod with a NodePort or LoadBalancer Service whose targetPort is 9093 (or the port's name); published: 8080/tcp, 9092/tcp, 9999/tcp"; err == nil || err.Error() != want {
		t.Errorf("9093: %v\nwant %s", err, want)
	}

	// The Node is read once, when asked for.
	for range 2 {
		addrs, err := c.Pod.NodeAddresses()
		if err != nil || len(addrs) != 5 || addrs[2] != (NodeAddress{"ExternalIP", "198.51.100.22"}) {
			t.Fatalf("node addresses %v %v", addrs, err)
		}
	}
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /api/v1/namespaces/shop/services", "GET /api/v1/nodes/node-b")
}

// Without POD_NAME the hostname names the pod, confirmed the same way.
func TestPodByHostname(t *testing.T) {
	k, srv := podCluster(t, kafka1Routes)
	c, tried, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Getenv: env(), Hostname: func() (string, error) { return "kafka-1", nil },
		LocalIPs: localIPs("fd00:10:244:2::8")})
	if err != nil {
		t.Fatal(err)
	}
	checkKafka1(t, c)
	if tried[0] != (Attempt{Method: "hostname", OK: true, Result: "pod shop/kafka-1 has this process's address fd00:10:244:2::8"}) {
		t.Errorf("first attempt %+v", tried[0])
	}
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /api/v1/namespaces/shop/services")
}

// --container names a pod, taken as it is.
func TestPodContainerFlag(t *testing.T) {
	k, srv := podCluster(t, kafka1Routes)
	c, tried, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Container: "kafka-1", LocalIPs: localIPs()})
	if err != nil {
		t.Fatal(err)
	}
	checkKafka1(t, c)
	if tried[0].Method != "--container" || !tried[0].OK {
		t.Errorf("first attempt %+v", tried[0])
	}
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /api/v1/namespaces/shop/services")
	_, _, err = FromCluster(testCtx(t), ClusterOptions{Kube: k, Container: "kafka-7"})
	if want := `no pod "kafka-7" in namespace "shop" (GET /api/v1/namespaces/shop/pods/kafka-7 answered 404); check the name given to --container (kubectl get pods -n shop lists them)`; err == nil || err.Error() != want {
		t.Errorf("kafka-7: %v\nwant %s", err, want)
	}
}

// A pod whose address is not this process's is never taken, and the
// Services are not even listed.
func TestPodNotConfirmed(t *testing.T) {
	k, srv := podCluster(t, kafka1Routes)
	for _, tc := range []struct {
		env  func(string) string
		host string
		want string
	}{
		{env("POD_NAME", "kafka-1"), "", `cannot tell which pod this is: pod shop/kafka-1, named by POD_NAME, is not confirmed: its address 10.244.2.8, fd00:10:244:2::8 is not an address of this process (10.244.1.17, fd00:10:244:1::11); portenv never reports another pod's values: set POD_NAME from the downward API (env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}])`},
		{env(), "kafka-1", `cannot tell which pod this is: pod shop/kafka-1, named by this host's name (POD_NAME is not set), is not confirmed: its address 10.244.2.8, fd00:10:244:2::8 is not an address of this process (10.244.1.17, fd00:10:244:1::11); portenv never reports another pod's values: set POD_NAME from the downward API (env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}])`},
		{env(), "kafka-5", `no pod "kafka-5" in namespace "shop" (named by this host's name (POD_NAME is not set); GET /api/v1/namespaces/shop/pods/kafka-5 answered 404); set POD_NAME from the downward API (env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}])`},
	} {
		host := tc.host
		_, _, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Getenv: tc.env, Hostname: func() (string, error) { return host, nil },
			LocalIPs: localIPs("10.244.1.17", "fd00:10:244:1::11")})
		if err == nil || err.Error() != tc.want {
			t.Errorf("%v\nwant %s", err, tc.want)
		}
	}
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /api/v1/namespaces/shop/pods/kafka-5")
}

var webRoutes = map[string]string{
	"/api/v1/namespaces/shop/pods/web-6d4cf56db6-x2x7q": "200 pod-web.json",
}

// A LoadBalancer without an address yet is listed again until it has
// one; its addresses come first, then the node port on the node's (here
// IPv6 only) address.
func TestPodLoadBalancerWaited(t *testing.T) {
	routes := map[string]string{"/api/v1/namespaces/shop/services": "200 services-web-pending.json | 200 services-web-pending.json | 200 services-web-ready.json"}
	for k, v := range webRoutes {
		routes[k] = v
	}
	k, srv := podCluster(t, routes)
	c, _, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Getenv: env("POD_NAME", "web-6d4cf56db6-x2x7q"), LocalIPs: localIPs("fd00:10:244:3::5")})
	if err != nil {
		t.Fatal(err)
	}
	want := []Binding{
		{Port{8080, "tcp"}, "203.0.113.40", 80},
		{Port{8080, "tcp"}, "web.lb.example.net", 80},
		{Port{8080, "tcp"}, "fd00:10::13", 30080},
	}
	if !reflect.DeepEqual(c.Ports, want) || c.Image != "" || *c.Pod.Service != (ServiceRef{"web", "LoadBalancer"}) || c.Pod.Ordinal != -1 {
		t.Errorf("ports %+v, image %q, pod %+v", c.Ports, c.Image, c.Pod)
	}
	b, other, err := c.Lookup(Port{8080, "tcp"})
	if err != nil || b.Addr("") != "203.0.113.40:80" || other == nil || other.HostPort != 30080 {
		t.Errorf("8080: %+v %+v %v", b, other, err)
	}
	if a := c.Ports[1].Addr(""); a != "web.lb.example.net:80" {
		t.Errorf("hostname ingress %s", a)
	}
	if a := c.Ports[2].Addr(""); a != "[fd00:10::13]:30080" {
		t.Errorf("IPv6 node %s", a)
	}
	svc := "GET /api/v1/namespaces/shop/services"
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/web-6d4cf56db6-x2x7q", svc, svc, svc)
}

// A LoadBalancer that never gets an address fails at the timeout, with
// what to check.
func TestPodLoadBalancerNever(t *testing.T) {
	routes := map[string]string{"/api/v1/namespaces/shop/services": "200 services-web-pending.json"}
	for k, v := range webRoutes {
		routes[k] = v
	}
	k, _ := podCluster(t, routes)
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	_, _, err := FromCluster(ctx, ClusterOptions{Kube: k, Getenv: env("POD_NAME", "web-6d4cf56db6-x2x7q"), LocalIPs: localIPs("fd00:10:244:3::5")})
	want := "the LoadBalancer Service web has no ingress address after 400ms (--timeout), so port 8080/tcp of pod web-6d4cf56db6-x2x7q has no address outside the cluster yet (kubectl get service -n shop web shows EXTERNAL-IP <pending>); check that the cluster runs a load balancer controller, raise --timeout, or use type NodePort"
	if err == nil || err.Error() != want {
		t.Errorf("%v\nwant %s", err, want)
	}

	// The message names the --timeout given, not the time left when the
	// search began, which is a little less.
	ctx, cancel = context.WithTimeout(context.Background(), 320*time.Millisecond)
	defer cancel()
	_, _, err = FromCluster(ctx, ClusterOptions{Kube: k, Getenv: env("POD_NAME", "web-6d4cf56db6-x2x7q"), LocalIPs: localIPs("fd00:10:244:3::5"), Timeout: 400 * time.Millisecond})
	if err == nil || err.Error() != want {
		t.Errorf("with Timeout: %v\nwant %s", err, want)
	}
}

// A refused list of Services is the client's one line, after the pod.
func TestPodServicesRefused(t *testing.T) {
	k, srv := podCluster(t, map[string]string{
		"/api/v1/namespaces/shop/pods/kafka-1": "200 pod-kafka-1.json",
		"/api/v1/namespaces/shop/services":     "403 forbidden-services.json",
		"/readyz":                              "200 ok",
	})
	_, _, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Getenv: env("POD_NAME", "kafka-1"), LocalIPs: localIPs("10.244.2.8")})
	want := `the service account "shop:kafka" may not list services in namespace "shop" (403 Forbidden); add to its Role: {apiGroups: [""], resources: ["services"], verbs: ["list"]}`
	if err == nil || err.Error() != want {
		t.Errorf("%v\nwant %s", err, want)
	}
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /api/v1/namespaces/shop/services", "GET /readyz")
}

// An API server that has just started refuses everything until its
// authorizer has read the Roles, and says it is not ready: its 403 is
// asked again, within the timeout (seen on a real cluster whose
// kube-apiserver restarted while portenv started).
func TestPodRefusedWhileStarting(t *testing.T) {
	routes := map[string]string{
		"/api/v1/namespaces/shop/pods/kafka-1": "403 forbidden-services.json | 200 pod-kafka-1.json",
		"/readyz":                              "500 [-]poststarthook/rbac/bootstrap-roles failed: not finished | 200 ok",
	}
	for k, v := range kafka1Routes {
		if routes[k] == "" {
			routes[k] = v
		}
	}
	k, srv := podCluster(t, routes)
	c, _, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Getenv: env("POD_NAME", "kafka-1"), LocalIPs: localIPs("10.244.2.8")})
	if err != nil {
		t.Fatal(err)
	}
	checkKafka1(t, c)
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /readyz", "GET /api/v1/namespaces/shop/pods/kafka-1", "GET /api/v1/namespaces/shop/services")

	// Never ready: the refusal at the timeout, and why it was asked again.
	routes["/api/v1/namespaces/shop/pods/kafka-1"] = "403 forbidden-services.json"
	routes["/readyz"] = "500 [-]poststarthook/rbac/bootstrap-roles failed: not finished"
	k, _ = podCluster(t, routes)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, _, err = FromCluster(ctx, ClusterOptions{Kube: k, Getenv: env("POD_NAME", "kafka-1"), LocalIPs: localIPs("10.244.2.8")})
	want := `the service account "shop:kafka" may not get pods in namespace "shop" (403 Forbidden); add to its Role: {apiGroups: [""], resources: ["pods"], verbs: ["get"]}; the API server was not ready yet (GET /readyz), so its refusal may not be its last word`
	if err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("%v\nwant it to end with %s", err, want)
	}
}

// The ordinal is a StatefulSet's pod's, named after it.
func TestPodOrdinal(t *testing.T) {
	ss := []OwnerReference{{Kind: "StatefulSet", Name: "kafka"}}
	for _, tc := range []struct {
		m    ObjectMeta
		set  string
		want int
	}{
		{ObjectMeta{Name: "kafka-12", OwnerReferences: ss}, "kafka", 12},
		{ObjectMeta{Name: "kafka-0", OwnerReferences: ss}, "kafka", 0},
		{ObjectMeta{Name: "kafka-01", OwnerReferences: ss}, "", -1},
		{ObjectMeta{Name: "kafka-x", OwnerReferences: ss}, "", -1},
		{ObjectMeta{Name: "other-1", OwnerReferences: ss}, "", -1},
		{ObjectMeta{Name: "web-1", OwnerReferences: []OwnerReference{{Kind: "ReplicaSet", Name: "web"}}}, "", -1},
	} {
		if set, n := ordinal(tc.m); set != tc.set || n != tc.want {
			t.Errorf("%s: %q %d, want %q %d", tc.m.Name, set, n, tc.set, tc.want)
		}
	}
}

// With hostNetwork the pod's address is the node's, which confirms it,
// and its declared ports are on the node at their own numbers, as the API
// sets each hostPort to its containerPort.
func TestPodHostNetwork(t *testing.T) {
	pod := `200 {"metadata": {"name": "edge-0", "namespace": "shop", "uid": "u-edge-0"},
	 "spec": {"hostNetwork": true, "nodeName": "node-b", "containers": [{"name": "edge", "ports": [{"containerPort": 8443, "hostPort": 8443, "protocol": "TCP"}]}]},
	 "status": {"hostIP": "10.0.0.12", "hostIPs": [{"ip": "10.0.0.12"}], "podIP": "10.0.0.12", "podIPs": [{"ip": "10.0.0.12"}]}}`
	k, srv := podCluster(t, map[string]string{
		"/api/v1/namespaces/shop/pods/edge-0": pod,
		"/api/v1/namespaces/shop/services":    `200 {"items": []}`,
	})
	c, tried, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Getenv: env("POD_NAME", "edge-0"), LocalIPs: localIPs("10.0.0.12", "172.17.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	want := []Binding{{Port{8443, "tcp"}, "10.0.0.12", 8443}}
	if !reflect.DeepEqual(c.Ports, want) || !c.Pod.HostNetwork || c.Pod.Service != nil || tried[0].Result != "pod shop/edge-0 has this process's address 10.0.0.12" {
		t.Errorf("ports %+v, pod %+v, tried %+v", c.Ports, c.Pod, tried)
	}
	checkPaths(t, srv, "GET /api/v1/namespaces/shop/pods/edge-0", "GET /api/v1/namespaces/shop/services")
}

// boundJWT is a token as the kubelet projects it: bound to a pod, which its
// kubernetes.io claim names.
func boundJWT(pod, uid string) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." +
		enc([]byte(`{"aud":["https://kubernetes.default.svc.cluster.local"],"sub":"system:serviceaccount:shop:kafka","kubernetes.io":{"namespace":"shop","pod":{"name":"`+pod+`","uid":"`+uid+`"},"serviceaccount":{"name":"kafka","uid":"5"}}}`)) +
		".c2lnbmF0dXJl"
}

// A token bound to the pod names it and proves it: no POD_NAME, no
// hostname, no address of this process needed, and the two requests of
// the common case. A token bound to a pod of another uid (one deleted and
// made again under its name) proves nothing: the name and the address
// decide, as without a bound token.
func TestPodByBoundToken(t *testing.T) {
	cert, ca := selfSigned(t, "127.0.0.1")
	srv := startKube(t, cert, kafka1Routes)
	for _, tc := range []struct {
		uid, err string
		attempt  Attempt
	}{
		{"7e1b9c3a-4d2f-4b8e-a6c1-93f0d2e8b457", "",
			Attempt{Method: "token", OK: true, Result: "pod shop/kafka-1, to which the service account token mounted here is bound (uid 7e1b9c3a-4d2f-4b8e-a6c1-93f0d2e8b457)"}},
		{"0000", "POD_NAME is not set and this host has no name, so no pod can be named; set POD_NAME from the downward API (env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}])",
			Attempt{Method: "token", Result: "the service account token is bound to pod kafka-1 of uid 0000, but the pod of that name has uid 7e1b9c3a-4d2f-4b8e-a6c1-93f0d2e8b457"}},
	} {
		k, err := ConnectKube(kubeEnv(srv.Listener.Addr().String()), serviceAccount(t, boundJWT("kafka-1", tc.uid), ca))
		must(t, err)
		before := len(paths(srv))
		c, tried, err := FromCluster(testCtx(t), ClusterOptions{Kube: k, Getenv: env(), Hostname: noHostname, LocalIPs: localIPs("192.0.2.1")})
		k.Close()
		if len(tried) == 0 || tried[0] != tc.attempt {
			t.Errorf("uid %s: first attempt %+v, want %+v", tc.uid, tried, tc.attempt)
		}
		if tc.err != "" {
			if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
				t.Errorf("uid %s: error %v, want %s...", tc.uid, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		checkKafka1(t, c)
		if got := paths(srv)[before:]; strings.Join(got, ",") != "GET /api/v1/namespaces/shop/pods/kafka-1,GET /api/v1/namespaces/shop/services" {
			t.Errorf("requests %v, want the pod and the services", got)
		}
	}
}
