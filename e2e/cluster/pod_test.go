package cluster

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// list is a YAML flow sequence of strs (JSON is YAML).
func list(strs ...string) string {
	b, err := json.Marshal(strs)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// pod is a Pod of the test image running command as the ServiceAccount
// kafka (or sa), with POD_NAME from the downward API; more is added to
// its spec (at the pod's level), ports to its container. With gate, a
// directory of the node, the container has it at /gate.
type pod struct {
	name, sa, labels, ports, more, env, gate string
	command                                  []string
}

func (p pod) yaml() string {
	sa := p.sa
	if sa == "" {
		sa = "kafka"
	}
	labels := p.labels
	if labels == "" {
		labels = "{}"
	}
	more, mounts := p.more, ""
	if p.gate != "" {
		more += fmt.Sprintf("  volumes: [{name: gate, hostPath: {path: %s, type: Directory}}]\n", p.gate)
		mounts = "    volumeMounts: [{name: gate, mountPath: /gate}]\n"
	}
	return fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s, labels: %s}
spec:
  serviceAccountName: %s
  restartPolicy: Never
%s  containers:
  - name: main
    image: %s
    imagePullPolicy: Never
    command: %s
    ports: [%s]
%s    env:
    - {name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
%s`, p.name, labels, sa, more, image, list(p.command...), p.ports, mounts, p.env)
}

// echoValues is a command for portenv to exec: one line "values: " with
// the variables named, then serve (answer each connection to port with
// "hi from <pod>"), or end when port is "".
func echoValues(port string, names ...string) []string {
	var vs []string
	for _, n := range names {
		vs = append(vs, n+"=$"+n)
	}
	script := `echo "values: ` + strings.Join(vs, " ") + `"`
	if port != "" {
		script += `; exec nc -ll -p ` + port + ` -e echo "hi from $POD_NAME"`
	}
	return []string{"sh", "-c", script}
}

// TestHostPort: a container port with a hostPort on 127.0.0.1. portenv's
// variables are the hostIP and hostPort the API reports, and a client on
// the node reaches the pod there.
func TestHostPort(t *testing.T) {
	need(t)
	t.Parallel()
	ns := namespace(t, "hostport")
	cmd := append([]string{"/portenv", "--set", `ADDR={{addr "8080"}}`, "--"}, echoValues("8080", "HOST_IP_8080", "HOST_PORT_8080", "ADDR")...)
	apply(t, ns, pod{name: "server", ports: "{containerPort: 8080, hostPort: 18081, hostIP: 127.0.0.1}", command: cmd}.yaml())
	logs := waitLogs(t, ns, "server", "values:")
	ip := jsonpath(t, ns, "pod/server", "{.spec.containers[0].ports[0].hostIP}")
	port := jsonpath(t, ns, "pod/server", "{.spec.containers[0].ports[0].hostPort}")
	want := fmt.Sprintf("values: HOST_IP_8080=%s HOST_PORT_8080=%s ADDR=%s", ip, port, net.JoinHostPort(ip, port))
	if got := line(t, logs, "values:"); got != want {
		t.Fatalf("portenv in pod %s/server gave\n%s\nwant (the pod's spec)\n%s", ns, got, want)
	}
	t.Log(want)
	answer(t, net.JoinHostPort(ip, port), "hi from server")
}

// TestHostNetwork: a pod on the node's network. portenv confirms it by the
// node's address, and its port is on the node at its own number.
func TestHostNetwork(t *testing.T) {
	need(t)
	t.Parallel()
	ns := namespace(t, "hostnet")
	cmd := append([]string{"/portenv", "--set", `ADDR={{addr "18090"}}`, "--set", `NODE={{.Node.Name}}/{{.Node.Address}}`, "--"},
		echoValues("18090", "HOST_IP_18090", "HOST_PORT_18090", "ADDR", "NODE")...)
	apply(t, ns, pod{name: "hostnet", more: "  hostNetwork: true\n", ports: "{containerPort: 18090}", command: cmd}.yaml())
	logs := waitLogs(t, ns, "hostnet", "values:")
	hostIP := jsonpath(t, ns, "pod/hostnet", "{.status.hostIP}")
	port := jsonpath(t, ns, "pod/hostnet", "{.spec.containers[0].ports[0].hostPort}")
	node := jsonpath(t, ns, "pod/hostnet", "{.spec.nodeName}")
	want := fmt.Sprintf("values: HOST_IP_18090=%s HOST_PORT_18090=%s ADDR=%s NODE=%s/%s", hostIP, port, net.JoinHostPort(hostIP, port), node, hostIP)
	if got := line(t, logs, "values:"); got != want {
		t.Fatalf("portenv in pod %s/hostnet gave\n%s\nwant (status.hostIP, the port's hostPort, spec.nodeName)\n%s", ns, got, want)
	}
	t.Log(want)
	answer(t, net.JoinHostPort(hostIP, port), "hi from hostnet")
}

// nodePortService is a NodePort Service name selecting app=selector, port
// 80 to targetPort 8080.
func nodePortService(name, selector string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  type: NodePort
  selector: {app: %s}
  ports: [{port: 80, targetPort: 8080}]
`, name, selector)
}

// TestOtherNamespace: a pod in a namespace of its own, beside another
// namespace whose NodePort Service selects the same labels (and comes
// first by name). portenv reads only its own namespace's Services.
func TestOtherNamespace(t *testing.T) {
	need(t)
	t.Parallel()
	other := namespace(t, "decoy")
	apply(t, other, nodePortService("a-web", "web"))
	ns := namespace(t, "web")
	cmd := append([]string{"/portenv", "--set", `ADDR={{addr "8080"}}`, "--set", `POD={{.Pod.Namespace}}/{{.Pod.Name}}`,
		"--set", `SVC={{.Service.Name}}/{{.Service.Type}}`, "--"}, echoValues("8080", "HOST_PORT_8080", "ADDR", "POD", "SVC")...)
	apply(t, ns, nodePortService("web", "web")+"---\n"+pod{name: "web", labels: "{app: web}", ports: "{containerPort: 8080}", command: cmd}.yaml())
	logs := waitLogs(t, ns, "web", "values:")
	hostIP := jsonpath(t, ns, "pod/web", "{.status.hostIP}")
	nodePort := jsonpath(t, ns, "service/web", "{.spec.ports[0].nodePort}")
	decoy := jsonpath(t, other, "service/a-web", "{.spec.ports[0].nodePort}")
	want := fmt.Sprintf("values: HOST_PORT_8080=%s ADDR=%s POD=%s/web SVC=web/NodePort", nodePort, net.JoinHostPort(hostIP, nodePort), ns)
	if got := line(t, logs, "values:"); got != want {
		t.Fatalf("portenv in pod %s/web gave\n%s\nwant (its Service's nodePort; %s/a-web has %s)\n%s", ns, got, other, decoy, want)
	}
	t.Logf("%s (the Service a-web of namespace %s, nodePort %s, left alone)", want, other, decoy)
	answer(t, net.JoinHostPort(hostIP, nodePort), "hi from web")
	answer(t, net.JoinHostPort("127.0.0.1", nodePort), "hi from web")
}

// TestDockerShim: portenv installed as docker, no portenv entrypoint, the
// Kafka example's start-kafka.sh unchanged: its hooks run `docker port
// $(hostname) 9092/tcp`, which answers the node's address and the NodePort.
// The broker advertises them, and the example's client, on the node,
// bootstraps through them and produces and consumes.
func TestDockerShim(t *testing.T) {
	need(t)
	t.Parallel()
	ns := namespace(t, "shim")
	env := `    - {name: PATH, value: /usr/bin:/bin}
    - {name: KAFKA_BROKER_ID, value: "0"}
    - {name: KAFKA_NUM_BROKERS, value: "1"}
    - {name: HOSTNAME_COMMAND, value: 'docker port $(hostname) 9092/tcp | cut -d: -f1'}
    - {name: PORT_COMMAND, value: 'docker port $(hostname) 9092/tcp | cut -d: -f2'}
    - {name: KAFKA_ADVERTISED_LISTENERS, value: 'PLAINTEXT://_{HOSTNAME_COMMAND}:_{PORT_COMMAND}'}
`
	svc := strings.ReplaceAll(nodePortService("kafka-shim", "kafka-shim"), "port: 80, targetPort: 8080", "port: 9092, targetPort: 9092")
	apply(t, ns, svc+"---\n"+pod{name: "kafka-shim", labels: "{app: kafka-shim}", ports: "{containerPort: 9092}",
		command: []string{"/start-kafka.sh", "/broker"}, env: env}.yaml())
	logs := waitLogs(t, ns, "kafka-shim", "broker 0 ready")
	hostIP := jsonpath(t, ns, "pod/kafka-shim", "{.status.hostIP}")
	nodePort := jsonpath(t, ns, "service/kafka-shim", "{.spec.ports[0].nodePort}")
	addr := net.JoinHostPort(hostIP, nodePort)
	if want := "advertising " + addr + ","; !strings.Contains(logs, want) {
		t.Fatalf("the broker does not say %q (status.hostIP and the Service's nodePort):\n%s", want, logs)
	}
	got := kubectl(t, "exec", "-n", ns, "kafka-shim", "--", "sh", "-c", "docker port $(hostname) 9092")
	if got != addr {
		t.Fatalf("docker port $(hostname) 9092 in the pod printed %q, want %q", got, addr)
	}
	t.Logf("docker port $(hostname) 9092 in the pod: %s", got)
	runClient(t, false, addr, map[int]string{0: addr}, false)
}

// auditEntry is one request in the API server's audit log.
type auditEntry struct {
	Verb       string `json:"verb"`
	RequestURI string `json:"requestURI"`
	User       struct {
		Username string `json:"username"`
	} `json:"user"`
	ResponseStatus struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// requests are the requests of the service account ns/sa in the audit
// log, as "VERB URI CODE".
func requests(t *testing.T, ns, sa string) []string {
	t.Helper()
	if cl.auditLog == "" {
		t.Fatal("PORTENV_E2E_K8S_AUDIT_LOG is not set: .ci/k8s.sh run sets it")
	}
	data, err := os.ReadFile(cl.auditLog)
	if err != nil {
		t.Fatal(err)
	}
	user := "system:serviceaccount:" + ns + ":" + sa
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if !strings.Contains(l, user) {
			continue
		}
		var e auditEntry
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("%s: %v: %s", filepath.Base(cl.auditLog), err, l)
		}
		if e.User.Username == user {
			out = append(out, fmt.Sprintf("%s %s %d", e.Verb, e.RequestURI, e.ResponseStatus.Code))
		}
	}
	return out
}
