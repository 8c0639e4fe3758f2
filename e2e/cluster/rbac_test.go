package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRBAC: the refusals are one exact line each; the Role of
// examples/kubernetes/rbac.yaml is enough for the common case, which
// sends exactly two requests, at a pod's first start too (the API server's
// audit log): the pod is named and proven by the service account token
// bound to it; the ClusterRole of rbac-nodes.yaml lets the node be read.
func TestRBAC(t *testing.T) {
	need(t)
	t.Parallel()
	ns := namespace(t, "rbac")
	apply(t, ns, nodePortService("counted", "counted")+`---
apiVersion: v1
kind: ServiceAccount
metadata: {name: nolist}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: getpods}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: nolist}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: getpods}
subjects: [{kind: ServiceAccount, name: nolist}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: counted}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: counted}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: portenv}
subjects: [{kind: ServiceAccount, name: counted}]
`)
	// Each pod prints the variables and ends.
	print := []string{"/portenv", "--format", "dotenv", "--set", `ADDR={{addr "8080"}}`}
	apply(t, ns, pod{name: "nolist", sa: "nolist", ports: "{containerPort: 8080}", command: print}.yaml()+"---\n"+
		pod{name: "nonode", ports: "{containerPort: 8080}", command: []string{"/portenv", "--format", "dotenv", "--set", "EXT={{.Node.ExternalIP}}"}}.yaml()+"---\n"+
		pod{name: "counted", sa: "counted", labels: "{app: counted}", ports: "{containerPort: 8080}", command: print}.yaml())

	refusals(t, ns)
	countedStart(t, ns)
	nodeReader(t, ns)
}

// refusals: the pods nolist and nonode end with one exact line each; the
// requests of nonode, a pod's first start, are read in the audit log.
func refusals(t *testing.T, ns string) {
	t.Helper()
	want := fmt.Sprintf(`portenv: the service account "%s:nolist" may not list services in namespace "%s" (403 Forbidden); add to its Role: {apiGroups: [""], resources: ["services"], verbs: ["list"]}`, ns, ns)
	if got := strings.TrimSpace(waitPhase(t, ns, "nolist", "Failed")); got != want {
		t.Errorf("without list on services, the pod's logs are\n%s\nwant\n%s", got, want)
	}
	want = fmt.Sprintf(`portenv: --set EXT: the service account "%s:kafka" may not get nodes (403 Forbidden); add to a ClusterRole bound to it (nodes belong to no namespace): {apiGroups: [""], resources: ["nodes"], verbs: ["get"]}`, ns)
	if got := strings.TrimSpace(waitPhase(t, ns, "nonode", "Failed")); got != want {
		t.Errorf(".Node.ExternalIP without get on nodes: the pod's logs are\n%s\nwant\n%s", got, want)
	}
	// A pod's first start: the pod (named by its bound token), the
	// Services, then the Node.
	reqs := requests(t, ns, "kafka")
	t.Logf("requests of %s:kafka (pod nonode, a first start; audit log):\n%s", ns, strings.Join(reqs, "\n"))
	want = strings.Join([]string{fmt.Sprintf("get /api/v1/namespaces/%s/pods/nonode 200", ns),
		fmt.Sprintf("list /api/v1/namespaces/%s/services 200", ns),
		"get /api/v1/nodes/" + jsonpath(t, ns, "pod/nonode", "{.spec.nodeName}") + " 403",
		// Whether the refusal is the ready API server's word.
		"get /readyz 200"}, "\n")
	if got := strings.Join(reqs, "\n"); got != want {
		t.Errorf("requests of pod nonode are\n%s\nwant exactly\n%s", got, want)
	}
}

// countedStart: the pod counted, given the Role of rbac.yaml, prints the
// NodePort at its first start, and sends exactly two requests.
func countedStart(t *testing.T, ns string) {
	t.Helper()
	logs := waitPhase(t, ns, "counted", "Succeeded")
	hostIP := jsonpath(t, ns, "pod/counted", "{.status.hostIP}")
	nodePort := jsonpath(t, ns, "service/counted", "{.spec.ports[0].nodePort}")
	wantVars := fmt.Sprintf("ADDR=%s\nHOST_IP_8080=%s\nHOST_PORT_8080=%s", net.JoinHostPort(hostIP, nodePort), hostIP, nodePort)
	if got := strings.TrimSpace(logs); got != wantVars {
		t.Errorf("with the Role of rbac.yaml, the pod printed\n%s\nwant\n%s", got, wantVars)
	}
	reqs := requests(t, ns, "counted")
	wantReqs := []string{
		fmt.Sprintf("get /api/v1/namespaces/%s/pods/counted 200", ns),
		fmt.Sprintf("list /api/v1/namespaces/%s/services 200", ns),
	}
	if !slices.Equal(reqs, wantReqs) {
		t.Errorf("requests of one start of portenv in pod counted (audit log) are\n%s\nwant exactly\n%s", strings.Join(reqs, "\n"), strings.Join(wantReqs, "\n"))
	}
	t.Logf("requests of the first start of portenv in pod counted (audit log):\n%s", strings.Join(reqs, "\n"))
}

// nodeReader: with the ClusterRole of examples/kubernetes/rbac-nodes.yaml
// bound to the service account, .Node.PreferredAddress is read from the
// Node.
func nodeReader(t *testing.T, ns string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cl.repo, "examples", "kubernetes", "rbac-nodes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The ClusterRoleBinding names the service account's namespace,
	// default in the file; and it is cluster-wide, so named for the test.
	m := strings.Replace(string(b), "namespace: default", "namespace: "+ns, 1)
	m = strings.Replace(m, "name: portenv-kafka-nodes", "name: portenv-kafka-nodes-"+ns, 1)
	if !strings.Contains(m, "namespace: "+ns) || !strings.Contains(m, "portenv-kafka-nodes-"+ns) {
		t.Fatalf("rbac-nodes.yaml no longer has the subject's namespace default or the binding portenv-kafka-nodes:\n%s", b)
	}
	apply(t, ns, m)
	t.Cleanup(func() { _, _ = kubectlIn("", "delete", "clusterrolebinding", "portenv-kafka-nodes-"+ns) })
	apply(t, ns, pod{name: "node", ports: "{containerPort: 8080}", command: []string{"/portenv", "--format", "dotenv", "--no-auto", "--set", "NODE={{.Node.PreferredAddress}}"}}.yaml())
	logs := waitPhase(t, ns, "node", "Succeeded")
	node := jsonpath(t, ns, "pod/node", "{.spec.nodeName}")
	internal := jsonpath(t, "", "node/"+node, `{.status.addresses[?(@.type=="InternalIP")].address}`)
	if got, want := strings.TrimSpace(logs), "NODE="+internal; got != want {
		t.Errorf("with rbac-nodes.yaml, .Node.PreferredAddress printed\n%s\nwant (the Node's InternalIP: it has no External* address)\n%s", got, want)
	}
}
