package readproxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestOnlyAllowedReadsPass(t *testing.T) {
	dir, err := os.MkdirTemp("", "rp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	upstream := filepath.Join(dir, "up.sock")
	l, err := net.Listen("unix", upstream)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var reached []string
	up := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.Method+" "+r.URL.Path)
		mu.Unlock()
		io.WriteString(w, "engine")
	})}
	go up.Serve(l)
	defer up.Close()

	p := New(upstream, "/_ping", "/containers/*/json")
	stop, err := Serve(filepath.Join(dir, "ro.sock"), p)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	c := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", filepath.Join(dir, "ro.sock"))
	}}}
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"HEAD", "/_ping", 200},
		{"GET", "/v1.41/containers/abc/json", 200},
		{"POST", "/v1.41/containers/abc/stop", 403},
		{"DELETE", "/v1.41/containers/abc", 403},
		{"GET", "/v1.41/containers/abc/logs", 403},
		{"GET", "/v1.41/info", 403},
	} {
		req, _ := http.NewRequest(tc.method, "http://docker"+tc.path, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s: %d %s, want %d", tc.method, tc.path, resp.StatusCode, body, tc.code)
		}
	}
	want := "HEAD /_ping,GET /containers/abc/json,POST /containers/abc/stop,DELETE /containers/abc,GET /containers/abc/logs,GET /info"
	if got := strings.Join(p.Requests(), ","); got != want {
		t.Errorf("recorded %s\nwant     %s", got, want)
	}
	mu.Lock()
	defer mu.Unlock()
	if got := strings.Join(reached, ","); got != "HEAD /_ping,GET /v1.41/containers/abc/json" {
		t.Errorf("the engine got %s; want only the allowed reads", got)
	}
}
