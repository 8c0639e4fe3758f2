// Command readproxy serves a read-only, recording proxy of the Docker
// Engine API on a unix socket, printing each request on stderr.
//
//	readproxy -listen /tmp/ro.sock -allow /_ping,/containers/*/json
package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/portenv/portenv/internal/readproxy"
)

func main() {
	listen := flag.String("listen", "/tmp/docker-ro.sock", "unix socket to serve")
	upstream := flag.String("upstream", "/var/run/docker.sock", "the engine's unix socket")
	allow := flag.String("allow", "/_ping,/containers/*/json", "comma-separated path patterns that GET and HEAD may use")
	flag.Parse()
	p := readproxy.New(*upstream, strings.Split(*allow, ",")...)
	logged := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(os.Stderr, r.Method, readproxy.Unversioned(r.URL.Path))
		p.ServeHTTP(w, r)
	})
	os.Remove(*listen)
	stop, err := readproxy.Serve(*listen, http.Handler(logged))
	if err != nil {
		fmt.Fprintln(os.Stderr, "readproxy:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	<-sig
	stop()
	os.Remove(*listen)
}
