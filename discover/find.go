package discover

import (
	"fmt"
	"strings"
)

// source is what one search for this container asks of the place it
// reads containers from: the engine (Self), or the records of portenv
// agent (FromDir). The finder decides what is this container; a source
// only answers, and records in its attempts what it tried. A source need
// not know container ids: one that names its workloads otherwise answers
// lookup by its own names and identify by its own proof.
type source interface {
	// lookup returns the container that ref names (as --container and a
	// network mode container:<ref> name one), or a *NotFoundError.
	lookup(ref string) (*Container, error)
	// identify finds the container this process runs in, never guessing.
	identify() (*Container, error)
	// servicePorts gives c the ports a service publishes for it when its
	// own inspection cannot tell them, or says why they cannot be known.
	servicePorts(c *Container) error
	// origin names where c was read, for the attempts; "" for the engine.
	origin(c *Container) string
	attempted() *attempts
}

// find is the one search for this container over a source: the container
// ref names, or this process's own; then the container whose network it
// shares; then its service's ports. It says at once when the bindings
// cannot be used.
func find(s source, ref string) (*Container, error) {
	a := s.attempted()
	var c *Container
	var err error
	if ref != "" {
		if c, err = s.lookup(ref); err != nil {
			return nil, a.fail("--container", err)
		}
		in := ""
		if o := s.origin(c); o != "" {
			in = ", recorded in " + o
		}
		a.note("--container", true, "container %s (%s)%s", c.ShortID(), c.Name, in)
	} else if c, err = s.identify(); err != nil {
		return nil, err
	}
	owner, err := followNetwork(s, c)
	if err != nil {
		return nil, err
	}
	if err = s.servicePorts(c); err != nil {
		return nil, err
	}
	noneOwner := ""
	if owner != nil && owner.NetworkMode == "none" {
		noneOwner = owner.Name
	}
	if err = c.usable(noneOwner); err != nil {
		return nil, err
	}
	return c, nil
}

// followNetwork gives a container that shares another's network (network
// mode container:<other>) that container's ports: they are the ones
// published. It returns the other container, or nil.
func followNetwork(s source, c *Container) (*Container, error) {
	other, ok := strings.CutPrefix(c.NetworkMode, "container:")
	if !ok {
		return nil, nil
	}
	a := s.attempted()
	o, err := s.lookup(other)
	if err != nil {
		what := "which cannot be read"
		if s.origin(c) != "" {
			what = "whose record cannot be read"
		}
		return nil, a.fail("network", fmt.Errorf("container %s uses the network of container %s, %s: %w", c.Name, other, what, err))
	}
	from := ""
	if f := s.origin(o); f != "" {
		from = " (from " + f + ")"
	}
	a.note("network", true, "shares the network of container %s; its published ports are used%s", o.Name, from)
	c.shareNetworkOf(o)
	return o, nil
}

// Attempt records one way of finding the container and what came of it,
// for -v logs and `portenv doctor`.
type Attempt struct {
	Method string // "--container", "mountinfo", "cgroup", "containerenv", "hostname", "network", "swarm"
	Result string // what it found, or why it found nothing
	OK     bool
}

// attempts records the ways a search tried.
type attempts struct{ tried []Attempt }

func (a *attempts) attempted() *attempts { return a }

func (a *attempts) note(method string, ok bool, format string, args ...any) {
	a.tried = append(a.tried, Attempt{Method: method, Result: fmt.Sprintf(format, args...), OK: ok})
}

// fail records err as the outcome of method and returns it.
func (a *attempts) fail(method string, err error) error {
	a.tried = append(a.tried, Attempt{Method: method, Result: err.Error()})
	return err
}

// notIdentifiedError says that no method found this container.
type notIdentifiedError struct {
	Tried []Attempt
	// Dir is the agent's directory when the search was FromDir's.
	Dir string
}

func (e *notIdentifiedError) Error() string {
	parts := make([]string, len(e.Tried))
	for i, a := range e.Tried {
		parts[i] = a.Method + ": " + a.Result
	}
	msg := "cannot tell which container this is (" + strings.Join(parts, "; ") + ")"
	if e.Dir != "" {
		return msg + "; with --from, only /proc/self/mountinfo, /proc/self/cgroup and /run/.containerenv can name it (the hostname needs the engine to confirm it); is portenv running in a container? Otherwise pass --container ID or NAME, as the records in " + e.Dir + " name them"
	}
	return msg + "; is portenv running in a container of this engine? Otherwise pass --container NAME"
}
