package discover

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types"
	"github.com/docker/docker/client"
)

// Engine is a connection to the Docker Engine API (or one that speaks it,
// such as Podman's), with the API version agreed.
type Engine struct {
	cli *client.Client
	// direct is the client's own connection pool without its tracing
	// wrapper: the two requests of every start go through it, on one
	// connection.
	direct *http.Client
	// Endpoint is where the engine was reached, as DOCKER_HOST writes it.
	Endpoint string
	// APIVersion is the version of the API in use after negotiation.
	APIVersion string
	// Pinned is true when DOCKER_API_VERSION fixed the version, so that
	// none was negotiated.
	Pinned bool
	// EngineAPI is the newest API version the engine offers, as its
	// /_ping answered.
	EngineAPI string
	// Warnf, when set, receives what a user should know but that does not
	// stop portenv, such as a DOCKER_API_VERSION the engine refused.
	Warnf func(format string, args ...any)

	ping types.Ping    // kept to negotiate again without another request
	wait time.Duration // the time given to Connect, for messages
}

// Connect reaches the engine named by DOCKER_HOST (default: the local
// socket) and agrees on an API version with one /_ping. While the engine
// does not answer it retries with backoff until ctx is done; what waiting
// cannot mend (no socket, a refused one, a malformed DOCKER_ variable)
// fails at once.
func Connect(ctx context.Context) (*Engine, error) {
	if err := checkEnv(); err != nil {
		return nil, err
	}
	// The client wraps its transport for tracing once its options are
	// applied; the last option keeps the transport as it is before that.
	var direct *http.Client
	keep := func(c *client.Client) error {
		if tr, ok := c.HTTPClient().Transport.(*http.Transport); ok {
			direct = &http.Client{Transport: tr}
		}
		return nil
	}
	cli, err := client.NewClientWithOpts(client.FromEnv, keep)
	if err != nil {
		if certs := os.Getenv(client.EnvOverrideCertPath); certs != "" {
			return nil, fmt.Errorf("DOCKER_CERT_PATH=%q: the TLS files there cannot be used (%s); they must be the engine's ca.pem and the client's cert.pem and key.pem, in PEM", certs, unwrapAll(err))
		}
		return nil, fmt.Errorf("cannot use the engine address: %v; DOCKER_HOST must look like unix:///var/run/docker.sock or tcp://host:2376", err)
	}
	e := &Engine{cli: cli, direct: direct, Endpoint: cli.DaemonHost(), Pinned: os.Getenv(client.EnvOverrideAPIVersion) != ""}
	if dl, ok := ctx.Deadline(); ok {
		e.wait = time.Until(dl).Round(100 * time.Millisecond)
	}
	if err := e.checkSocket(); err != nil {
		return nil, err
	}
	var last error
	err = retry(ctx, engineWait, func() (bool, error) {
		if ping, ok := e.pingDirect(ctx); ok {
			e.ping = ping
			cli.NegotiateAPIVersionPing(ping)
			return true, nil
		}
		ping, err := cli.Ping(ctx)
		if err == nil {
			e.ping = ping
			cli.NegotiateAPIVersionPing(ping)
			return true, nil
		}
		last = err
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return true, e.permissionError()
		}
		switch {
		case cerrdefs.IsPermissionDenied(err):
			// A socket proxy that refuses /_ping will not change its mind.
			return true, e.apiError("HEAD /_ping", err)
		case cerrdefs.IsNotFound(err), cerrdefs.IsInvalidArgument(err), cerrdefs.IsNotImplemented(err), cerrdefs.IsUnauthorized(err):
			// Something answers, and it is not an engine: an engine
			// always answers /_ping. Server errors are waited out, as a
			// proxy gives them while the engine behind it restarts.
			return true, fmt.Errorf("%s answered GET /_ping with %s, which no Docker engine does; check that DOCKER_HOST is the engine's address (or a socket proxy's that allows /_ping)", e.Endpoint, answerSummary(err))
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, e.timeoutError("answer HEAD /_ping", last)
	}
	e.APIVersion = cli.ClientVersion()
	e.EngineAPI = e.ping.APIVersion
	return e, nil
}

// pingDirect sends HEAD /_ping on the direct connection. Anything but a
// plain 200 with an API version is left to the client's Ping, whose error
// mapping explains failures.
func (e *Engine) pingDirect(ctx context.Context) (types.Ping, bool) {
	resp, err := e.do(ctx, http.MethodHead, "/_ping")
	if err != nil {
		return types.Ping{}, false
	}
	resp.Body.Close()
	v := resp.Header.Get("API-Version")
	if resp.StatusCode != http.StatusOK || v == "" {
		return types.Ping{}, false
	}
	return types.Ping{APIVersion: v, OSType: resp.Header.Get("OSType")}, true
}

// do sends a request on the direct connection, addressed as the client
// addresses its own so that both share one connection.
func (e *Engine) do(ctx context.Context, method, path string) (*http.Response, error) {
	u, err := client.ParseHostURL(e.Endpoint)
	if err != nil {
		return nil, err
	}
	scheme, host := "http", u.Host
	switch u.Scheme {
	case "unix":
	case "tcp":
		// The client speaks TLS exactly when DOCKER_CERT_PATH gave it a
		// certificate directory (client.FromEnv).
		if os.Getenv(client.EnvOverrideCertPath) != "" {
			scheme = "https"
		}
	default:
		return nil, errors.ErrUnsupported
	}
	if e.direct == nil {
		return nil, errors.ErrUnsupported
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+client.DummyHost+u.Path+path, nil)
	if err != nil {
		return nil, err
	}
	req.URL.Scheme, req.URL.Host = scheme, host
	if u.Scheme == "unix" {
		req.Host = client.DummyHost
	}
	return e.direct.Do(req)
}

// checkEnv refuses at once what the client would accept and then fail on
// at every retry: a DOCKER_HOST scheme it cannot reach (ssh:// needs the
// docker CLI's ssh helper), a DOCKER_API_VERSION that is no version.
func checkEnv() error {
	if h := os.Getenv(client.EnvOverrideHost); h != "" {
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
	certs := os.Getenv(client.EnvOverrideCertPath)
	if os.Getenv(client.EnvTLSVerify) != "" && certs == "" {
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
	if v := os.Getenv(client.EnvOverrideAPIVersion); v != "" && !apiVersion(strings.TrimPrefix(v, "v")) {
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

// unpin drops a DOCKER_API_VERSION the engine refused and uses the version
// negotiated from the /_ping already answered. Legacy compose files carry
// such pins (DOCKER_API_VERSION=1.22 for the Docker CLI of old images);
// portenv speaks any version, so a pin is no reason to fail.
func (e *Engine) unpin(refusal string) error {
	cli, err := client.NewClientWithOpts(client.WithTLSClientConfigFromEnv(), client.WithHostFromEnv())
	if err != nil {
		return err
	}
	cli.NegotiateAPIVersionPing(e.ping)
	pinned := e.APIVersion
	e.cli.Close()
	e.cli, e.APIVersion, e.Pinned = cli, cli.ClientVersion(), false
	if e.Warnf != nil {
		e.Warnf("the engine refused API version %s set by DOCKER_API_VERSION (%s); using the negotiated version %s instead; remove DOCKER_API_VERSION from the container's environment",
			pinned, refusal, e.APIVersion)
	}
	return nil
}

// Close releases the connection.
func (e *Engine) Close() error { return e.cli.Close() }

// Info asks the engine for the host's name and, in a Swarm, this node's
// address. portenv asks only when a template uses them.
func (e *Engine) Info(ctx context.Context) (name, nodeAddr string, err error) {
	h, err := e.HostInfo(ctx)
	return h.Name, h.SwarmNodeAddr, err
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
// not bound yet is waited for until ctx is done, so that portenv started
// early still sees what the engine is about to publish.
func (e *Engine) Inspect(ctx context.Context, ref string) (*Container, error) {
	var c *Container
	var pending []Port
	var fail error
	req := "GET /containers/" + ref + "/json"
	err := retry(ctx, engineWait, func() (bool, error) {
		raw, status, err := e.inspectDirect(ctx, ref)
		switch {
		case status == http.StatusNotFound:
			return true, e.notFound(ref)
		case status == http.StatusOK && err != nil:
			return true, e.unreadable(req, err)
		case status != http.StatusOK && status != 0:
			return true, e.apiError(req, err)
		case status == 0:
			raw, err = e.inspectByClient(ctx, ref)
			if refusal := versionRefusal(err); refusal != "" && e.Pinned {
				if uerr := e.unpin(refusal); uerr != nil {
					return true, e.apiError(req, err)
				}
				raw, err = e.inspectByClient(ctx, ref)
			}
			var ue *unreadableError
			if errors.As(err, &ue) {
				return true, err
			}
			if err != nil {
				if cerrdefs.IsNotFound(err) {
					return true, e.notFound(ref)
				}
				if client.IsErrConnectionFailed(err) || ctx.Err() != nil {
					fail = err
					return false, nil
				}
				return true, e.apiError(req, err)
			}
		}
		c, pending = raw.container()
		return len(pending) == 0, nil
	})
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, e.timeoutError("answer "+req, fail)
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("the engine did not bind %s of container %s within the timeout, though they are to be published; check `docker port %s`, or raise --timeout",
			joinPorts(pending), c.Name, c.Name)
	}
	return c, nil
}

// inspectDirect sends GET /containers/{ref}/json on the direct connection
// and decodes what portenv reads. It returns the answer's status, 0 when
// none came; for anything but a 200 or a 404 the caller asks through the
// client, whose error mapping stays the one that explains failures. A
// version pinned by DOCKER_API_VERSION goes through the client too, as it
// may be refused.
func (e *Engine) inspectDirect(ctx context.Context, ref string) (r inspectResponse, status int, err error) {
	if e.Pinned || ref == "" || strings.ContainsAny(ref, "/?#%") {
		return r, 0, nil
	}
	status, err = e.getDirect(ctx, "/v"+e.APIVersion+"/containers/"+ref+"/json", &r)
	if status == http.StatusOK && err == nil && r.ID == "" {
		err = errors.New("it has no Id")
	}
	return r, status, err
}

// getDirect sends GET path on the direct connection and decodes a 200
// answer into into. It returns the status, 0 when no answer came (the
// caller then asks through the client, for its account of the failure);
// the error of any other status is a *statusError with the engine's words.
func (e *Engine) getDirect(ctx context.Context, path string, into any) (status int, err error) {
	resp, err := e.do(ctx, http.MethodGet, path)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return http.StatusOK, decodeJSON(resp.Body, into)
	}
	return resp.StatusCode, answerError(resp)
}

// statusError is an engine's answer other than 200: its status and its
// words.
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return e.msg }

func answerError(resp *http.Response) error {
	var body struct{ Message string }
	if decodeJSON(resp.Body, &body) != nil || body.Message == "" {
		body.Message = http.StatusText(resp.StatusCode)
	}
	return &statusError{status: resp.StatusCode, msg: body.Message}
}

// httpStatus is the status of an answer the engine gave, direct or
// through the client, or 0.
func httpStatus(err error) int {
	var se *statusError
	switch {
	case errors.As(err, &se):
		return se.status
	case cerrdefs.IsPermissionDenied(err):
		return http.StatusForbidden
	case cerrdefs.IsNotFound(err):
		return http.StatusNotFound
	case cerrdefs.IsUnavailable(err):
		return http.StatusServiceUnavailable
	}
	return 0
}

// unreadable says that the answer to req could not be read, and why.
func (e *Engine) unreadable(req string, why error) error {
	return &unreadableError{fmt.Sprintf("the engine at %s answered %s with something portenv cannot read: %v; is DOCKER_HOST an engine, or a proxy that rewrites its answers?", e.Endpoint, req, why)}
}

type unreadableError struct{ msg string }

func (e *unreadableError) Error() string { return e.msg }

// inspectByClient asks through the client, for its mapping of failures to
// errors (not found, refused version, connection failed).
func (e *Engine) inspectByClient(ctx context.Context, ref string) (inspectResponse, error) {
	var r inspectResponse
	_, raw, err := e.cli.ContainerInspectWithRaw(ctx, ref, false)
	if err == nil {
		err = decodeJSON(bytes.NewReader(raw), &r)
		if err == nil && r.ID == "" {
			err = errors.New("it has no Id")
		}
		if err != nil {
			err = e.unreadable("GET /containers/"+ref+"/json", err)
		}
	}
	return r, err
}

// engineWait is the longest wait between two tries of the engine.
const engineWait = time.Second

// retry calls try with backoff, 25 ms doubling up to maxWait, until it
// says done or ctx ends.
func retry(ctx context.Context, maxWait time.Duration, try func() (done bool, err error)) error {
	wait := 25 * time.Millisecond
	for {
		done, err := try()
		if done || err != nil {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, maxWait)
	}
}

// socketPath is the file of a unix:// endpoint, or "".
func (e *Engine) socketPath() string {
	u, err := url.Parse(e.Endpoint)
	if err != nil || u.Scheme != "unix" {
		return ""
	}
	return u.Path
}

func (e *Engine) checkSocket() error {
	p := e.socketPath()
	if p == "" {
		return nil
	}
	from := "DOCKER_HOST is not set, so portenv looked there"
	if h := os.Getenv(client.EnvOverrideHost); h != "" {
		from = "DOCKER_HOST=" + h
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

// dialProblem says why a connection failed. The client words a refused
// or unreachable address itself ("Cannot connect to the Docker daemon at
// ..."), but passes a failed name lookup on in the resolver's words.
func dialProblem(err error) string {
	var dns *net.DNSError
	switch {
	case errors.As(err, &dns) && dns.IsNotFound:
		return "the name " + dns.Name + " does not resolve"
	case errors.As(err, &dns):
		return "the name " + dns.Name + " could not be looked up"
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
		return fmt.Errorf("the engine at %s refused API version %s for %s (%s); portenv needs an engine with API 1.24 (Docker 1.12) or newer", e.Endpoint, e.APIVersion, req, refusal)
	}
	if p := jsonProblem(err); p != "" {
		return e.unreadable(req, errors.New(p))
	}
	msg := strings.TrimPrefix(oneLine(err), "Error response from daemon: ")
	if httpStatus(err) == http.StatusForbidden {
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
	msg := strings.TrimPrefix(oneLine(err), "Error response from daemon: ")
	kind := "an error"
	switch {
	case cerrdefs.IsNotFound(err):
		kind = "404 Not Found"
	case cerrdefs.IsInvalidArgument(err):
		kind = "400 Bad Request"
	case cerrdefs.IsUnauthorized(err):
		kind = "401 Unauthorized"
	case cerrdefs.IsNotImplemented(err):
		kind = "501 Not Implemented"
	}
	if strings.HasPrefix(msg, "<") || strings.Contains(msg, "invalid character '<'") {
		return kind + " and a web page"
	}
	return kind + " (" + truncate(msg, 80) + ")"
}

// unwrapAll is the innermost error's text.
func unwrapAll(err error) string {
	for errors.Unwrap(err) != nil {
		err = errors.Unwrap(err)
	}
	return oneLine(err)
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
