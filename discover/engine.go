package discover

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/portenv/portenv/internal/backoff"
)

// Engine is a connection to the Docker Engine API (or one that speaks it,
// such as Podman's), with the API version agreed.
type Engine struct {
	api *api
	// Endpoint is where the engine was reached, as DOCKER_HOST writes it.
	Endpoint string
	// APIVersion is the version of the API in use.
	APIVersion string
	// Pinned is true while DOCKER_API_VERSION fixes the version.
	Pinned bool
	// EngineAPI is the newest API version the engine offers, as its
	// /_ping answered ("" when it did not say).
	EngineAPI string

	hostSet bool // DOCKER_HOST named the endpoint
	warnf   func(format string, args ...any)
	wait    time.Duration // the time given to Connect, for messages
}

// Connect reaches the engine named by DOCKER_HOST (default: the local
// socket) and agrees on an API version with one /_ping. While the engine
// does not answer it retries with backoff until ctx is done; what waiting
// cannot mend (no socket, a refused one, a malformed DOCKER_ variable)
// fails at once. getenv reads the DOCKER_ variables and the proxy's.
// warnf receives what a user should know but that does not stop portenv,
// such as a DOCKER_API_VERSION that cannot be used.
func Connect(ctx context.Context, getenv func(string) string, warnf func(format string, args ...any)) (*Engine, error) {
	if err := checkEnv(getenv); err != nil {
		return nil, err
	}
	host := getenv("DOCKER_HOST")
	hostSet := host != ""
	if !hostSet {
		host = DefaultHost
	}
	a, err := newAPI(host, getenv("DOCKER_CERT_PATH"), getenv("DOCKER_TLS_VERIFY") != "", getenv)
	if err != nil {
		return nil, err
	}
	e := &Engine{api: a, Endpoint: host, hostSet: hostSet, warnf: warnf}
	if dl, ok := ctx.Deadline(); ok {
		e.wait = time.Until(dl).Round(100 * time.Millisecond)
	}
	if err := e.checkSocket(); err != nil {
		return nil, err
	}
	var last error
	answered := false
	err = retry(ctx, engineWait, func() (bool, error) {
		offered, err := e.ping(ctx)
		if err == nil {
			answered, e.EngineAPI = true, offered
			return true, nil
		}
		switch status := httpStatus(err); {
		case status != 0 && !transient(status):
			return true, e.pingError(err)
		case permanent(err):
			return true, e.connectError(err)
		case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
			return true, e.permissionError()
		}
		last = err
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if !answered {
		return nil, e.timeoutError("answer HEAD /_ping", last)
	}
	e.APIVersion = negotiate(e.EngineAPI)
	e.pin(strings.TrimPrefix(getenv("DOCKER_API_VERSION"), "v"))
	return e, nil
}

// ping asks HEAD /_ping, and GET /_ping of engines before API 1.40, which
// answer only that. It returns the newest API version the engine offers.
func (e *Engine) ping(ctx context.Context) (string, error) {
	resp, err := e.api.send(ctx, "HEAD", "", "/_ping")
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	if resp.StatusCode != statusOK {
		if resp, err = e.api.send(ctx, "GET", "", "/_ping"); err != nil {
			return "", err
		}
		defer resp.Body.Close()
		if resp.StatusCode != statusOK {
			return "", answerError(resp)
		}
	}
	return resp.apiVersion, nil
}

// pingError says what an answer to /_ping other than 200 means. A 5xx is
// waited out before this, as a proxy gives one while the engine behind it
// restarts.
func (e *Engine) pingError(err error) error {
	if httpStatus(err) == statusForbidden {
		// A socket proxy that refuses /_ping will not change its mind.
		return e.apiError("HEAD /_ping", err)
	}
	// Something answers, and it is not an engine: an engine always
	// answers /_ping.
	return fmt.Errorf("%s answered GET /_ping with %s, which no Docker engine does; check that DOCKER_HOST is the engine's address (or a socket proxy's that allows /_ping)", e.Endpoint, answerSummary(err))
}

// pin uses the version DOCKER_API_VERSION sets, when the engine can speak
// it; otherwise it says once why it is not used. Legacy compose files
// carry such pins (DOCKER_API_VERSION=1.22 for the Docker CLI of old
// images); portenv speaks any version, so a pin is no reason to fail.
func (e *Engine) pin(v string) {
	switch {
	case v == "":
	case versionLess(v, OldestAPI):
		e.warn(v, "it is older than API "+OldestAPI+", the oldest portenv speaks")
	case e.EngineAPI != "" && versionLess(e.EngineAPI, v):
		e.warn(v, "the engine offers at most "+e.EngineAPI)
	default:
		e.APIVersion, e.Pinned = v, true
	}
}

// unpin drops a pinned version the engine refused, for the negotiated one.
func (e *Engine) unpin(refusal string) {
	pinned := e.APIVersion
	e.APIVersion, e.Pinned = negotiate(e.EngineAPI), false
	e.warn(pinned, "the engine refused it: "+refusal)
}

func (e *Engine) warn(pinned, why string) {
	if e.warnf != nil {
		e.warnf("DOCKER_API_VERSION=%s is not used, as %s; using API %s instead; remove DOCKER_API_VERSION from the container's environment", pinned, why, e.APIVersion)
	}
}

// Close releases the connection.
func (e *Engine) Close() error {
	e.api.close()
	return nil
}

// get sends GET path at the version in use and decodes a 200 answer into
// into. Its errors: a *statusError for any other answer, an unreadable
// answer in words, or the connection's failure as it came.
func (e *Engine) get(ctx context.Context, path string, into any) error {
	resp, err := e.api.send(ctx, "GET", e.APIVersion, path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != statusOK {
		se := answerError(resp)
		if refusal := versionRefusal(se); refusal != "" && e.Pinned {
			e.unpin(refusal)
			return e.get(ctx, path, into)
		}
		return se
	}
	if err := decodeJSON(resp.Body, into); err != nil {
		req, _, _ := strings.Cut(path, "?")
		return e.unreadable("GET "+req, err)
	}
	return nil
}

// NotFoundError says that no container goes by reference Ref: the engine
// knows none, or the agent's records hold none.
type NotFoundError struct {
	Ref string
	why string
}

func (e *NotFoundError) Error() string { return e.why }

func (e *Engine) notFound(ref string) *NotFoundError {
	return &NotFoundError{Ref: ref, why: fmt.Sprintf("no container %q on the engine at %s (GET /containers/%s/json answered 404); check the id or name given to --container (docker ps lists them) and that DOCKER_HOST is the engine that runs it",
		ref, e.Endpoint, ref)}
}

// Inspect reads one container. A port listed in HostConfig.PortBindings but
// not bound yet, and a container that is restarting, are waited for until
// ctx is done, so that portenv started early still sees what the engine is
// about to publish.
func (e *Engine) Inspect(ctx context.Context, ref string) (*Container, error) {
	var c *Container
	var pending []Port
	var last error
	askedNetworks := false
	req := "GET /containers/" + ref + "/json"
	err := retry(ctx, engineWait, func() (bool, error) {
		var raw inspectResponse
		err := e.get(ctx, "/containers/"+url.PathEscape(ref)+"/json", &raw)
		var ue *unreadableError
		switch {
		case err == nil && raw.ID == "":
			return true, e.unreadable(req, errors.New("it has no Id"))
		case err == nil:
		case httpStatus(err) == statusNotFound:
			return true, e.notFound(ref)
		case httpStatus(err) != 0:
			return true, e.apiError(req, err)
		case errors.As(err, &ue), permanent(err):
			return true, e.connectError(err)
		default:
			last = err
			return false, nil
		}
		c, pending = raw.container()
		if c.Status == "restarting" {
			// Its restart policy brings it back, with new ports: they
			// are waited for, as ports about to be bound are.
			return false, nil
		}
		if len(pending) > 0 && !askedNetworks {
			// Docker 29 lists a port that an internal network cannot
			// publish as one not bound yet; only the network tells.
			askedNetworks = true
			if e.allInternal(ctx, raw.networkIDs()) {
				c.Unpublishable, pending = append(c.Unpublishable, pending...), nil
				sortPorts(c.Unpublishable)
			}
		}
		return len(pending) == 0, nil
	})
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, e.timeoutError("answer "+req, last)
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("the engine did not bind %s of container %s within the timeout, though they are to be published; check `docker port %s`, or raise --timeout",
			joinPorts(pending), c.Name, c.Name)
	}
	if c.Status == "restarting" {
		return nil, fmt.Errorf("container %s was still restarting when --timeout (%s) ended: its process keeps ending, and its restart policy starts it again with host ports the engine picks anew; check why it ends (docker logs %s), or raise --timeout", c.Name, e.wait, c.Name)
	}
	return c, nil
}

// allInternal reports whether each of the networks ids is internal, so
// that no port of a container on them is ever published. Where the engine
// does not say (a proxy that refuses GET /networks/{id}), it reports false,
// and the ports are waited for.
func (e *Engine) allInternal(ctx context.Context, ids []string) bool {
	for _, id := range ids {
		var n struct{ Internal bool }
		if err := e.get(ctx, "/networks/"+url.PathEscape(id), &n); err != nil || !n.Internal {
			return false
		}
	}
	return len(ids) > 0
}

// unreadable says that the answer to req could not be read, and why.
func (e *Engine) unreadable(req string, why error) error {
	return &unreadableError{fmt.Sprintf("the engine at %s answered %s with something portenv cannot read: %v; is DOCKER_HOST an engine, or a proxy that rewrites its answers?", e.Endpoint, req, why)}
}

type unreadableError struct{ msg string }

func (e *unreadableError) Error() string { return e.msg }

// checkEnv refuses at once what the client would accept and then fail on
// at every retry: a DOCKER_HOST scheme it cannot reach (ssh:// needs the
// docker CLI's ssh helper), a DOCKER_API_VERSION that is no version.
func checkEnv(getenv func(string) string) error {
	if h := getenv("DOCKER_HOST"); h != "" {
		scheme, _, ok := strings.Cut(h, "://")
		switch {
		case !ok:
			return fmt.Errorf("DOCKER_HOST=%q has no scheme; write it as unix:///var/run/docker.sock or tcp://host:2376", h)
		case scheme == "ssh":
			return fmt.Errorf("DOCKER_HOST=%q: portenv does not speak ssh:// (the docker CLI runs an ssh command for it); point DOCKER_HOST at unix:///path/to/docker.sock or tcp://host:2376, for example a socket forwarded with ssh -L", h)
		case scheme != "unix" && scheme != "tcp":
			return fmt.Errorf("DOCKER_HOST=%q: portenv cannot reach an engine over %s://; write it as unix:///var/run/docker.sock or tcp://host:2376", h, scheme)
		case scheme == "tcp":
			if why := badTCPAddress(strings.TrimPrefix(h, "tcp://")); why != "" {
				return fmt.Errorf("DOCKER_HOST=%q %s; write it as tcp://host:2376 (TLS) or tcp://host:2375", h, why)
			}
		}
	}
	certs := getenv("DOCKER_CERT_PATH")
	if getenv("DOCKER_TLS_VERIFY") != "" && certs == "" {
		return errors.New("DOCKER_TLS_VERIFY is set but DOCKER_CERT_PATH is not, and portenv reads the certificates only from DOCKER_CERT_PATH (ca.pem, cert.pem, key.pem); set it to their directory (the docker CLI's default is ~/.docker), or unset DOCKER_TLS_VERIFY")
	}
	if certs != "" {
		var missing []string
		for _, f := range []string{"ca.pem", "cert.pem", "key.pem"} {
			if _, err := os.Stat(filepath.Join(certs, f)); err != nil {
				missing = append(missing, f)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("DOCKER_CERT_PATH=%q does not hold %s; it must be the directory of the engine's TLS files ca.pem, cert.pem and key.pem", certs, strings.Join(missing, ", "))
		}
	}
	if v := getenv("DOCKER_API_VERSION"); v != "" && !apiVersion(strings.TrimPrefix(v, "v")) {
		return fmt.Errorf("DOCKER_API_VERSION=%q is not an API version; write it as 1.41 (digits, a dot, digits), or remove it so that portenv agrees on one with the engine", v)
	}
	return nil
}

// badTCPAddress says what makes the host:port of a tcp:// DOCKER_HOST one
// that no wait can reach, or "". A name that does not resolve is waited
// for: in Compose, a socket proxy's name resolves once it runs.
func badTCPAddress(addr string) string {
	addr, _, _ = strings.Cut(addr, "/")
	host, port, err := net.SplitHostPort(addr)
	switch {
	case addr == "":
		return "names no host"
	case err != nil:
		return "gives no port, which portenv does not guess (the docker CLI fills in 2375 or 2376)"
	case host == "":
		return "names no host before :" + port
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "has port " + strconv.Quote(port) + ", which is not a port number from 1 to 65535"
	}
	if strings.Trim(host, "0123456789.") == "" && net.ParseIP(host) == nil {
		return "has host " + host + ", which is not an IPv4 address"
	}
	return ""
}

// apiVersion reports whether v reads as MAJOR.MINOR, as "1.41".
func apiVersion(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	return ok && digits(major) && digits(minor)
}

func digits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// engineWait is the longest wait between two tries of the engine.
const engineWait = time.Second

// retry calls try with backoff, 25 ms doubling up to maxWait, until it
// says done or ctx ends.
func retry(ctx context.Context, maxWait time.Duration, try func() (done bool, err error)) error {
	b := backoff.Backoff{First: 25 * time.Millisecond, Max: maxWait}
	for {
		done, err := try()
		if done || err != nil || !b.Wait(ctx) {
			return err
		}
	}
}

// socketPath is the file of a unix:// endpoint, or "".
func (e *Engine) socketPath() string { return e.api.socket }

func (e *Engine) checkSocket() error {
	p := e.socketPath()
	if p == "" {
		return nil
	}
	from := "DOCKER_HOST is not set, so portenv looked there"
	if e.hostSet {
		from = "DOCKER_HOST=" + e.Endpoint
	}
	st, err := os.Stat(p)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("no Docker socket at %s in this container (%s); mount it with -v /var/run/docker.sock:%s:ro, or set DOCKER_HOST to the engine's address", p, from, p)
	case err != nil:
		// Permission and the like: the connection says it better.
		return nil
	case st.IsDir():
		return fmt.Errorf("%s is a directory, not the engine's socket (%s); Docker makes an empty directory when the host path given to -v does not exist: check the host side of -v (/var/run/docker.sock on most hosts) and start the container again", p, from)
	case st.Mode()&os.ModeSocket == 0:
		kind := "is not a socket"
		if st.Mode().IsRegular() {
			kind = "is a regular file, not a socket"
		}
		return fmt.Errorf("%s %s, so no engine answers there (%s); mount the engine's socket there with -v /var/run/docker.sock:%s:ro", p, kind, from, p)
	}
	return nil
}

func (e *Engine) timeoutError(what string, last error) error {
	msg := fmt.Sprintf("the engine at %s did not %s within %s (--timeout)", e.Endpoint, what, e.wait)
	if last != nil && !errors.Is(last, context.DeadlineExceeded) && !errors.Is(last, context.Canceled) {
		msg += " (last error: " + dialProblem(last) + ")"
	}
	return errors.New(msg + "; check that the engine runs and that this is its address, or raise --timeout")
}

// transient reports whether an answer with this status may change by
// itself: a proxy answers 5xx while the engine behind it restarts.
func transient(status int) bool {
	return status >= 500 || status == statusRequestTimeout || status == statusTooManyRequests
}

// permanent reports whether a connection failed in a way no wait mends:
// TLS that cannot agree, or an answer that is not HTTP.
func permanent(err error) bool {
	var ue *unreadableError
	var nh *notHTTPError
	var re tls.RecordHeaderError
	var ve *tls.CertificateVerificationError
	var ae tls.AlertError
	return errors.As(err, &ue) || errors.As(err, &nh) || errors.As(err, &re) || errors.As(err, &ve) ||
		errors.As(err, &ae) || strings.Contains(err.Error(), "remote error: tls")
}

// connectError says in words why the engine could not be asked: an
// unreadable answer as it is, a TLS failure with what to check.
func (e *Engine) connectError(err error) error {
	var ue *unreadableError
	if errors.As(err, &ue) {
		return err
	}
	return fmt.Errorf("cannot talk to the engine at %s: %s", e.Endpoint, dialProblem(err))
}

// dialProblem says why a connection failed, in a user's words.
func dialProblem(err error) string {
	var dns *net.DNSError
	var re tls.RecordHeaderError
	var ve *tls.CertificateVerificationError
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var nh *notHTTPError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "the name " + dns.Name + " does not resolve"
	case errors.As(err, &dns):
		return "the name " + dns.Name + " could not be looked up"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused: nothing listens there"
	case errors.Is(err, syscall.ENOENT):
		return "the socket does not exist"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "the address cannot be reached"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed before an answer came"
	case errors.As(err, &re):
		return "it does not speak TLS, though DOCKER_CERT_PATH is set; unset DOCKER_CERT_PATH and DOCKER_TLS_VERIFY for a plain tcp:// engine (port 2375), or use the engine's TLS port (2376)"
	case errors.As(err, &ue), errors.As(err, &ve) && errors.As(ve.Err, &ue):
		return "its TLS certificate is not signed by the ca.pem in DOCKER_CERT_PATH; put the engine's CA there, or unset DOCKER_TLS_VERIFY to skip the check"
	case errors.As(err, &he), errors.As(err, &ve) && errors.As(ve.Err, &he):
		return "its TLS certificate is not for " + he.Host + "; use the name or address the certificate names in DOCKER_HOST, or unset DOCKER_TLS_VERIFY to skip the check"
	case errors.As(err, &ve):
		return "its TLS certificate cannot be verified (" + truncate(ve.Err.Error(), 120) + ")"
	case strings.Contains(err.Error(), "remote error: tls"):
		return "it refused portenv's TLS certificate; DOCKER_CERT_PATH must hold a client certificate signed by the engine's CA"
	case errors.As(err, &nh):
		return nh.Error() + "; is DOCKER_HOST an engine's address?"
	}
	return truncate(oneLine(err), 200)
}

// versionRefusal returns the engine's words when err is its refusal of the
// API version in use ("client version 1.22 is too old. Minimum supported
// API version is 1.24"), or "".
func versionRefusal(err error) string {
	if err == nil {
		return ""
	}
	msg := oneLine(err)
	i := strings.Index(msg, "client version ")
	if i < 0 || !strings.Contains(msg[i:], " is too old") && !strings.Contains(msg[i:], " is too new") {
		return ""
	}
	msg, _, _ = strings.Cut(msg[i:], ", please")
	return strings.TrimSuffix(msg, ".")
}

func (e *Engine) apiError(req string, err error) error {
	if refusal := versionRefusal(err); refusal != "" {
		return fmt.Errorf("the engine at %s refused API version %s for %s (%s); portenv needs an engine with API %s (Docker 1.12) or newer", e.Endpoint, e.APIVersion, req, refusal, OldestAPI)
	}
	var ue *unreadableError
	if errors.As(err, &ue) {
		return err
	}
	if httpStatus(err) == 0 {
		return e.connectError(err)
	}
	msg := oneLine(err)
	if httpStatus(err) == statusForbidden {
		if req == "GET /events" || req == "GET /containers/json" {
			return fmt.Errorf("the engine at %s forbade %s (403: %s); a socket proxy in front of the engine must allow portenv agent HEAD and GET on /_ping, /info, /events, /containers/json and /containers/{id}/json", e.Endpoint, req, msg)
		}
		return fmt.Errorf("the engine at %s forbade %s (403: %s); a socket proxy in front of the engine must allow HEAD and GET on /_ping and /containers/{id}/json, and /info when a template uses .Host.Name", e.Endpoint, req, msg)
	}
	return fmt.Errorf("%s at %s failed: %s", req, e.Endpoint, msg)
}

// answerSummary says in a few words what an answer that is not an engine's
// held: its status, and the start of its text, or that it was a web page.
func answerSummary(err error) string {
	var se *statusError
	errors.As(err, &se)
	kind := se.line
	msg := oneLine(err)
	if strings.HasPrefix(msg, "<") {
		return kind + " and a web page"
	}
	return kind + " (" + truncate(msg, 80) + ")"
}

// truncate keeps the first n bytes of s, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
