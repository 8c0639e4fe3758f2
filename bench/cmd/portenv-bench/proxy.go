package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"strings"
	"sync"
)

// countingProxy forwards the Docker API from a unix socket of its own to
// the engine's, and records each request's method and path. Programs are
// pointed at it through DOCKER_HOST for one untimed run each, which counts
// their requests without strace or changes to them.
type countingProxy struct {
	path string
	srv  *http.Server

	mu   sync.Mutex
	seen []string
}

func startProxy(path, upstream string) (*countingProxy, error) {
	os.Remove(path)
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, err
	}
	// The container side reaches the socket through a bind mount and may
	// run as any user.
	if err := os.Chmod(path, 0o666); err != nil {
		l.Close()
		return nil, err
	}
	p := &countingProxy{path: path}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = "http"
			r.Out.URL.Host = "docker"
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", upstream)
			},
		},
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.seen = append(p.seen, r.Method+" "+r.URL.Path)
		p.mu.Unlock()
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(l)
	return p, nil
}

// take returns the requests recorded since the last call, with the
// container's id and name replaced by {id} so that runs compare.
func (p *countingProxy) take(id, name string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]string, len(p.seen))
	for i, s := range p.seen {
		s = strings.ReplaceAll(s, id, "{id}")
		out[i] = strings.ReplaceAll(s, "/"+name+"/", "/{id}/")
	}
	p.seen = nil
	return out
}

func (p *countingProxy) close() { p.srv.Close() }
