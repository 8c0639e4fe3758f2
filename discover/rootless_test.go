package discover

import (
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/portenv/portenv/internal/enginetest"
)

// The /info bodies are cut from what the engines answered: rootless Docker
// 20.10 and rootless Podman 4.3 (which lists no rootless option, but has a
// field of its own), and rootful Docker.
func TestRootless(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		want bool
	}{
		{"docker-rootless", `{"Name":"vm","SecurityOptions":["name=seccomp,profile=default","name=rootless"]}`, true},
		{"podman-rootless", `{"Name":"vm","SecurityOptions":["name=seccomp,profile=default"],"Rootless":true}`, true},
		{"podman-rootful", `{"Name":"vm","SecurityOptions":["name=seccomp,profile=default"],"Rootless":false}`, false},
		{"docker-rootful", `{"Name":"vm","SecurityOptions":["name=apparmor","name=seccomp,profile=default"]}`, false},
		{"old-docker", `{"Name":"vm"}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := fake(t, &enginetest.Fake{Raw: map[string]enginetest.Answer{"/info": {Status: http.StatusOK, Body: tc.body}}})
			e, ctx := connect(t)
			h, err := e.HostInfo(ctx)
			if got := h.Rootless; err != nil || got != tc.want {
				t.Errorf("HostInfo().Rootless = %v, %v; want %v, nil", got, err, tc.want)
			}
			if want := []string{"HEAD /_ping", "GET /v1.41/info"}; !reflect.DeepEqual(f.Versioned(), want) {
				t.Errorf("requests %q, want %q", f.Versioned(), want)
			}
		})
	}
}

func TestRootlessRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"proxy", http.StatusForbidden, `{"message":"forbidden"}`, "the engine at {endpoint} forbade GET /info (403: forbidden); a socket proxy in front of the engine must allow HEAD and GET on /_ping and /containers/{id}/json, and /info when a template uses .Host.Name"},
		{"not-json", http.StatusOK, `<html>`, "the engine at {endpoint} answered GET /info with something portenv cannot read: it is not valid JSON (at byte 1); is DOCKER_HOST an engine, or a proxy that rewrites its answers?"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake(t, &enginetest.Fake{Raw: map[string]enginetest.Answer{"/info": {Status: tc.status, Body: tc.body}}})
			e, ctx := connect(t)
			h, err := e.HostInfo(ctx)
			want := strings.ReplaceAll(tc.want, "{endpoint}", e.Endpoint)
			if got := h.Rootless; got || err == nil || err.Error() != want {
				t.Errorf("HostInfo().Rootless = %v, %v; want false, %q", got, err, want)
			}
		})
	}
}
