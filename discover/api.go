package discover

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// DefaultHost is the engine's address when DOCKER_HOST is not set, as the
// docker CLI has it.
const DefaultHost = "unix:///var/run/docker.sock"

// The API versions portenv speaks: the engine's own from its ping, within
// these. Below 1.24 the filters of GET /events had another form, and no
// engine of that age is maintained; 1.57 is the newest the API types
// portenv is built with describe.
const (
	OldestAPI = "1.24"
	NewestAPI = "1.57"
)

// HTTP statuses portenv tells apart.
const (
	statusOK                 = 200
	statusUnauthorized       = 401
	statusForbidden          = 403
	statusNotFound           = 404
	statusRequestTimeout     = 408
	statusTooManyRequests    = 429
	statusServiceUnavailable = 503
)

// api is the one path to the engine: HTTP/1.1, HEAD and GET only, over a
// unix socket or TCP, with TLS from DOCKER_CERT_PATH and a proxy from the
// environment for tcp://. It is this narrow on purpose: net/http would
// bring HTTP/2, multipart forms, cookies and gzip into a binary that runs
// at every container start, for two requests.
type api struct {
	socket string // the file of a unix:// address, or ""
	addr   string // host:port of a tcp:// address
	prefix string // the path DOCKER_HOST gives after host:port, if any
	tls    *tls.Config
	proxy  *proxyConfig // for tcp://, or nil
	// header gives lines to add to each request's head, each ending in
	// CRLF: the Kubernetes API's Authorization, whose token the kubelet
	// rotates. nil for the engine.
	header func() (string, error)

	mu   sync.Mutex
	idle *conn // one kept-alive connection, so a start uses one
}

// newAPI sets up the path to the engine at host (DOCKER_HOST's value, or
// DefaultHost), with TLS when certs (DOCKER_CERT_PATH) names the client's
// files; verify (DOCKER_TLS_VERIFY set) checks the engine's certificate
// against certs/ca.pem, as the docker CLI does. getenv reads the proxy
// variables.
func newAPI(host, certs string, verify bool, getenv func(string) string) (*api, error) {
	scheme, addr, _ := strings.Cut(host, "://")
	switch scheme {
	case "unix":
		return &api{socket: addr}, nil
	case "tcp":
		hostPort, path, _ := strings.Cut(addr, "/")
		a := &api{addr: hostPort}
		if path = strings.TrimSuffix(path, "/"); path != "" {
			a.prefix = "/" + path
		}
		if certs != "" {
			cfg, err := tlsConfig(certs, verify)
			if err != nil {
				return nil, fmt.Errorf("DOCKER_CERT_PATH=%q: the TLS files there cannot be used (%s); they must be the engine's ca.pem and the client's cert.pem and key.pem, in PEM", certs, err)
			}
			cfg.ServerName, _, _ = net.SplitHostPort(hostPort)
			a.tls = cfg
		}
		p, err := proxyFor(hostPort, a.tls != nil, getenv)
		if err != nil {
			return nil, err
		}
		a.proxy = p
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

// conn is one connection to the engine, with its reader.
type conn struct {
	net.Conn
	r *bufio.Reader
}

// response is an answer's status, the headers portenv reads, and its body.
type response struct {
	StatusCode int
	Status     string // "404 Not Found"
	apiVersion string // the Api-Version header
	Body       *bodyReader
}

// send sends method path (with its query, without the version prefix) at
// API version v ("" for the unversioned /_ping). The body must be closed;
// reading it to its end gives the connection back for the next request.
// Cancelling ctx ends the request and a body still being read.
func (a *api) send(ctx context.Context, method, v, path string) (*response, error) {
	if v != "" {
		path = "/v" + v + path
	}
	path = a.prefix + path
	var extra string
	if a.header != nil {
		h, err := a.header()
		if err != nil {
			return nil, err
		}
		extra = h
	}
	for try := 0; ; try++ {
		c, reused, err := a.conn(ctx)
		if err != nil {
			return nil, err
		}
		resp, err := a.roundTrip(ctx, c, method, path, extra)
		// An idle connection the engine has closed fails at once; HEAD
		// and GET may be sent again on a new one.
		if err != nil && reused && try == 0 && ctx.Err() == nil {
			continue
		}
		return resp, err
	}
}

// conn takes the idle connection, or dials a new one.
func (a *api) conn(ctx context.Context) (*conn, bool, error) {
	a.mu.Lock()
	c := a.idle
	a.idle = nil
	a.mu.Unlock()
	if c != nil {
		return c, true, nil
	}
	nc, err := a.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	return &conn{Conn: nc, r: bufio.NewReader(nc)}, false, nil
}

func (a *api) dial(ctx context.Context) (net.Conn, error) {
	var d net.Dialer
	if a.socket != "" {
		return d.DialContext(ctx, "unix", a.socket)
	}
	if a.proxy != nil && a.tls != nil {
		return a.proxy.tunnel(ctx, a.addr, a.tls)
	}
	addr := a.addr
	if a.proxy != nil {
		addr = a.proxy.addr
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil || a.tls == nil {
		return nc, err
	}
	return handshake(ctx, nc, a.tls)
}

// handshake runs the TLS handshake on nc within ctx.
func handshake(ctx context.Context, nc net.Conn, cfg *tls.Config) (net.Conn, error) {
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	return tc, nil
}

// roundTrip writes the request, with the header lines extra, on c and
// reads the answer's head.
func (a *api) roundTrip(ctx context.Context, c *conn, method, path, extra string) (*response, error) {
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	fail := func(err error) (*response, error) {
		stop()
		c.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	target, host := path, "api.moby.localhost" // a unix socket names no host; the docker CLI sends the same
	if a.socket == "" {
		host = a.addr
		if a.proxy != nil && a.tls == nil {
			target = "http://" + a.addr + path // an HTTP proxy takes the whole address
		}
	}
	req := method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: portenv\r\n"
	if a.proxy != nil && a.tls == nil && a.proxy.auth != "" {
		req += "Proxy-Authorization: " + a.proxy.auth + "\r\n"
	}
	if _, err := io.WriteString(c, req+extra+"\r\n"); err != nil {
		return fail(err)
	}
	resp, body, keep, err := readHead(c.r, method)
	if err != nil {
		return fail(err)
	}
	resp.Body = &bodyReader{r: body, done: func(whole bool) {
		stop()
		if whole && keep && ctx.Err() == nil {
			a.putIdle(c)
		} else {
			c.Close()
		}
	}}
	return resp, nil
}

func (a *api) putIdle(c *conn) {
	a.mu.Lock()
	old := a.idle
	a.idle = c
	a.mu.Unlock()
	if old != nil {
		old.Close()
	}
}

// close releases the idle connection.
func (a *api) close() { a.putIdle(nil) }

// notHTTPError says that what answered does not speak HTTP.
type notHTTPError struct{ line string }

func (e *notHTTPError) Error() string {
	return "it does not answer in HTTP (it sent " + strconv.Quote(truncate(e.line, 40)) + ")"
}

// readHead reads an answer's status line and headers, and frames its
// body. keep says whether the connection may carry another request once
// the body is read.
func readHead(r *bufio.Reader, method string) (resp *response, body io.Reader, keep bool, err error) {
	line, err := readLine(r)
	if err != nil {
		return nil, nil, false, err
	}
	proto, status, _ := strings.Cut(line, " ")
	code, _, _ := strings.Cut(status, " ")
	n, err := strconv.Atoi(code)
	if !strings.HasPrefix(proto, "HTTP/1.") || len(code) != 3 || err != nil {
		return nil, nil, false, &notHTTPError{line}
	}
	resp = &response{StatusCode: n, Status: status}
	keep = proto != "HTTP/1.0"
	length, chunked := int64(-1), false
	for {
		h, err := readLine(r)
		if err != nil {
			return nil, nil, false, err
		}
		if h == "" {
			break
		}
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			return nil, nil, false, &notHTTPError{h}
		}
		v = strings.TrimSpace(v)
		switch strings.ToLower(k) {
		case "api-version":
			resp.apiVersion = v
		case "content-length":
			if length, err = strconv.ParseInt(v, 10, 64); err != nil || length < 0 {
				return nil, nil, false, &notHTTPError{h}
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(v, "chunked")
		case "connection":
			keep = keep && !strings.EqualFold(v, "close")
		}
	}
	switch {
	case method == "HEAD" || method == "CONNECT" && n/100 == 2 || n/100 == 1 || n == 204 || n == 304:
		return resp, strings.NewReader(""), keep, nil
	case chunked:
		return resp, &chunkedReader{r: r}, keep, nil
	case length >= 0:
		return resp, io.LimitReader(r, length), keep, nil
	}
	// Framed by the end of the connection.
	return resp, r, false, nil
}

// readLine reads one CRLF- or LF-ended line of at most 64 KiB.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		part, more, err := r.ReadLine()
		if err != nil {
			if errors.Is(err, io.EOF) && len(b) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		b = append(b, part...)
		if len(b) > 64<<10 {
			return "", &notHTTPError{string(b[:40])}
		}
		if !more {
			return string(b), nil
		}
	}
}

// chunkedReader reads a body in HTTP/1.1's chunked encoding, as the engine
// streams GET /events.
type chunkedReader struct {
	r    *bufio.Reader
	left int64 // of the current chunk
	end  bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if c.end {
		return 0, io.EOF
	}
	if c.left == 0 {
		line, err := readLine(c.r)
		if err != nil {
			return 0, eofIsUnexpected(err)
		}
		size, _, _ := strings.Cut(line, ";")
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n < 0 {
			return 0, &notHTTPError{line}
		}
		if n == 0 {
			// Trailers, if any, end with an empty line.
			for {
				t, err := readLine(c.r)
				if err != nil {
					return 0, eofIsUnexpected(err)
				}
				if t == "" {
					break
				}
			}
			c.end = true
			return 0, io.EOF
		}
		c.left = n
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		// The chunk's CRLF.
		_, err = readLine(c.r)
	}
	return n, eofIsUnexpected(err)
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// bodyReader calls done once, when the body has been read to its end or
// is closed before it.
type bodyReader struct {
	r    io.Reader
	done func(whole bool)
	once sync.Once
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if errors.Is(err, io.EOF) {
		b.once.Do(func() { b.done(true) })
	}
	return n, err
}

// Close reads what is left of the answer, up to a few KiB (its last
// chunk, as a rule), so that the connection serves the next request.
func (b *bodyReader) Close() error {
	b.once.Do(func() {
		n, err := io.Copy(io.Discard, io.LimitReader(b.r, 4<<10))
		b.done(err == nil && n < 4<<10)
	})
	return nil
}

// Cut closes the connection of a stream that is still being sent.
func (b *bodyReader) Cut() { b.once.Do(func() { b.done(false) }) }

// statusError is an engine's answer other than 2xx: its status and its
// words.
type statusError struct {
	status int
	line   string // "404 Not Found"
	msg    string
}

func (e *statusError) Error() string { return e.msg }

// answerError reads an answer that is not a success: the engine's
// {"message": ...}, else the start of the text, else the status's name.
func answerError(resp *response) *statusError {
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := strings.TrimSpace(string(text))
	var body struct{ Message string }
	if decodeJSON(strings.NewReader(msg), &body) == nil && body.Message != "" {
		msg = body.Message
	}
	if msg == "" {
		_, msg, _ = strings.Cut(resp.Status, " ")
	}
	return &statusError{status: resp.StatusCode, line: resp.Status, msg: msg}
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
	case !apiVersion(offered), versionLess(offered, OldestAPI):
		return OldestAPI
	case versionLess(NewestAPI, offered):
		return NewestAPI
	}
	return offered
}
