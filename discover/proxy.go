package discover

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
)

// proxyConfig is the HTTP proxy a tcp:// engine is reached through, as
// HTTP_PROXY, HTTPS_PROXY and NO_PROXY name it for the docker CLI.
type proxyConfig struct {
	addr string // host:port
	auth string // the Proxy-Authorization value, or ""
}

// proxyFor returns the proxy for the engine at hostPort, or nil: the
// HTTPS_PROXY of an engine spoken to with TLS, HTTP_PROXY of one without,
// none for a loopback address or one NO_PROXY names.
func proxyFor(hostPort string, https bool, getenv func(string) string) (*proxyConfig, error) {
	env := func(name string) (string, string) {
		if v := getenv(name); v != "" {
			return name, v
		}
		return strings.ToLower(name), getenv(strings.ToLower(name))
	}
	name, raw := env("HTTP_PROXY")
	if https {
		name, raw = env("HTTPS_PROXY")
	}
	host, port, _ := net.SplitHostPort(hostPort)
	if raw == "" || loopback(host) || noProxy(host, port, getenv) {
		return nil, nil
	}
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" || u.Host == "" {
		return nil, fmt.Errorf("%s=%q: portenv reaches a tcp:// engine through an http:// proxy only; write it as http://proxy:3128, or name the engine's host in NO_PROXY", name, raw)
	}
	p := &proxyConfig{addr: u.Host}
	if u.Port() == "" {
		p.addr = net.JoinHostPort(u.Hostname(), "80")
	}
	if u.User != nil {
		pass, _ := u.User.Password()
		p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pass))
	}
	return p, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// noProxy reports whether NO_PROXY names host: "*", the host itself, a
// domain it is in ("example.com" or ".example.com"), an IP address or a
// CIDR range that holds it, each optionally with the port.
func noProxy(host, port string, getenv func(string) string) bool {
	list := getenv("NO_PROXY")
	if list == "" {
		list = getenv("no_proxy")
	}
	ip := net.ParseIP(host)
	for _, e := range strings.Split(list, ",") {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "*" {
			return true
		}
		if h, p, err := net.SplitHostPort(e); err == nil {
			if p != port {
				continue
			}
			e = h
		}
		if _, cidr, err := net.ParseCIDR(e); err == nil {
			if ip != nil && cidr.Contains(ip) {
				return true
			}
			continue
		}
		if e == "" {
			continue
		}
		h := strings.ToLower(host)
		if h == strings.TrimPrefix(e, ".") || strings.HasSuffix(h, "."+strings.TrimPrefix(e, ".")) {
			return true
		}
	}
	return false
}

// tunnel opens a connection to addr through the proxy with CONNECT, and
// speaks TLS on it.
func (p *proxyConfig) tunnel(ctx context.Context, addr string, cfg *tls.Config) (net.Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	req := "CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n"
	if p.auth != "" {
		req += "Proxy-Authorization: " + p.auth + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		nc.Close()
		return nil, err
	}
	resp, _, _, err := readHead(bufio.NewReaderSize(nc, 1), "CONNECT")
	if err == nil && resp.StatusCode/100 != 2 {
		err = fmt.Errorf("the proxy %s answered CONNECT %s with %s", p.addr, addr, resp.Status)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	return handshake(ctx, nc, cfg)
}
