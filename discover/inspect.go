package discover

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// inspectResponse is the part of GET /containers/{id}/json that portenv
// reads. Decoding into it rather than the client's full InspectResponse
// spares a freshly started process most of encoding/json's per-type setup,
// a measurable share of portenv's run at every container start.
type inspectResponse struct {
	ID    string `json:"Id"`
	Name  string
	State *struct {
		Status    string
		Running   bool
		Paused    bool
		Pid       int
		StartedAt string
	}
	Config *struct {
		Hostname     string
		Image        string
		Labels       map[string]string
		ExposedPorts map[string]struct{}
	}
	HostConfig *struct {
		NetworkMode  string
		PidMode      string
		PortBindings map[string][]portBinding
	}
	NetworkSettings *struct {
		Ports    map[string][]portBinding
		Networks map[string]*struct {
			NetworkID         string
			IPAddress         string
			GlobalIPv6Address string
			Gateway           string
			Aliases           []string
		}
	}
}

type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// container keeps what portenv uses of an inspect response, and lists the
// ports that are to be published but have no host binding yet.
func (raw *inspectResponse) container() (c *Container, pending []Port) {
	c = &Container{ID: raw.ID, Name: strings.TrimPrefix(raw.Name, "/")}
	if s := raw.State; s != nil {
		c.Status, c.StartedAt, c.Pid = s.Status, s.StartedAt, s.Pid
		if c.Status == "" && s.Running {
			c.Status = "running" // engines before API 1.21 give no Status
		}
		if s.Paused {
			c.Status = "paused"
		}
	}
	var requested map[string][]portBinding
	if hc := raw.HostConfig; hc != nil {
		c.NetworkMode, c.PidMode = hc.NetworkMode, hc.PidMode
		c.HostNetwork = hc.NetworkMode == "host"
		requested = hc.PortBindings
	}
	if cfg := raw.Config; cfg != nil {
		c.Hostname, c.Image, c.Labels = cfg.Hostname, cfg.Image, cfg.Labels
		for k := range cfg.ExposedPorts {
			if p, err := ParsePort(k); err == nil {
				c.Exposed = append(c.Exposed, p)
			}
		}
		sortPorts(c.Exposed)
	}
	c.Swarm = swarmTask(c.Labels)
	var bound map[string][]portBinding
	if ns := raw.NetworkSettings; ns != nil {
		bound = ns.Ports
		for name, n := range ns.Networks {
			if n == nil {
				continue
			}
			if c.Networks == nil {
				c.Networks = map[string]Network{}
			}
			c.Networks[name] = Network{IP: n.IPAddress, IPv6: n.GlobalIPv6Address, Gateway: n.Gateway, Aliases: n.Aliases}
		}
	}
	if c.HostNetwork {
		c.ownNumbers(requested)
		return c, nil
	}
	return c, c.bind(bound, requested)
}

// ownNumbers gives a container on the host's network its ports: the engine
// publishes nothing there, and every port the image exposes or -p asks
// for is reached at its own number.
func (c *Container) ownNumbers(requested map[string][]portBinding) {
	for k := range requested {
		if p, err := ParsePort(k); err == nil && !slices.Contains(c.Exposed, p) {
			c.Exposed = append(c.Exposed, p)
		}
	}
	sortPorts(c.Exposed)
	for _, p := range c.Exposed {
		c.Ports = append(c.Ports, Binding{Port: p, HostPort: p.Num})
	}
}

// bind gives c the ports the engine has bound, and returns those -p asked
// for that a running container will soon have.
func (c *Container) bind(bound, requested map[string][]portBinding) (pending []Port) {
	for k, bindings := range bound {
		p, err := ParsePort(k)
		if err != nil {
			continue
		}
		for _, b := range bindings {
			if hp, err := ParsePort(b.HostPort); err == nil {
				c.Ports = append(c.Ports, Binding{Port: p, HostIP: b.HostIP, HostPort: hp.Num})
			}
		}
	}
	sortBindings(c.Ports)
	if c.Status != "running" {
		return nil
	}
	for k := range requested {
		p, err := ParsePort(k)
		if err != nil || len(c.Published(p)) > 0 {
			continue
		}
		// A port the network maps has its key in NetworkSettings.Ports from
		// the start; one the network cannot map (none, internal) never gets
		// it, and waiting would not help.
		if _, listed := bound[k]; listed {
			pending = append(pending, p)
		} else {
			c.Unpublishable = append(c.Unpublishable, p)
		}
	}
	sortPorts(pending)
	sortPorts(c.Unpublishable)
	return pending
}

// networkIDs lists the ids of the networks raw names, or nil when one
// has none.
func (raw *inspectResponse) networkIDs() []string {
	var ids []string
	if ns := raw.NetworkSettings; ns != nil {
		for _, n := range ns.Networks {
			if n == nil || n.NetworkID == "" {
				return nil
			}
			ids = append(ids, n.NetworkID)
		}
	}
	return ids
}

// networkNames lists the names of c's networks, sorted.
func (c *Container) networkNames() []string {
	out := make([]string, 0, len(c.Networks))
	for n := range c.Networks {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// decodeJSON decodes one JSON value, at most maxAnswer bytes of it.
func decodeJSON(r io.Reader, into any) error {
	lr := &io.LimitedReader{R: r, N: maxAnswer + 1}
	err := json.NewDecoder(lr).Decode(into)
	switch {
	case err == nil:
		return nil
	case lr.N <= 0:
		return fmt.Errorf("it is larger than %d MiB", maxAnswer>>20)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("it is empty or cut short")
	}
	if p := jsonProblem(err); p != "" {
		return errors.New(p)
	}
	return errors.New("it is not valid JSON")
}

// jsonProblem says in words what a JSON decoding error found, or "" when
// err is no such error.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	var bp badPortError
	switch {
	case errors.As(err, &bp):
		return bp.Error()
	case errors.As(err, &te):
		return fmt.Sprintf("its field %s holds a JSON %s where portenv expects a %s", te.Field, te.Value, jsonKind(te.Type.Kind()))
	case errors.As(err, &se):
		return fmt.Sprintf("it is not valid JSON (at byte %d)", se.Offset)
	}
	return ""
}

// maxAnswer bounds what portenv reads of one answer: a container's
// description is a few KiB; a larger answer is not an engine's.
const maxAnswer = 8 << 20

func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "object"
	case reflect.Slice:
		return "list"
	}
	return "number"
}
