package main

import (
	"os"
	"strings"

	"github.com/portenv/portenv/internal/readproxy"
)

// countingProxy is a read-only proxy on a unix socket of its own in front
// of the engine's, which records each request. Programs are pointed at it
// through DOCKER_HOST for one untimed run each, which counts their
// requests without strace or changes to them.
type countingProxy struct {
	*readproxy.Proxy
	close func()
}

// What the measured programs may ask: portenv's two requests, and what the
// docker CLI asks for `docker port` and its version checks.
var benchAllowed = []string{"/_ping", "/containers/*/json", "/version", "/info"}

func startProxy(path, upstream string) (*countingProxy, error) {
	os.Remove(path)
	p := readproxy.New(upstream, benchAllowed...)
	stop, err := readproxy.Serve(path, p)
	if err != nil {
		return nil, err
	}
	// The container side reaches the socket through a bind mount and may
	// run as any user.
	if err := os.Chmod(path, 0o666); err != nil {
		stop()
		return nil, err
	}
	return &countingProxy{Proxy: p, close: stop}, nil
}

// take returns the requests recorded since the last call, with the
// container's id and name replaced by {id} so that runs compare.
func (p *countingProxy) take(id, name string) []string {
	out := p.Take()
	for i, s := range out {
		s = strings.ReplaceAll(s, id, "{id}")
		out[i] = strings.ReplaceAll(s, "/"+name+"/", "/{id}/")
	}
	return out
}
