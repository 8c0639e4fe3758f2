package discover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types"
	"github.com/docker/docker/client"
	"github.com/docker/docker/errdefs"
)

// Engine is a connection to the Docker Engine API (or one that speaks it,
// such as Podman's), with the API version agreed.
type Engine struct {
	cli *client.Client
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
// does not answer it retries with backoff until ctx is done; a missing
// socket or one this process may not use fails at once, since waiting
// cannot mend either.
func Connect(ctx context.Context) (*Engine, error) {
	cli, err := client.NewClientWithOpts(client.FromEnv)
	if err != nil {
		return nil, fmt.Errorf("cannot use the engine address: %v; DOCKER_HOST must look like unix:///var/run/docker.sock or tcp://host:2376", err)
	}
	e := &Engine{cli: cli, Endpoint: cli.DaemonHost(), Pinned: os.Getenv(client.EnvOverrideAPIVersion) != ""}
	if dl, ok := ctx.Deadline(); ok {
		e.wait = time.Until(dl).Round(100 * time.Millisecond)
	}
	if err := e.checkSocket(); err != nil {
		return nil, err
	}
	var last error
	err = retry(ctx, func() (bool, error) {
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
		if errdefs.IsForbidden(err) {
			// A socket proxy that refuses /_ping will not change its mind.
			return true, e.apiError("HEAD /_ping", err)
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
	info, err := e.cli.Info(ctx)
	if err != nil {
		return "", "", e.apiError("GET /info", err)
	}
	return info.Name, info.Swarm.NodeAddr, nil
}

// NotFoundError says that the engine knows no container by that reference.
type NotFoundError struct{ Ref, Endpoint string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no container %q on the engine at %s (GET /containers/%s/json answered 404); check the id or name given to --container (docker ps lists them) and that DOCKER_HOST is the engine that runs it",
		e.Ref, e.Endpoint, e.Ref)
}

// Inspect reads one container. A port listed in HostConfig.PortBindings but
// not bound yet is waited for until ctx is done, so that portenv started
// early still sees what the engine is about to publish.
func (e *Engine) Inspect(ctx context.Context, ref string) (*Container, error) {
	var c *Container
	var pending []string
	var fail error
	err := retry(ctx, func() (bool, error) {
		switch r, status := e.inspectFast(ctx, ref); status {
		case http.StatusOK:
			c, pending = fromInspect(r)
			return len(pending) == 0, nil
		case http.StatusNotFound:
			return true, &NotFoundError{Ref: ref, Endpoint: e.Endpoint}
		}
		raw, err := e.inspectByClient(ctx, ref)
		if refusal := versionRefusal(err); refusal != "" && e.Pinned {
			if uerr := e.unpin(refusal); uerr != nil {
				return true, e.apiError("GET /containers/"+ref+"/json", err)
			}
			raw, err = e.inspectByClient(ctx, ref)
		}
		if err != nil {
			if errdefs.IsNotFound(err) {
				return true, &NotFoundError{Ref: ref, Endpoint: e.Endpoint}
			}
			if client.IsErrConnectionFailed(err) || ctx.Err() != nil {
				fail = err
				return false, nil
			}
			return true, e.apiError("GET /containers/"+ref+"/json", err)
		}
		c, pending = fromInspect(raw)
		return len(pending) == 0, nil
	})
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, e.timeoutError("answer GET /containers/"+ref+"/json", fail)
	}
	if len(pending) > 0 {
		return nil, fmt.Errorf("the engine did not bind %s of container %s within the timeout, though they are to be published; check `docker port %s`, or raise --timeout",
			strings.Join(pending, ", "), c.Name, c.Name)
	}
	return c, nil
}

// inspectByClient asks through the client, for its mapping of failures to
// errors (not found, refused version, connection failed).
func (e *Engine) inspectByClient(ctx context.Context, ref string) (inspectResponse, error) {
	var r inspectResponse
	_, raw, err := e.cli.ContainerInspectWithRaw(ctx, ref, false)
	if err == nil {
		err = json.Unmarshal(raw, &r)
	}
	return r, err
}

// fromInspect keeps what portenv uses of an inspect response, and lists the
// ports that are to be published but have no host binding yet.
func fromInspect(raw inspectResponse) (*Container, []string) {
	c := &Container{ID: raw.ID, Name: strings.TrimPrefix(raw.Name, "/")}
	if raw.HostConfig != nil {
		c.NetworkMode = raw.HostConfig.NetworkMode
	}
	if raw.Config != nil {
		c.Hostname = raw.Config.Hostname
		c.Image = raw.Config.Image
		c.Labels = raw.Config.Labels
		for p := range raw.Config.ExposedPorts {
			c.Exposed = append(c.Exposed, p)
		}
	}
	c.Swarm = swarmTask(c.Labels)
	if raw.NetworkSettings != nil {
		for p, bindings := range raw.NetworkSettings.Ports {
			port, proto, ok := ParsePort(p)
			if !ok {
				continue
			}
			for _, b := range bindings {
				hp, ok := parseHostPort(b.HostPort)
				if !ok {
					continue
				}
				c.Ports = append(c.Ports, Binding{Port: port, Proto: proto, HostIP: b.HostIP, HostPort: hp})
			}
		}
	}
	sortBindings(c.Ports)
	var pending []string
	if raw.HostConfig != nil && raw.State != nil && raw.State.Running {
		for p := range raw.HostConfig.PortBindings {
			port, proto, ok := ParsePort(p)
			if ok && len(c.Published(port, proto)) == 0 {
				pending = append(pending, p)
			}
		}
	}
	sort.Strings(pending)
	return c, pending
}

func parseHostPort(s string) (int, bool) {
	port, _, ok := ParsePort(s)
	return port, ok
}

// retry calls try with backoff until it says done or ctx ends.
func retry(ctx context.Context, try func() (done bool, err error)) error {
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
		if wait < time.Second {
			wait *= 2
		}
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
	if _, err := os.Stat(p); errors.Is(err, os.ErrNotExist) {
		from := "DOCKER_HOST is not set, so portenv looked there"
		if os.Getenv(client.EnvOverrideHost) != "" {
			from = "DOCKER_HOST=" + os.Getenv(client.EnvOverrideHost)
		}
		return fmt.Errorf("no Docker socket at %s in this container (%s); mount it with -v /var/run/docker.sock:%s:ro, or set DOCKER_HOST to the engine's address", p, from, p)
	}
	return nil
}

func (e *Engine) timeoutError(what string, last error) error {
	msg := fmt.Sprintf("the engine at %s did not %s within %s (--timeout)", e.Endpoint, what, e.wait)
	if last != nil && !errors.Is(last, context.DeadlineExceeded) && !errors.Is(last, context.Canceled) {
		msg += " (last error: " + oneLine(last) + ")"
	}
	return errors.New(msg + "; check that the engine runs and that this is its address, or raise --timeout")
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
	msg := strings.TrimPrefix(oneLine(err), "Error response from daemon: ")
	if errdefs.IsForbidden(err) {
		return fmt.Errorf("the engine at %s forbade %s (403: %s); a socket proxy in front of the engine must allow HEAD and GET on /_ping and /containers/{id}/json, and /info when a template uses .Host.Name", e.Endpoint, req, msg)
	}
	return fmt.Errorf("%s at %s failed: %s", req, e.Endpoint, msg)
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
