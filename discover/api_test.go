package discover

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// rawServer answers each connection with answer, after reading the
// request's head, and records the request lines.
type rawServer struct {
	ln     net.Listener
	mu     sync.Mutex
	lines  []string
	nconn  int
	answer func(reqLine string, w io.Writer)
}

func serveRaw(t *testing.T, answer func(reqLine string, w io.Writer)) *rawServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &rawServer{ln: ln, answer: answer}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.nconn++
			s.mu.Unlock()
			go s.serve(c)
		}
	}()
	return s
}

func (s *rawServer) serve(c net.Conn) {
	defer c.Close()
	r := bufio.NewReader(c)
	for {
		line, err := readLine(r)
		if err != nil {
			return
		}
		for {
			h, err := readLine(r)
			if err != nil {
				return
			}
			if h == "" {
				break
			}
			if strings.HasPrefix(h, "Proxy-Authorization: ") {
				line += " [" + h + "]"
			}
		}
		s.mu.Lock()
		s.lines = append(s.lines, line)
		s.mu.Unlock()
		s.answer(line, c)
	}
}

func (s *rawServer) conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nconn
}

func (s *rawServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.lines...)
}

func getBody(t *testing.T, a *api, path string) (int, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := a.send(ctx, "GET", "1.41", path)
	if err != nil {
		return 0, "", err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b), err
}

// Bodies framed by length, by chunks (with an extension and a trailer) and
// by the end of the connection; the first two keep the connection.
func TestAPIBodies(t *testing.T) {
	s := serveRaw(t, func(line string, w io.Writer) {
		switch {
		case strings.Contains(line, "/length"):
			io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nApi-Version: 1.41\r\n\r\nhello")
		case strings.Contains(line, "/chunked"):
			io.WriteString(w, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n")
		case strings.Contains(line, "/close"):
			io.WriteString(w, "HTTP/1.0 404 Not Found\r\n\r\n{\"message\":\"gone\"}")
			w.(net.Conn).Close()
		}
	})
	a := &api{addr: s.ln.Addr().String()}
	for _, tc := range []struct{ path, body string }{{"/length", "hello"}, {"/chunked", "abcdefg"}, {"/length", "hello"}} {
		status, body, err := getBody(t, a, tc.path)
		if err != nil || status != 200 || body != tc.body {
			t.Errorf("GET %s: %d %q %v, want 200 %q", tc.path, status, body, err, tc.body)
		}
	}
	if s.conns() != 1 {
		t.Errorf("%d connections for three kept-alive requests, want 1", s.conns())
	}
	status, body, err := getBody(t, a, "/close")
	if err != nil || status != 404 || body != `{"message":"gone"}` {
		t.Errorf("GET /close: %d %q %v", status, body, err)
	}
	if a.idle != nil {
		t.Error("a connection the answer closed is kept")
	}
	want := []string{"GET /v1.41/length HTTP/1.1", "GET /v1.41/chunked HTTP/1.1", "GET /v1.41/length HTTP/1.1", "GET /v1.41/close HTTP/1.1"}
	if got := s.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests %q, want %q", got, want)
	}
}

// What answers in something other than HTTP is said so, and is no reason
// to wait.
func TestAPINotHTTP(t *testing.T) {
	s := serveRaw(t, func(line string, w io.Writer) { io.WriteString(w, "SSH-2.0-OpenSSH_9.2\r\n\r\n") })
	_, _, err := getBody(t, &api{addr: s.ln.Addr().String()}, "/x")
	var nh *notHTTPError
	if !errors.As(err, &nh) || !permanent(err) || err.Error() != `it does not answer in HTTP (it sent "SSH-2.0-OpenSSH_9.2")` {
		t.Errorf("got %v", err)
	}
}

// An idle connection the engine closed is replaced once, at once.
func TestAPIIdleClosed(t *testing.T) {
	s := serveRaw(t, func(line string, w io.Writer) {
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		w.(net.Conn).Close() // without saying Connection: close
	})
	a := &api{addr: s.ln.Addr().String()}
	for i := 0; i < 2; i++ {
		if status, body, err := getBody(t, a, "/x"); err != nil || status != 200 || body != "ok" {
			t.Fatalf("request %d: %d %q %v", i, status, body, err)
		}
	}
	if len(s.requests()) != 2 || s.conns() != 2 {
		t.Errorf("%d requests on %d connections, want 2 on 2", len(s.requests()), s.conns())
	}
}

// A stream is ended by cancelling its context, at once.
func TestAPIStreamCancel(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"a":1}`+"\n")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	defer srv.Close()
	a := &api{addr: strings.TrimPrefix(srv.URL, "http://")}
	ctx, cancel := context.WithCancel(context.Background())
	resp, err := a.send(ctx, "GET", "", "/events")
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	if line, err := r.ReadString('\n'); err != nil || line != "{\"a\":1}\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	start := time.Now()
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("the stream went on after its context was cancelled")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the read ended %s after the cancel", d)
	}
	resp.Body.Cut()
}

// Through an HTTP proxy a plain tcp:// engine is asked with the whole
// address; with TLS, through a CONNECT tunnel. The proxy's credentials go
// to the proxy.
func TestAPIProxy(t *testing.T) {
	engine := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls "+r.URL.Path)
	}))
	defer engine.Close()
	proxy := serveRaw(t, func(line string, w io.Writer) {
		if strings.HasPrefix(line, "CONNECT ") {
			io.WriteString(w, "HTTP/1.1 200 Connection established\r\n\r\n")
			up, err := net.Dial("tcp", strings.TrimPrefix(engine.URL, "https://"))
			if err != nil {
				return
			}
			go io.Copy(up, w.(net.Conn))
			io.Copy(w, up)
			return
		}
		io.WriteString(w, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nplain")
	})
	env := map[string]string{"HTTP_PROXY": "http://u:p@" + proxy.ln.Addr().String(), "https_proxy": proxy.ln.Addr().String()}
	getenv := func(k string) string { return env[k] }

	a, err := newAPI("tcp://engine.example:2375", "", false, getenv)
	if err != nil {
		t.Fatal(err)
	}
	if status, body, err := getBody(t, a, "/_ping"); err != nil || status != 200 || body != "plain" {
		t.Fatalf("through the proxy: %d %q %v", status, body, err)
	}

	p, err := proxyFor("engine.example:2376", true, getenv)
	if err != nil {
		t.Fatal(err)
	}
	a = &api{addr: strings.TrimPrefix(engine.URL, "https://"), tls: &tls.Config{InsecureSkipVerify: true}, proxy: p}
	if status, body, err := getBody(t, a, "/info"); err != nil || status != 200 || body != "tls /v1.41/info" {
		t.Fatalf("through the tunnel: %d %q %v", status, body, err)
	}
	want := []string{
		"GET http://engine.example:2375/v1.41/_ping HTTP/1.1 [Proxy-Authorization: Basic dTpw]",
		"CONNECT " + a.addr + " HTTP/1.1",
	}
	if got := proxy.requests(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the proxy saw %q, want %q", got, want)
	}
}

func TestProxyFor(t *testing.T) {
	for _, tc := range []struct {
		env   map[string]string
		host  string
		https bool
		want  string // the proxy's address, "" for none, or the error
	}{
		{map[string]string{"HTTP_PROXY": "proxy:3128"}, "engine:2375", false, "proxy:3128"},
		{map[string]string{"http_proxy": "http://proxy"}, "engine:2375", false, "proxy:80"},
		{map[string]string{"HTTP_PROXY": "proxy:3128"}, "engine:2376", true, ""},
		{map[string]string{"HTTPS_PROXY": "proxy:3128"}, "engine:2376", true, "proxy:3128"},
		{map[string]string{"HTTP_PROXY": "proxy:3128"}, "127.0.0.1:2375", false, ""},
		{map[string]string{"HTTP_PROXY": "proxy:3128"}, "localhost:2375", false, ""},
		{map[string]string{"HTTP_PROXY": "proxy:3128", "NO_PROXY": "other, .example.com"}, "engine.example.com:2375", false, ""},
		{map[string]string{"HTTP_PROXY": "proxy:3128", "NO_PROXY": "example.com"}, "example.com:2375", false, ""},
		{map[string]string{"HTTP_PROXY": "proxy:3128", "NO_PROXY": "example.com"}, "notexample.com:2375", false, "proxy:3128"},
		{map[string]string{"HTTP_PROXY": "proxy:3128", "no_proxy": "10.0.0.0/8"}, "10.1.2.3:2375", false, ""},
		{map[string]string{"HTTP_PROXY": "proxy:3128", "NO_PROXY": "engine:2376"}, "engine:2375", false, "proxy:3128"},
		{map[string]string{"HTTP_PROXY": "proxy:3128", "NO_PROXY": "*"}, "engine:2375", false, ""},
		{map[string]string{"HTTP_PROXY": "socks5://proxy:1080"}, "engine:2375", false, `HTTP_PROXY="socks5://proxy:1080": portenv reaches a tcp:// engine through an http:// proxy only; write it as http://proxy:3128, or name the engine's host in NO_PROXY`},
	} {
		p, err := proxyFor(tc.host, tc.https, func(k string) string { return tc.env[k] })
		got := ""
		switch {
		case err != nil:
			got = err.Error()
		case p != nil:
			got = p.addr
		}
		if got != tc.want {
			t.Errorf("proxyFor(%s, https %v) with %v = %q, want %q", tc.host, tc.https, tc.env, got, tc.want)
		}
	}
}
