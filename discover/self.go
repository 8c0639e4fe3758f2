package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Attempt records one way of finding the container and what came of it,
// for -v logs and `portenv doctor`.
type Attempt struct {
	Method string // "--container", "mountinfo", "cgroup", "containerenv", "hostname"
	Result string // what it found, or why it found nothing
	OK     bool
}

// SelfOptions steers Self.
type SelfOptions struct {
	// Container, when set, skips self-identification.
	Container string
	// Root is prefixed to /proc/self/... and /run/.containerenv; "" in
	// production, a fixture directory in tests.
	Root string
	// Hostname replaces os.Hostname, for tests.
	Hostname func() (string, error)
}

// Self finds the container this process runs in, trying in order the
// --container value, /proc/self/mountinfo, /proc/self/cgroup,
// /run/.containerenv and the hostname, and confirms every candidate by
// inspecting it. The attempts are returned whether or not one succeeded.
func (e *Engine) Self(ctx context.Context, opt SelfOptions) (*Container, []Attempt, error) {
	var tried []Attempt
	if opt.Container != "" {
		c, err := e.Inspect(ctx, opt.Container)
		if err != nil {
			tried = append(tried, Attempt{Method: "--container", Result: err.Error()})
			return nil, tried, err
		}
		tried = append(tried, Attempt{Method: "--container", Result: "container " + c.ID[:12] + " (" + c.Name + ")", OK: true})
		return e.followNetwork(ctx, c, tried)
	}

	sources := []struct {
		method, file string
		parse        func(io.Reader) (string, error)
	}{
		{"mountinfo", "/proc/self/mountinfo", IDFromMountinfo},
		{"cgroup", "/proc/self/cgroup", IDFromCgroup},
		{"containerenv", "/run/.containerenv", IDFromContainerenv},
	}
	for _, s := range sources {
		id, err := readID(filepath.Join(opt.Root, s.file), s.parse)
		var amb *AmbiguousError
		switch {
		case errors.As(err, &amb):
			if c := e.sharerAmong(ctx, amb.IDs); c != nil {
				tried = append(tried, Attempt{Method: s.method, Result: "container " + c.ID[:12] + " (" + c.Name + ") from " + s.file + ", which also names the container whose network it shares", OK: true})
				return e.followNetwork(ctx, c, tried)
			}
			tried = append(tried, Attempt{Method: s.method, Result: err.Error()})
			return nil, tried, err
		case err != nil:
			tried = append(tried, Attempt{Method: s.method, Result: "cannot read " + s.file + ": " + oneLine(err)})
			continue
		case id == "":
			tried = append(tried, Attempt{Method: s.method, Result: "no container id in " + s.file})
			continue
		}
		c, err := e.Inspect(ctx, id)
		var nf *NotFoundError
		if errors.As(err, &nf) {
			// An id of another engine's container, as in Docker in Docker.
			tried = append(tried, Attempt{Method: s.method, Result: "id " + id[:12] + " from " + s.file + " is not a container of this engine"})
			continue
		}
		if err != nil {
			tried = append(tried, Attempt{Method: s.method, Result: err.Error()})
			return nil, tried, err
		}
		tried = append(tried, Attempt{Method: s.method, Result: "container " + c.ID[:12] + " (" + c.Name + ") from " + s.file, OK: true})
		if s.method == "mountinfo" {
			c, tried = e.networkSharer(ctx, opt, c, tried)
		}
		return e.followNetwork(ctx, c, tried)
	}

	hostname := os.Hostname
	if opt.Hostname != nil {
		hostname = opt.Hostname
	}
	host, err := hostname()
	if err == nil && host != "" {
		c, err := e.Inspect(ctx, host)
		var nf *NotFoundError
		switch {
		case errors.As(err, &nf):
			tried = append(tried, Attempt{Method: "hostname", Result: fmt.Sprintf("no container is named or has an id starting with %q", host)})
		case err != nil:
			tried = append(tried, Attempt{Method: "hostname", Result: err.Error()})
			return nil, tried, err
		case c.Hostname != host:
			tried = append(tried, Attempt{Method: "hostname", Result: fmt.Sprintf("container %s matches %q but its hostname is %q, so it is not this one", c.Name, host, c.Hostname)})
		default:
			tried = append(tried, Attempt{Method: "hostname", Result: "container " + c.ID[:12] + " (" + c.Name + ") has hostname " + strconv.Quote(host), OK: true})
			return e.followNetwork(ctx, c, tried)
		}
	} else {
		tried = append(tried, Attempt{Method: "hostname", Result: "no hostname"})
	}
	return nil, tried, &NotIdentifiedError{Tried: tried}
}

// NotIdentifiedError says that no method found this container.
type NotIdentifiedError struct{ Tried []Attempt }

func (e *NotIdentifiedError) Error() string {
	parts := make([]string, len(e.Tried))
	for i, a := range e.Tried {
		parts[i] = a.Method + ": " + a.Result
	}
	return "cannot tell which container this is (" + strings.Join(parts, "; ") + "); is portenv running in a container of this engine? Otherwise pass --container NAME"
}

// followNetwork reads the bindings of the container whose network
// namespace this one shares (network mode container:<other>): its ports
// are the ones published. Every way of finding the container ends here, so
// this is also where a Swarm task published in ingress mode gets the ports
// of its service.
func (e *Engine) followNetwork(ctx context.Context, c *Container, tried []Attempt) (*Container, []Attempt, error) {
	tried, err := e.ingressPorts(ctx, c, tried)
	if err != nil {
		return nil, tried, err
	}
	other, ok := strings.CutPrefix(c.NetworkMode, "container:")
	if !ok {
		return c, tried, nil
	}
	o, err := e.Inspect(ctx, other)
	if err != nil {
		return nil, tried, fmt.Errorf("container %s uses the network of container %s, which cannot be read: %w", c.Name, other, err)
	}
	tried = append(tried, Attempt{Method: "network", Result: "shares the network of container " + o.Name + "; its published ports are used", OK: true})
	c.Ports, c.Exposed, c.NetworkOf = o.Ports, o.Exposed, o.Name
	return c, tried, nil
}

// sharerAmong settles two ids in one source when the engine confirms that
// one container shares the other's network: a Podman pod member and its
// infra container, whose /etc/hosts and /etc/resolv.conf the member gets.
// The sharer is this container. Anything else stays ambiguous.
func (e *Engine) sharerAmong(ctx context.Context, ids []string) *Container {
	var sharer *Container
	for _, id := range ids {
		c, err := e.Inspect(ctx, id)
		if err != nil {
			return nil
		}
		owner, ok := strings.CutPrefix(c.NetworkMode, "container:")
		if !ok || owner == c.ID || !slices.Contains(ids, owner) {
			continue
		}
		if sharer != nil {
			return nil
		}
		sharer = c
	}
	return sharer
}

// networkSharer looks past the mounts of a container that shares another's
// network (--network container:<owner>): the engine gives it the owner's
// /etc/hostname, /etc/hosts and /etc/resolv.conf, so mountinfo names the
// owner. Where the cgroup names a different container whose network mode
// is the owner's, that container is this one. The cgroup read is cheap, and
// the extra inspection happens only when the two ids differ.
func (e *Engine) networkSharer(ctx context.Context, opt SelfOptions, owner *Container, tried []Attempt) (*Container, []Attempt) {
	id, err := readID(filepath.Join(opt.Root, "/proc/self/cgroup"), IDFromCgroup)
	if err != nil || id == "" || id == owner.ID {
		return owner, tried
	}
	c, err := e.Inspect(ctx, id)
	if err != nil || c.NetworkMode != "container:"+owner.ID {
		return owner, tried
	}
	tried = append(tried, Attempt{Method: "cgroup", Result: "container " + c.ID[:12] + " (" + c.Name + ") from /proc/self/cgroup, which shares the network of " + owner.Name + ", whose files the mounts name", OK: true})
	return c, tried
}

func readID(path string, parse func(io.Reader) (string, error)) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return parse(f)
}
