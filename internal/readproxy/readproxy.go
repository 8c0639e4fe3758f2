// Package readproxy is a read-only proxy for the Docker Engine API: it
// forwards the GET and HEAD requests whose paths it allows to the engine's
// socket, refuses everything else with 403, and records every request. It
// shows what portenv asks of the engine, and that portenv works behind such
// a proxy.
package readproxy

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path"
	"regexp"
	"sync"
)

// Proxy forwards allowed requests to the engine at Upstream (a unix socket
// path).
type Proxy struct {
	allow []string
	rp    *httputil.ReverseProxy

	mu       sync.Mutex
	requests []string
}

// New returns a proxy to the engine socket upstream that lets through GET
// and HEAD on the paths matching one of allow (path.Match patterns such as
// "/containers/*/json", written without the /v1.xx prefix).
func New(upstream string, allow ...string) *Proxy {
	target := &url.URL{Scheme: "http", Host: "docker"}
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", upstream)
		},
	}
	return &Proxy{allow: allow, rp: rp}
}

var versionPrefix = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/`)

// Unversioned drops the /v1.xx prefix of an API path.
func Unversioned(p string) string {
	if loc := versionPrefix.FindStringIndex(p); loc != nil {
		return p[loc[1]-1:]
	}
	return p
}

// ServeHTTP records the request, then forwards or refuses it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bare := Unversioned(r.URL.Path)
	p.mu.Lock()
	p.requests = append(p.requests, r.Method+" "+bare)
	p.mu.Unlock()
	if !p.allowed(r.Method, bare) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(map[string]string{"message": "read-only proxy: " + r.Method + " " + bare + " is not allowed"})
		return
	}
	p.rp.ServeHTTP(w, r)
}

func (p *Proxy) allowed(method, bare string) bool {
	if method != http.MethodGet && method != http.MethodHead {
		return false
	}
	for _, pat := range p.allow {
		if ok, _ := path.Match(pat, bare); ok {
			return true
		}
	}
	return false
}

// Requests returns the requests seen so far, as "METHOD /path" without
// the version prefix, in order.
func (p *Proxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.requests...)
}

// Take returns the requests seen since the last Take, and forgets them.
func (p *Proxy) Take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.requests
	p.requests = nil
	return out
}

// Serve listens on the unix socket sock and serves h (a Proxy) until the returned
// function is called.
func Serve(sock string, h http.Handler) (stop func(), err error) {
	l, err := net.Listen("unix", sock)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(l)
	return func() { srv.Close() }, nil
}
