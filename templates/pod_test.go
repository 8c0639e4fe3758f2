package templates

import (
	"errors"
	"testing"

	"github.com/portenv/portenv/discover"
)

// podContainer is kafka-1 of StatefulSet kafka, published by a NodePort
// Service on both of its node's addresses; reads counts the Node's reads.
func podContainer(reads *int, nodeIPs ...string) *discover.Container {
	c := &discover.Container{ID: "7e1b9c3a-4d2f-4b8e-a6c1-93f0d2e8b457", Name: "kafka-1", Hostname: "kafka-1"}
	for _, ip := range nodeIPs {
		c.Ports = append(c.Ports, discover.Binding{Port: discover.Port{Num: 9092, Proto: "tcp"}, HostIP: ip, HostPort: 31091})
	}
	c.Pod = &discover.PodInfo{Name: "kafka-1", Namespace: "shop", Ordinal: 1, StatefulSet: "kafka", NodeName: "node-b", NodeAddress: nodeIPs[0],
		Service: &discover.ServiceRef{Name: "kafka-1-external", Type: "NodePort"},
		ReadNode: func() (*discover.Node, error) {
			*reads++
			return &discover.Node{Status: discover.NodeStatus{Addresses: []discover.NodeAddress{
				{Type: "InternalIP", Address: "10.0.0.12"}, {Type: "ExternalIP", Address: "198.51.100.22"},
				{Type: "Hostname", Address: "node-b"}, {Type: "InternalDNS", Address: "ip-10-0-0-12.internal"},
			}}}, nil
		}}
	return c
}

func TestPodData(t *testing.T) {
	reads := 0
	r := NewRenderer(podContainer(&reads, "10.0.0.12", "fd00:10::12"), Options{})
	for text, want := range map[string]string{
		`{{.Pod.Name}}.{{.Pod.Namespace}} {{.Pod.Ordinal}}`: "kafka-1.shop 1",
		`{{.Node.Name}} {{.Node.Address}} {{addr "9092"}}`:  "node-b 10.0.0.12 10.0.0.12:31091",
		`{{.Service.Name}} {{.Service.Type}}`:               "kafka-1-external NodePort",
		`{{.Node.ExternalIP}}:{{port "9092"}}`:              "198.51.100.22:31091",
		`{{.Node.PreferredAddress}} {{.Node.ExternalIP}}`:   "198.51.100.22 198.51.100.22",
	} {
		got, err := value(r, "--set X", "X", text)
		if err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", text, got, err, want)
		}
	}
	if reads != 1 {
		t.Errorf("the Node was read %d times, want 1", reads)
	}
	_, err := value(r, "--set X", "X", `{{.Node.ExternalDNS}}`)
	if want := "--set X: node node-b has no ExternalDNS address (it has: InternalIP 10.0.0.12, ExternalIP 198.51.100.22, Hostname node-b, InternalDNS ip-10-0-0-12.internal), so .Node.ExternalDNS has no value; use .Node.Address or .Node.PreferredAddress"; err == nil || err.Error() != want {
		t.Errorf("ExternalDNS: %v\nwant %s", err, want)
	}
}

// The Node is not read unless a template asks for it.
func TestPodNodeLazy(t *testing.T) {
	reads := 0
	r := NewRenderer(podContainer(&reads, "fd00:10::12"), Options{})
	got, err := value(r, "--set X", "X", `{{.Pod.Name}} {{addr "9092"}} {{.Node.Address}}`)
	if err != nil || got != "kafka-1 [fd00:10::12]:31091 fd00:10::12" || reads != 0 {
		t.Errorf("%q %v, %d reads", got, err, reads)
	}
	c := podContainer(&reads, "10.0.0.12")
	c.Pod.ReadNode = func() (*discover.Node, error) {
		return nil, errors.New(`the service account "shop:kafka" may not get nodes (403 Forbidden)`)
	}
	_, err = value(NewRenderer(c, Options{}), "--set X", "X", `{{.Node.ExternalIP}}`)
	if want := `--set X: the service account "shop:kafka" may not get nodes (403 Forbidden)`; err == nil || err.Error() != want {
		t.Errorf("refused: %v", err)
	}
}

func TestPodDataOutsideAPod(t *testing.T) {
	r := NewRenderer(testContainer(), Options{})
	for text, want := range map[string]string{
		`{{.Pod.Name}}`:        "--set X: this container is not a Kubernetes pod, so .Pod.Name has no value; portenv reads pods through the Kubernetes API when it runs in one (PORTENV_SOURCE=kubernetes), or take .Pod.Name out of the template",
		`{{.Node.ExternalIP}}`: "--set X: this container is not a Kubernetes pod, so .Node.ExternalIP has no value; portenv reads pods through the Kubernetes API when it runs in one (PORTENV_SOURCE=kubernetes), or take .Node.ExternalIP out of the template",
		`{{.Service.Type}}`:    "--set X: this container is not a Kubernetes pod, so .Service.Type has no value; portenv reads pods through the Kubernetes API when it runs in one (PORTENV_SOURCE=kubernetes), or take .Service.Type out of the template",
	} {
		if _, err := value(r, "--set X", "X", text); err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", text, err, want)
		}
	}
	reads := 0
	c := podContainer(&reads, "10.0.0.12")
	c.Pod.Ordinal, c.Pod.Service = -1, nil
	r = NewRenderer(c, Options{})
	for text, want := range map[string]string{
		`{{.Pod.Ordinal}}`:  "--set X: pod kafka-1 is not a StatefulSet's pod (named <statefulset>-<ordinal> and owned by it), so .Pod.Ordinal has no value; take it out of the template, or run the pod in a StatefulSet",
		`{{.Service.Name}}`: "--set X: no NodePort or LoadBalancer Service publishes a port of pod kafka-1, so .Service.Name has no value; take it out of the template, or create a Service whose selector matches the pod's labels",
	} {
		if _, err := value(r, "--set X", "X", text); err == nil || err.Error() != want {
			t.Errorf("%s: %v\nwant %s", text, err, want)
		}
	}
}
