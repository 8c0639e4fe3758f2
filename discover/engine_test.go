package discover

import (
	"errors"
	"fmt"
	"net"
	"reflect"
	"sync"
	"testing"

	"github.com/portenv/portenv/internal/enginetest"
)

// A failed name lookup is said in a user's words, however the client
// wrapped it; the client's own words stay.
func TestDialProblem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("error during connect: %w", &net.OpError{Op: "dial", Err: &net.DNSError{Name: "docker-proxy", Err: "no such host", IsNotFound: true}}), "the name docker-proxy does not resolve"},
		{&net.DNSError{Name: "engine", Err: "server misbehaving", IsTemporary: true}, "the name engine could not be looked up"},
		{errors.New("Cannot connect to the Docker daemon at tcp://127.0.0.1:1.\nIs the docker daemon running?"), "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?"},
	} {
		if got := dialProblem(tc.err); got != tc.want {
			t.Errorf("dialProblem(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}

// The version in use is the engine's own from its ping, within 1.24 and
// 1.57; engines before 1.40 answer GET /_ping only, and before 1.25 name
// no version, which is taken as 1.24.
func TestAPIVersionRule(t *testing.T) {
	for _, tc := range []struct{ offers, uses string }{
		{"1.24", "1.24"}, {"1.26", "1.26"}, {"1.39", "1.39"}, {"1.40", "1.40"}, {"1.41", "1.41"},
		{"1.44", "1.44"}, {"1.52", "1.52"}, {"1.57", "1.57"}, {"1.60", "1.57"},
	} {
		t.Run(tc.offers, func(t *testing.T) {
			f := fake(t, &enginetest.Fake{MaxAPI: tc.offers, Containers: map[string]any{"app": inspectJSON(idA, "app", "app", nil)}})
			e, ctx := connect(t)
			if _, err := e.Inspect(ctx, "app"); err != nil {
				t.Fatal(err)
			}
			want := []string{"HEAD /_ping", "GET /v" + tc.uses + "/containers/app/json"}
			if versionLess(tc.offers, "1.40") {
				want = []string{"HEAD /_ping", "GET /_ping", "GET /v" + tc.uses + "/containers/app/json"}
			}
			if got := f.Versioned(); !reflect.DeepEqual(got, want) || e.APIVersion != tc.uses {
				t.Errorf("API %s, requests %q; want %s, %q", e.APIVersion, got, tc.uses, want)
			}
		})
	}
}

// A restarting container is waited for: once its restart policy has
// brought it back, its new ports are read.
func TestInspectWaitsForRestart(t *testing.T) {
	calls := 0
	var mu sync.Mutex
	f := fake(t, &enginetest.Fake{Containers: map[string]any{"app": func() any {
		mu.Lock()
		defer mu.Unlock()
		calls++
		c := inspectJSON(idA, "app", "app", map[string][]map[string]string{"9092/tcp": {{"HostIp": "0.0.0.0", "HostPort": "32800"}}})
		if calls < 3 {
			c["State"] = map[string]any{"Status": "restarting", "Running": true, "Restarting": true}
		}
		return c
	}}})
	e, ctx := connect(t)
	c, err := e.Inspect(ctx, "app")
	if err != nil || c.Status != "running" || c.Ports[0].HostPort != 32800 {
		t.Fatalf("got %+v, %v; want the running container on 32800", c, err)
	}
	if n := len(f.Requests()); n != 4 {
		t.Errorf("%d requests, want the ping and 3 inspections", n)
	}
}
