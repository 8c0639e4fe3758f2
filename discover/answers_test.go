package discover

import (
	"bytes"
	"strings"
	"testing"

	"github.com/portenv/portenv/internal/enginetest"
)

// FuzzAnswers feeds arbitrary bytes to the decoding of every answer
// portenv reads (/containers/{id}/json, /services/{id}, /info) and to the
// model built from it: whatever an engine or a proxy sends, portenv says
// what is wrong, and never panics.
func FuzzAnswers(f *testing.F) {
	for _, seed := range []string{
		`{"Id":"abc"}`,
		`{"Id":"` + idA + `","Name":"/app","State":{"Status":"running","Running":true,"Paused":true},"Config":{"Hostname":"h","ExposedPorts":{"9092/tcp":{},"x":{}},"Labels":{"com.docker.swarm.service.id":"s","com.docker.swarm.task.name":"svc.2.x"}},"HostConfig":{"NetworkMode":"host","PortBindings":{"9092/tcp":[{"HostPort":""}],"53/udp":null}},"NetworkSettings":{"Ports":{"9092/tcp":[{"HostIp":"::","HostPort":"1"},{"HostIp":"0.0.0.0","HostPort":"65536"}]},"Networks":{"n":{"IPAddress":"10.0.0.2"},"m":null}}}`,
		`{"Id":"a","HostConfig":{"NetworkMode":"container:"},"NetworkSettings":{"Ports":{"9092/tcp":[{"HostIp":"","HostPort":"-1"}],"/tcp":[],"1/":[]}}}`,
		`{"Id":"a","State":{"Status":"exited"},"HostConfig":{"NetworkMode":"none","PortBindings":{"1/sctp":[]}},"NetworkSettings":{"Ports":{}}}`,
		`{"Endpoint":{"Ports":[{"Protocol":"tcp","TargetPort":9092,"PublishedPort":30000},{"Protocol":"UDP","TargetPort":0,"PublishedPort":1,"PublishMode":"host"}]}}`,
		`{"Name":"host","Swarm":{"NodeAddr":"10.0.0.1"}}`,
		`{"Id": 5}`, `[`, `null`, `{"Id":"a","Name":null,"Config":{"Labels":[]}}`, "",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var r inspectResponse
		if err := decodeJSON(bytes.NewReader(data), &r); err != nil {
			checkMessage(t, err)
		} else {
			c, pending := r.container()
			_ = c.ShortID()
			_ = c.addresses()
			if err := c.usable(""); err != nil {
				checkMessage(t, err)
			}
			for _, p := range append(append(c.Exposed, pending...), c.PublishedPorts()...) {
				if b, _, err := c.Lookup(p); err != nil {
					checkMessage(t, err)
				} else {
					_ = b.Addr("192.0.2.1")
				}
			}
		}
		var svc serviceResponse
		if err := decodeJSON(bytes.NewReader(data), &svc); err != nil {
			checkMessage(t, err)
		} else {
			_ = publishedList(serviceBindings(svc.Endpoint.Ports))
		}
		var info infoResponse
		if err := decodeJSON(bytes.NewReader(data), &info); err != nil {
			checkMessage(t, err)
		} else {
			_ = rootlessIn(info)
		}
	})
}

// checkMessage holds an error to what a user may be shown: one line, no Go
// names.
func checkMessage(t *testing.T, err error) {
	t.Helper()
	msg := err.Error()
	for _, bad := range []string{"\n", "json:", "Go struct", "discover.", "inspectResponse", "unmarshal"} {
		if strings.Contains(msg, bad) {
			t.Fatalf("message %q holds %q", msg, bad)
		}
	}
}

// An answer far larger than any container's description is refused at
// once, without reading it all.
func TestOversizedAnswer(t *testing.T) {
	huge := `{"Id":"` + idA + `","Labels":"` + strings.Repeat("x", maxAnswer) + `"}`
	fake(t, &enginetest.Fake{Raw: map[string]enginetest.Answer{"/containers/big/json": {Status: 200, Body: huge}}})
	e, ctx := connect(t)
	_, err := e.Inspect(ctx, "big")
	want := "the engine at " + e.Endpoint + " answered GET /containers/big/json with something portenv cannot read: it is larger than 8 MiB; is DOCKER_HOST an engine, or a proxy that rewrites its answers?"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
