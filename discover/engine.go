package discover

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/docker/docker/api/types/container"
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
			cli.NegotiateAPIVersionPing(ping)
			return true, nil
		}
		last = err
		if errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM) {
			return true, e.permissionError()
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, e.timeoutError("answer", last)
	}
	e.APIVersion = cli.ClientVersion()
	return e, nil
}

// Close releases the connection.
func (e *Engine) Close() error { return e.cli.Close() }

// Info asks the engine for the host's name and, in a Swarm, this node's
// address. portenv asks only when a template uses them.
func (e *Engine) Info(ctx context.Context) (name, nodeAddr string, err error) {
	info, err := e.cli.Info(ctx)
	if err != nil {
		return "", "", fmt.Errorf("cannot read the engine's host name (GET /info): %v", err)
	}
	return info.Name, info.Swarm.NodeAddr, nil
}

// NotFoundError says that the engine knows no container by that reference.
type NotFoundError struct{ Ref string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no container %q on this engine; check the id or name given to --container (docker ps lists them)", e.Ref)
}

// Inspect reads one container. A port listed in HostConfig.PortBindings but
// not bound yet is waited for until ctx is done, so that portenv started
// early still sees what the engine is about to publish.
func (e *Engine) Inspect(ctx context.Context, ref string) (*Container, error) {
	var c *Container
	var pending []string
	var fail error
	err := retry(ctx, func() (bool, error) {
		raw, err := e.cli.ContainerInspect(ctx, ref)
		if err != nil {
			if errdefs.IsNotFound(err) {
				return true, &NotFoundError{Ref: ref}
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

// fromInspect keeps what portenv uses of an inspect response, and lists the
// ports that are to be published but have no host binding yet.
func fromInspect(raw container.InspectResponse) (*Container, []string) {
	c := &Container{}
	if raw.ContainerJSONBase != nil {
		c.ID = raw.ID
		c.Name = strings.TrimPrefix(raw.Name, "/")
		if raw.HostConfig != nil {
			c.NetworkMode = string(raw.HostConfig.NetworkMode)
		}
	}
	if raw.Config != nil {
		c.Hostname = raw.Config.Hostname
		c.Image = raw.Config.Image
		c.Labels = raw.Config.Labels
		for p := range raw.Config.ExposedPorts {
			c.Exposed = append(c.Exposed, string(p))
		}
	}
	c.Swarm = swarmTask(c.Labels)
	if raw.NetworkSettings != nil {
		for p, bindings := range raw.NetworkSettings.Ports {
			port, proto, ok := ParsePort(string(p))
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
	if raw.ContainerJSONBase != nil && raw.HostConfig != nil && raw.State != nil && raw.State.Running {
		for p := range raw.HostConfig.PortBindings {
			port, proto, ok := ParsePort(string(p))
			if ok && len(c.Published(port, proto)) == 0 {
				pending = append(pending, string(p))
			}
		}
	}
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
		return fmt.Errorf("the Docker socket %s does not exist in this container; mount it with -v /var/run/docker.sock:%s:ro, or set DOCKER_HOST to the engine's address", p, p)
	}
	return nil
}

func (e *Engine) timeoutError(what string, last error) error {
	msg := fmt.Sprintf("the engine at %s did not %s within %s", e.Endpoint, what, e.wait)
	if last != nil && !errors.Is(last, context.DeadlineExceeded) && !errors.Is(last, context.Canceled) {
		msg += " (last error: " + oneLine(last) + ")"
	}
	return errors.New(msg + "; check that the engine runs and that this is its address, or raise --timeout")
}

func (e *Engine) apiError(req string, err error) error {
	msg := oneLine(err)
	if strings.Contains(msg, "too old") || strings.Contains(msg, "too new") || strings.Contains(msg, "client version") {
		if e.Pinned {
			return fmt.Errorf("the engine refused API version %s (%s) for %s; unset DOCKER_API_VERSION so that portenv negotiates the version", e.APIVersion, msg, req)
		}
		return fmt.Errorf("the engine refused API version %s for %s: %s", e.APIVersion, req, msg)
	}
	var status interface{ StatusCode() int }
	if errors.As(err, &status) && status.StatusCode() == http.StatusForbidden {
		return fmt.Errorf("the engine at %s forbade %s: %s; a socket proxy in front of the engine must allow GET /_ping and GET /containers/{id}/json", e.Endpoint, req, msg)
	}
	return fmt.Errorf("%s at %s failed: %s", req, e.Endpoint, msg)
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}
