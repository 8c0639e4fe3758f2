package discover

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/portenv/portenv/internal/enginetest"
)

const svcID = "q1w2e3r4t5y6u7i8o9p0a1s2d"

// swarmFake serves one task container with bindings ports, and its service
// answered with status and body, the way a manager or a worker does.
func swarmFake(t *testing.T, ports map[string][]map[string]string, status int, body string) (*Engine, *enginetest.Fake) {
	t.Helper()
	c := inspectJSON(idA, "web.2.t5k1", "c1", ports)
	c["Config"].(map[string]any)["Labels"] = map[string]string{
		"com.docker.swarm.service.id":   svcID,
		"com.docker.swarm.service.name": "web",
		"com.docker.swarm.task.name":    "web.2.t5k1",
	}
	f := fake(t, &enginetest.Fake{
		Containers: map[string]any{idA: c},
		Services:   map[string]any{svcID: enginetest.Answer{Status: status, Body: body}},
	})
	e, _ := connect(t)
	return e, f
}

const serviceJSON = `{"ID":"` + svcID + `","Spec":{"Name":"web"},"Endpoint":{"Ports":[
	{"Protocol":"tcp","TargetPort":9092,"PublishedPort":30000,"PublishMode":"ingress"},
	{"Protocol":"udp","TargetPort":53,"PublishedPort":30001,"PublishMode":"ingress"},
	{"Protocol":"tcp","TargetPort":8080,"PublishMode":"host"}]}}`

func TestSwarmIngressPortsFromService(t *testing.T) {
	e, _ := swarmFake(t, nil, http.StatusOK, serviceJSON)
	c, tried, err := e.Self(context.Background(), SelfOptions{Container: idA})
	if err != nil {
		t.Fatalf("Self: %v", err)
	}
	want := []Binding{{Port{9092, "tcp"}, "", 30000}, {Port{53, "udp"}, "", 30001}}
	if len(c.Ports) != len(want) || c.Ports[0] != want[0] || c.Ports[1] != want[1] {
		t.Errorf("ports %+v, want %+v", c.Ports, want)
	}
	if b, _, _ := c.Lookup(Port{9092, "tcp"}); !b.Wildcard() {
		t.Errorf("binding %+v from the service is not a wildcard binding", b)
	}
	last := tried[len(tried)-1]
	if wantRes := "task of service web; its ingress ports read from the service (GET /services/" + svcID + "): 9092/tcp -> 30000, 53/udp -> 30001"; last.Method != "swarm" || !last.OK || last.Result != wantRes {
		t.Errorf("last attempt %+v, want swarm: %s", last, wantRes)
	}
	if c.Swarm == nil || c.Swarm.Slot != 2 || c.Swarm.ServiceName != "web" {
		t.Errorf("task %+v, want service web slot 2", c.Swarm)
	}
}

// A task published in host mode has its own bindings: the service is not
// asked, so this works on a worker too, with no extra request.
func TestSwarmHostModeAsksNoService(t *testing.T) {
	e, f := swarmFake(t, map[string][]map[string]string{"9092/tcp": {{"HostIp": "0.0.0.0", "HostPort": "32801"}}},
		http.StatusServiceUnavailable, `{"message":"This node is not a swarm manager."}`)
	c, _, err := e.Self(context.Background(), SelfOptions{Container: idA})
	if err != nil {
		t.Fatalf("Self: %v", err)
	}
	if len(c.Ports) != 1 || c.Ports[0].HostPort != 32801 {
		t.Errorf("ports %+v, want 9092 on 32801", c.Ports)
	}
	for _, r := range f.Requests() {
		if strings.Contains(r, "/services/") {
			t.Errorf("asked %s for a task in host mode", r)
		}
	}
}

func TestSwarmServiceRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"worker", http.StatusServiceUnavailable,
			`{"message":"This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager."}`,
			"container web.2.t5k1 is a task of Swarm service web, which has no published ports of its own (ingress mode), and the engine at unix://SOCK is a Swarm worker, which refuses to read the service " +
				"(GET /services/" + svcID + ": This node is not a swarm manager. Worker nodes can't be used to view or modify cluster state. Please run this command on a manager node or promote the current node to a manager.); " +
				"publish the ports in host mode (--publish mode=host,target=9092, or mode: host in a stack file), or point DOCKER_HOST at a manager's API through a read-only socket proxy"},
		{"proxy", http.StatusForbidden, `{"message":"forbidden by proxy"}`,
			"container web.2.t5k1 is a task of Swarm service web, published in ingress mode, and the engine at unix://SOCK forbade GET /services/" + svcID + " (forbidden by proxy); " +
				"a socket proxy in front of the engine must also allow GET /services/{id} (SERVICES=1 in common proxies), or publish the ports in host mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, f := swarmFake(t, nil, tc.status, tc.body)
			_, tried, err := e.Self(context.Background(), SelfOptions{Container: idA})
			if err == nil {
				t.Fatal("Self succeeded")
			}
			want := strings.ReplaceAll(tc.want, "unix://SOCK", e.Endpoint)
			if err.Error() != want {
				t.Errorf("\n got %s\nwant %s", err, want)
			}
			if last := tried[len(tried)-1]; last.Method != "swarm" || last.OK {
				t.Errorf("last attempt %+v, want a failed swarm attempt", last)
			}
			for _, r := range f.Requests() {
				if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
					t.Errorf("request %s is neither GET nor HEAD", r)
				}
			}
		})
	}
}
