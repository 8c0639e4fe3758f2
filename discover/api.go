package discover

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DefaultHost is the engine's address when DOCKER_HOST is not set, as the
// docker CLI has it.
const DefaultHost = "unix:///var/run/docker.sock"

// The API versions portenv speaks: the engine's own from its ping, within
// these. Below 1.24 the filters of GET /events had another form, and no
// engine of that age is maintained; 1.57 is the newest the API types
// portenv is built with describe.
const (
	oldestAPI = "1.24"
	newestAPI = "1.57"
)

// unixHost is the Host header of requests over a unix socket, which names
// no host; the docker CLI sends the same.
const unixHost = "api.moby.localhost"

// api is the one HTTP path to the engine: where requests go, how they are
// carried (a unix socket, TCP, TLS, a proxy from the environment), and
// nothing else. Every request portenv sends is a HEAD or a GET.
type api struct {
	http *http.Client
	// base is scheme://host plus DOCKER_HOST's path, if any, to which
	// /vX.Y/... is appended.
	base string
	// socket is the file of a unix:// address, or "".
	socket string
}

// newAPI sets up the path to the engine at host (DOCKER_HOST's value, or
// DefaultHost), with TLS when certs (DOCKER_CERT_PATH) names the client's
// files; verify (DOCKER_TLS_VERIFY set) checks the engine's certificate
// against certs/ca.pem, as the docker CLI does.
func newAPI(host, certs string, verify bool) (*api, error) {
	scheme, addr, _ := strings.Cut(host, "://")
	switch scheme {
	case "unix":
		a := &api{base: "http://" + unixHost, socket: addr}
		dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", a.socket)
		}
		a.http = &http.Client{Transport: &http.Transport{DialContext: dial, DisableCompression: true}}
		return a, nil
	case "tcp":
		hostPort, path, _ := strings.Cut(addr, "/")
		if path != "" {
			path = "/" + strings.TrimSuffix(path, "/")
		}
		tr := &http.Transport{Proxy: http.ProxyFromEnvironment, DisableCompression: true}
		a := &api{base: "http://" + hostPort + path, http: &http.Client{Transport: tr}}
		if certs != "" {
			cfg, err := tlsConfig(certs, verify)
			if err != nil {
				return nil, fmt.Errorf("DOCKER_CERT_PATH=%q: the TLS files there cannot be used (%s); they must be the engine's ca.pem and the client's cert.pem and key.pem, in PEM", certs, err)
			}
			tr.TLSClientConfig = cfg
			a.base = "https://" + hostPort + path
		}
		return a, nil
	}
	// checkEnv refuses every other scheme first.
	return nil, fmt.Errorf("DOCKER_HOST=%q: portenv cannot reach an engine over %s://; write it as unix:///var/run/docker.sock or tcp://host:2376", host, scheme)
}

// tlsConfig reads ca.pem, cert.pem and key.pem from dir. Without verify,
// the engine's certificate is not checked (DOCKER_TLS_VERIFY unset, as
// the docker CLI behaves), but the client still shows its own.
func tlsConfig(dir string, verify bool) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"))
	if err != nil {
		return nil, errors.New("cert.pem and key.pem are not a certificate and its key in PEM")
	}
	ca, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, errors.New("ca.pem cannot be read")
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, errors.New("ca.pem holds no certificate in PEM")
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		Certificates:       []tls.Certificate{cert},
		RootCAs:            pool,
		InsecureSkipVerify: !verify,
	}, nil
}

// send sends method path (with its query, without the version prefix)
// at API version v ("" for the unversioned /_ping).
func (a *api) send(ctx context.Context, method, v, path string) (*http.Response, error) {
	if v != "" {
		path = "/v" + v + path
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, nil)
	if err != nil {
		return nil, err
	}
	return a.http.Do(req)
}

// close releases idle connections.
func (a *api) close() { a.http.CloseIdleConnections() }

// statusError is an engine's answer other than 2xx: its status and its
// words.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// answerError reads an answer that is not a success: the engine's
// {"message": ...}, else the start of the text, else the status's name.
func answerError(resp *http.Response) *statusError {
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(text))
	var body struct{ Message string }
	if decodeJSON(strings.NewReader(msg), &body) == nil && body.Message != "" {
		msg = body.Message
	}
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &statusError{status: resp.StatusCode, msg: msg}
}

// httpStatus is the status of an answer the engine gave, or 0 when err
// is no answer.
func httpStatus(err error) int {
	var se *statusError
	if errors.As(err, &se) {
		return se.status
	}
	return 0
}

// versionLess reports whether API version a is older than b ("1.9" is
// older than "1.24").
func versionLess(a, b string) bool {
	amaj, amin, _ := strings.Cut(a, ".")
	bmaj, bmin, _ := strings.Cut(b, ".")
	x, _ := strconv.Atoi(amaj)
	y, _ := strconv.Atoi(bmaj)
	if x != y {
		return x < y
	}
	x, _ = strconv.Atoi(amin)
	y, _ = strconv.Atoi(bmin)
	return x < y
}

// negotiate is the version to speak with an engine whose ping offered
// offered: that version, within what portenv speaks. An engine that
// names none (before API 1.25 the ping had no header) is taken as 1.24.
func negotiate(offered string) string {
	switch {
	case !apiVersion(offered), versionLess(offered, oldestAPI):
		return oldestAPI
	case versionLess(newestAPI, offered):
		return newestAPI
	}
	return offered
}
