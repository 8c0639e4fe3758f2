package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/portenv/portenv/internal/atomicfile"
)

// SelfOptions steers Self.
type SelfOptions struct {
	// Container, when set, skips self-identification.
	Container string
	// Root is prefixed to /proc/self/... and /run/.containerenv; "" in
	// production, a fixture directory in tests.
	Root string
	// Hostname replaces os.Hostname, for tests.
	Hostname func() (string, error)
	// LocalIPs replaces the addresses of this process's interfaces, for
	// tests.
	LocalIPs func() ([]string, error)
}

// Self finds the container this process runs in, trying in order the
// --container value, /proc/self/mountinfo, /proc/self/cgroup,
// /run/.containerenv and the hostname, and confirms every candidate by
// inspecting it. It then reads the ports of the network the container
// uses, and says at once when they cannot be used. The attempts are
// returned whether or not one succeeded.
func (e *Engine) Self(ctx context.Context, opt SelfOptions) (*Container, []Attempt, error) {
	f := &finder{e: e, ctx: ctx, opt: opt}
	c, err := find(f, opt.Container)
	return c, f.tried, err
}

// finder is one search for this container through the engine.
type finder struct {
	e   *Engine
	ctx context.Context
	opt SelfOptions
	attempts
}

func (f *finder) lookup(ref string) (*Container, error) { return f.e.Inspect(f.ctx, ref) }

func (f *finder) origin(*Container) string { return "" }

var idSources = []struct {
	method, file string
	parse        func(io.Reader) (string, error)
}{
	{"mountinfo", "/proc/self/mountinfo", idFromMountinfo},
	{"cgroup", "/proc/self/cgroup", idFromCgroup},
	{"containerenv", "/run/.containerenv", idFromContainerenv},
}

// identify tries mountinfo, cgroup and containerenv for an id, then the
// hostname, and confirms every candidate by inspecting it.
func (f *finder) identify() (*Container, error) {
	for _, s := range idSources {
		id, err := f.readID(s.file, s.parse)
		var amb *ambiguousError
		switch {
		case errors.As(err, &amb):
			if c := f.sharerAmong(amb.IDs); c != nil {
				f.note(s.method, true, "container %s (%s) from %s, which also names the container whose network it shares", c.ShortID(), c.Name, s.file)
				return c, nil
			}
			return nil, f.fail(s.method, err)
		case err != nil:
			f.note(s.method, false, "cannot read %s: %s", s.file, oneLine(atomicfile.Unwrap(err)))
			continue
		case id == "":
			f.note(s.method, false, "no container id in %s", s.file)
			continue
		}
		c, err := f.e.Inspect(f.ctx, id)
		var nf *NotFoundError
		if errors.As(err, &nf) {
			// An id of another engine's container, as in Docker in Docker.
			f.note(s.method, false, "id %s from %s is not a container of this engine", ShortID(id), s.file)
			continue
		}
		if err != nil {
			return nil, f.fail(s.method, err)
		}
		f.note(s.method, true, "container %s (%s) from %s", c.ShortID(), c.Name, s.file)
		if s.method == "mountinfo" {
			c = f.networkSharer(c)
		}
		return c, nil
	}
	return f.byHostname()
}

// byHostname takes the container named like this host, or whose id starts
// with its name, only when something only this container has confirms
// it: any container may be started with another's name as --hostname.
func (f *finder) byHostname() (*Container, error) {
	hostname := os.Hostname
	if f.opt.Hostname != nil {
		hostname = f.opt.Hostname
	}
	host, err := hostname()
	if err != nil || host == "" {
		f.note("hostname", false, "no hostname")
		return nil, &notIdentifiedError{Tried: f.tried}
	}
	c, err := f.e.Inspect(f.ctx, host)
	var nf *NotFoundError
	switch {
	case errors.As(err, &nf):
		f.note("hostname", false, "no container is named or has an id starting with %q", host)
		return nil, &notIdentifiedError{Tried: f.tried}
	case err != nil:
		return nil, f.fail("hostname", err)
	case c.Hostname != host:
		f.note("hostname", false, "container %s matches %q but its hostname is %q, so it is not this one", c.Name, host, c.Hostname)
		return nil, &notIdentifiedError{Tried: f.tried}
	}
	ip, local, err := f.sharedAddress(c)
	if err != nil || ip == "" {
		why := "none of its addresses (" + strings.Join(c.addresses(), ", ") + ") is an address of this process (" + shortList(local, 4) + ")"
		if err != nil {
			why = "this process's addresses cannot be read: " + oneLine(err)
		} else if len(c.addresses()) == 0 {
			why = "it has no network address of its own to compare with this process's"
		}
		f.note("hostname", false, "container %s (%s) has hostname %q, but nothing confirms that it is this container: %s", c.ShortID(), c.Name, host, why)
		return nil, fmt.Errorf("cannot tell which container this is: container %s (%s) has this hostname, %q, but another container may have been given it with --hostname, and nothing confirms that it is this one (%s); pass --container %s if it is", c.ShortID(), c.Name, host, why, c.Name)
	}
	f.note("hostname", true, "container %s (%s) has hostname %q and this process's address %s", c.ShortID(), c.Name, host, ip)
	return c, nil
}

// sharedAddress returns an address of c's networks that is also one of
// this process's interfaces, or "".
func (f *finder) sharedAddress(c *Container) (ip string, local []string, err error) {
	localIPs := f.opt.LocalIPs
	if localIPs == nil {
		localIPs = interfaceIPs
	}
	local, err = localIPs()
	if err != nil {
		return "", nil, err
	}
	for _, a := range c.addresses() {
		if slices.Contains(local, a) {
			return a, local, nil
		}
	}
	return "", local, nil
}

func interfaceIPs() ([]string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() {
			out = append(out, n.IP.String())
		}
	}
	return out, nil
}

// addresses lists c's IPv4 and IPv6 addresses on its networks, sorted by
// network name.
func (c *Container) addresses() []string {
	var out []string
	for _, name := range c.networkNames() {
		n := c.Networks[name]
		for _, a := range []string{n.IP, n.IPv6} {
			if a != "" {
				out = append(out, a)
			}
		}
	}
	return out
}

// sharerAmong settles two ids in one source when the engine confirms that
// one container shares the other's network: a Podman pod member and its
// infra container, whose /etc/hosts and /etc/resolv.conf the member gets.
// The sharer is this container. Anything else stays ambiguous.
func (f *finder) sharerAmong(ids []string) *Container {
	var sharer *Container
	for _, id := range ids {
		c, err := f.e.Inspect(f.ctx, id)
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
func (f *finder) networkSharer(owner *Container) *Container {
	id, err := f.readID("/proc/self/cgroup", idFromCgroup)
	if err != nil || id == "" || id == owner.ID {
		return owner
	}
	c, err := f.e.Inspect(f.ctx, id)
	if err != nil || c.NetworkMode != "container:"+owner.ID {
		return owner
	}
	f.note("cgroup", true, "container %s (%s) from /proc/self/cgroup, which shares the network of %s, whose files the mounts name", c.ShortID(), c.Name, owner.Name)
	return c
}

func (f *finder) readID(file string, parse func(io.Reader) (string, error)) (string, error) {
	return readID(f.opt.Root, file, parse)
}

// readID reads a container id from file (under root) with parse: the
// engine-free part of finding this container, shared by Self and FromDir.
func readID(root, file string, parse func(io.Reader) (string, error)) (string, error) {
	r, err := os.Open(filepath.Join(root, file))
	if err != nil {
		return "", err
	}
	defer r.Close()
	return parse(r)
}

// shortList joins the first n items, and counts the rest.
func shortList(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(" and %d more", len(items)-n)
}
