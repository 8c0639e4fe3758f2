package discover

import (
	"net/http"
	"strings"
	"sync"
	"testing"
)

// infoEngine answers /_ping and /info with a fixed status and body, and
// records the requests.
type infoEngine struct {
	status   int
	body     string
	mu       sync.Mutex
	requests []string
}

func (f *infoEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.Path)
	f.mu.Unlock()
	w.Header().Set("Api-Version", "1.41")
	if r.URL.Path == "/_ping" {
		w.Write([]byte("OK"))
		return
	}
	if versioned.ReplaceAllString(r.URL.Path, "") != "/info" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.status)
	w.Write([]byte(f.body))
}

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
			f := &infoEngine{status: http.StatusOK, body: tc.body}
			startFake(t, f)
			e, ctx := connect(t)
			got, err := e.Rootless(ctx)
			if err != nil || got != tc.want {
				t.Errorf("Rootless() = %v, %v; want %v, nil", got, err, tc.want)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if want := "HEAD /_ping GET /v1.41/info"; strings.Join(f.requests, " ") != want {
				t.Errorf("requests %q, want %q", f.requests, want)
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
		{"proxy", http.StatusForbidden, `{"message":"forbidden"}`, `GET /info at unix://{sock} answered 403 Forbidden: {"message":"forbidden"}`},
		{"not-json", http.StatusOK, `<html>`, `GET /info at unix://{sock}: the answer is not the engine's JSON: invalid character '<' looking for beginning of value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			startFake(t, &infoEngine{status: tc.status, body: tc.body})
			e, ctx := connect(t)
			got, err := e.Rootless(ctx)
			want := strings.ReplaceAll(tc.want, "unix://{sock}", e.Endpoint)
			if got || err == nil || err.Error() != want {
				t.Errorf("Rootless() = %v, %v; want false, %q", got, err, want)
			}
		})
	}
}
