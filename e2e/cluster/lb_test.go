package cluster

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

// lbService is a LoadBalancer Service name selecting app=name, port 9000
// to targetPort 8080.
func lbService(name string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  type: LoadBalancer
  selector: {app: %s}
  ports: [{port: 9000, targetPort: 8080}]
`, name, name)
}

// TestLoadBalancer: no load balancer controller runs here; the test plays
// its part, writing the ingress address through the status subresource
// once portenv has listed the Services at least twice (it waits). portenv
// then reports the ingress address at the Service's port. A Service whose
// address never comes gives the timeout's line, exactly.
func TestLoadBalancer(t *testing.T) {
	need(t)
	t.Parallel()
	ns := namespace(t, "lb")
	cmd := append([]string{"/portenv", "--timeout", "60s", "--set", `ADDR={{addr "8080"}}`, "--set", `SVC={{.Service.Name}}/{{.Service.Type}}`, "--"},
		echoValues("", "ADDR", "SVC")...)
	never := []string{"/portenv", "--timeout", "3s", "--set", `ADDR={{addr "8080"}}`}
	apply(t, ns, lbService("lb")+"---\n"+lbService("never")+"---\n"+
		pod{name: "lb", labels: "{app: lb}", ports: "{containerPort: 8080}", command: cmd}.yaml()+"---\n"+
		pod{name: "never", labels: "{app: never}", ports: "{containerPort: 8080}", command: never}.yaml())

	// portenv waits: it lists the Services again and again.
	lists := fmt.Sprintf("list /api/v1/namespaces/%s/services 200", ns)
	deadline := time.Now().Add(time.Minute)
	for n := 0; n < 4; n = count(requests(t, ns, "kafka"), lists) {
		if time.Now().After(deadline) {
			t.Fatalf("portenv in pod %s/lb did not list the Services 4 times (both pods) within a minute: %v", ns, requests(t, ns, "kafka"))
		}
		time.Sleep(100 * time.Millisecond)
	}
	if logs, _ := kubectlIn("", "logs", "-n", ns, "lb"); logs != "" {
		t.Fatalf("pod %s/lb printed before its Service had an address:\n%s", ns, logs)
	}
	kubectl(t, "patch", "service", "lb", "-n", ns, "--subresource=status", "--type=merge",
		"-p", `{"status":{"loadBalancer":{"ingress":[{"ip":"203.0.113.7"}]}}}`)
	t.Logf("ingress 203.0.113.7 written to the status of Service %s/lb", ns)

	logs := waitLogs(t, ns, "lb", "values:")
	ingress := jsonpath(t, ns, "service/lb", "{.status.loadBalancer.ingress[0].ip}")
	port := jsonpath(t, ns, "service/lb", "{.spec.ports[0].port}")
	want := fmt.Sprintf("values: ADDR=%s SVC=lb/LoadBalancer", net.JoinHostPort(ingress, port))
	if got := line(t, logs, "values:"); got != want {
		t.Fatalf("portenv in pod %s/lb gave\n%s\nwant (the Service's ingress and port)\n%s", ns, got, want)
	}
	t.Log(want)

	got := strings.TrimSpace(waitPhase(t, ns, "never", "Failed"))
	want = fmt.Sprintf("portenv: the LoadBalancer Service never has no ingress address after 3s (--timeout), so port 8080/tcp of pod never has no address outside the cluster yet (kubectl get service -n %s never shows EXTERNAL-IP <pending>); check that the cluster runs a load balancer controller, raise --timeout, or use type NodePort", ns)
	if got != want {
		t.Fatalf("a LoadBalancer without an address: the pod's logs are\n%s\nwant\n%s", got, want)
	}
}

func count(lines []string, want string) int {
	n := 0
	for _, l := range lines {
		if l == want {
			n++
		}
	}
	return n
}
