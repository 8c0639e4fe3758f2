package cluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// kustomization applies examples/kubernetes's rbac.yaml and manifest
// (whose StatefulSet is sts), copied as they are, in namespace ns, with one
// addition the example broker needs and a real Kafka does not: /peers, a
// directory of the node shared by the brokers, where each writes the
// address it advertises for the others (examples/kafka/broker). patch
// adds JSON patch operations on the StatefulSet.
func kustomization(t *testing.T, ns, manifest, sts, peers, patch string) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"rbac.yaml", manifest} {
		b, err := os.ReadFile(filepath.Join(cl.repo, "examples", "kubernetes", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k := fmt.Sprintf(`namespace: %s
resources: [rbac.yaml, %s]
patches:
- target: {kind: StatefulSet, name: %s}
  patch: |-
    - {op: add, path: /spec/template/spec/volumes, value: [{name: peers, hostPath: {path: %s, type: Directory}}]}
    - {op: add, path: /spec/template/spec/containers/0/volumeMounts, value: [{name: peers, mountPath: /peers}]}
%s`, ns, manifest, sts, peers, patch)
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// startKafka creates the namespace and applies kafka-nodeport.yaml with
// patch, and waits until the three brokers are ready; it returns the
// namespace.
func startKafka(t *testing.T, name, patch string) string {
	t.Helper()
	ns := namespace(t, name)
	peers, err := os.MkdirTemp(cl.work, "peers-")
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, "apply", "-k", kustomization(t, ns, "kafka-nodeport.yaml", "kafka", peers, patch))
	for i := 0; i < 3; i++ {
		waitLogs(t, ns, fmt.Sprintf("kafka-%d", i), fmt.Sprintf("broker %d ready", i))
	}
	return ns
}

// TestKafkaNodePort: examples/kubernetes/kafka-nodeport.yaml on the
// cluster, with the image it names (portenv and the example broker).
// Each broker advertises the node's address and the nodePort of its own
// Service, as the API reports them; the Kafka example's client, on the
// node but kept from the pods' addresses like a client outside the
// cluster, bootstraps through one NodePort and produces to and consumes
// from all three. The same StatefulSet without portenv, its brokers
// advertising their pod addresses, fails that client (and serves one that
// may reach pod addresses: the rule is what keeps it out).
func TestKafkaNodePort(t *testing.T) {
	need(t)
	t.Parallel()
	restrict(t)
	t.Run("portenv", func(t *testing.T) {
		t.Parallel()
		ns := startKafka(t, "kafka", "")
		want := map[int]string{}
		for i := 0; i < 3; i++ {
			pod := fmt.Sprintf("kafka-%d", i)
			hostIP := jsonpath(t, ns, "pod/"+pod, "{.status.hostIP}")
			nodePort := jsonpath(t, ns, fmt.Sprintf("service/kafka-%d-external", i), "{.spec.ports[0].nodePort}")
			want[i] = net.JoinHostPort(hostIP, nodePort)
			logs, _ := kubectlIn("", "logs", "-n", ns, pod)
			if s := fmt.Sprintf("broker %d ready: listening on :9092, advertising %s,", i, want[i]); !strings.Contains(logs, s) {
				t.Fatalf("pod %s/%s does not say %q (status.hostIP, the nodePort of kafka-%d-external):\n%s", ns, pod, s, i, logs)
			}
		}
		t.Logf("brokers advertise %v: status.hostIP and each one's nodePort", want)
		runClient(t, false, want[0], want, false)
	})
	t.Run("without_portenv", func(t *testing.T) {
		t.Parallel()
		ns := startKafka(t, "kafka-none", `    - {op: replace, path: /spec/template/spec/containers/0/command, value: [/bin/sh, -c, 'KAFKA_BROKER_ID=${POD_NAME##*-} KAFKA_ADVERTISED_LISTENERS=PLAINTEXT://$POD_IP:9092 exec /broker']}
    - {op: remove, path: /spec/template/spec/containers/0/args}
    - {op: add, path: /spec/template/spec/containers/0/env/-, value: {name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}}
`)
		podIPs := map[int]string{}
		for i := 0; i < 3; i++ {
			podIPs[i] = net.JoinHostPort(jsonpath(t, ns, fmt.Sprintf("pod/kafka-%d", i), "{.status.podIP}"), "9092")
		}
		bootstrap := net.JoinHostPort(jsonpath(t, ns, "pod/kafka-0", "{.status.hostIP}"), jsonpath(t, ns, "service/kafka-0-external", "{.spec.ports[0].nodePort}"))
		t.Logf("without portenv the brokers advertise their pod addresses %v; bootstrap through kafka-0's NodePort %s", podIPs, bootstrap)
		runClient(t, false, bootstrap, podIPs, true)
		runClient(t, true, bootstrap, podIPs, false)
	})
}

// TestKafkaHostPort: examples/kubernetes/kafka-hostport.yaml on the
// cluster: one broker, its 9092 on hostPort 9094 of the node. It
// advertises status.hostIP and the hostPort, and the client, kept from
// the pods' addresses, produces and consumes there.
func TestKafkaHostPort(t *testing.T) {
	need(t)
	t.Parallel()
	restrict(t)
	ns := namespace(t, "kafka-hostport")
	peers, err := os.MkdirTemp(cl.work, "peers-")
	if err != nil {
		t.Fatal(err)
	}
	kubectl(t, "apply", "-k", kustomization(t, ns, "kafka-hostport.yaml", "kafka-hostport", peers, ""))
	logs := waitLogs(t, ns, "kafka-hostport-0", "broker 0 ready")
	addr := net.JoinHostPort(jsonpath(t, ns, "pod/kafka-hostport-0", "{.status.hostIP}"),
		jsonpath(t, ns, "pod/kafka-hostport-0", "{.spec.containers[0].ports[0].hostPort}"))
	if s := "broker 0 ready: listening on :9092, advertising " + addr + ","; !strings.Contains(logs, s) {
		t.Fatalf("pod %s/kafka-hostport-0 does not say %q (status.hostIP, the port's hostPort):\n%s", ns, s, logs)
	}
	runClient(t, false, addr, map[int]string{0: addr}, false)
}
