// Package discover finds the container portenv runs in and reads how its
// ports are published on the host, through the Docker Engine API.
package discover

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strings"
)

// Container is what portenv knows of one container: enough to name it and
// to say how each of its ports is reached from outside. It deliberately
// carries no Config.Env: that may hold secrets and portenv never needs it.
//
// Its JSON form is the container part of the records that `portenv agent`
// writes (see Record); the names are part of that file format.
type Container struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"` // without the leading "/"
	Hostname string            `json:"hostname"`
	Image    string            `json:"image"`
	Labels   map[string]string `json:"labels,omitempty"`

	// Status is State.Status: "running", "created", "exited", "paused", ...
	Status string `json:"status"`
	// StartedAt is State.StartedAt, which changes at every start.
	StartedAt string `json:"startedAt"`
	// Pid is State.Pid, the host's id of the container's first process
	// (0 when it is not running).
	Pid int `json:"pid"`
	// PidMode is HostConfig.PidMode: "" (or "private") for a process
	// namespace of its own, "host", or "container:<id>".
	PidMode string `json:"pidMode,omitempty"`

	// NetworkMode is HostConfig.NetworkMode: "host", "none", "bridge",
	// a network's name, or "container:<id>" when the network is another's.
	NetworkMode string `json:"networkMode"`
	// NetworkOf names the container whose network this one shares, when
	// the network mode is container:<other>; Ports are then that one's.
	// Records leave it out: the reader follows the network mode itself.
	NetworkOf string `json:"-"`
	// HostNetwork is true when the container uses the host's network, its
	// own or through the container whose network it shares: its ports are
	// reached on the host at their own numbers.
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// Networks are the networks the container is on, by name.
	Networks map[string]Network `json:"networks,omitempty"`

	// Ports holds every published binding, in a stable order: by protocol,
	// container port, then IPv4 before IPv6. On the host's network, every
	// exposed or requested port, at its own number.
	Ports []Binding `json:"ports"`

	// Exposed lists the container ports that the image or --expose
	// declares, published or not, so that an error can tell "exposed but
	// not published" from "unknown".
	Exposed []Port `json:"exposed,omitempty"`

	// Unpublishable lists the ports asked for with -p that the container's
	// network can never publish (--network none, an internal network).
	Unpublishable []Port `json:"unpublishable,omitempty"`

	// Swarm is set when the container is a Swarm task.
	Swarm *SwarmTask `json:"swarm,omitempty"`

	// Pod is set when the container is a Kubernetes pod, read from the
	// cluster's API (FromCluster); records never hold one.
	Pod *PodInfo `json:"-"`
}

// shareNetworkOf makes c's network facts those of o, the container whose
// network c shares (--network container:<o>).
func (c *Container) shareNetworkOf(o *Container) {
	c.Ports, c.Exposed, c.NetworkOf, c.HostNetwork, c.Networks = o.Ports, o.Exposed, o.Name, o.HostNetwork, o.Networks
}

// Network is one network a container is on.
type Network struct {
	IP      string   `json:"ip"` // IPv4 address
	IPv6    string   `json:"ipv6,omitempty"`
	Gateway string   `json:"gateway"`
	Aliases []string `json:"aliases,omitempty"`
}

// SwarmTask names the Swarm service and slot a task container belongs to,
// as its labels record them.
type SwarmTask struct {
	ServiceID   string `json:"serviceID"`
	ServiceName string `json:"serviceName"`
	Slot        int    `json:"slot,omitempty"`
	NodeID      string `json:"nodeID"`
}

// ShortID is the id as docker ps shows it.
func (c *Container) ShortID() string { return ShortID(c.ID) }

// ShortID cuts an id to docker's 12 characters; an engine or a file may
// give a shorter one, which is kept whole.
func ShortID(id string) string {
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Published returns the bindings of one container port.
func (c *Container) Published(p Port) []Binding {
	var out []Binding
	for _, b := range c.Ports {
		if b.Port == p {
			out = append(out, b)
		}
	}
	return out
}

// IPv4Twin returns the IPv4 half of the dual-stack publication that
// IPv6 binding b is the other half of, if it is one. Docker reports one -p
// without an address as 0.0.0.0:A and [::]:B: one publication, whose
// halves are on one host port unless the engine's IPv4 and IPv6 port
// allocators have drifted apart (Docker 20.10 after any IPv4-only
// publication, such as -p 0.0.0.0::80). Halves on equal host ports pair
// first, the rest in order.
//
// A pod's IPv6 binding on its node's IPv6 address is the twin of the IPv4
// one on the same host port: both are the node's, in a dual-stack cluster.
func (c *Container) IPv4Twin(b Binding) (Binding, bool) {
	if c.Pod != nil && b.IPv6() {
		for _, o := range c.Published(b.Port) {
			if !o.IPv6() && o.HostPort == b.HostPort && net.ParseIP(o.HostIP) != nil {
				return o, true
			}
		}
		return Binding{}, false
	}
	if !b.Wildcard() || !b.IPv6() {
		return Binding{}, false
	}
	var v4, v6 []Binding
	for _, o := range c.Published(b.Port) {
		switch {
		case !o.Wildcard():
		case o.IPv6():
			v6 = append(v6, o)
		default:
			v4 = append(v4, o)
		}
	}
	// Pair equal host ports; what remains on each side pairs in order.
	for i := 0; i < len(v6); i++ {
		if j := slices.IndexFunc(v4, func(o Binding) bool { return o.HostPort == v6[i].HostPort }); j >= 0 {
			if v6[i] == b {
				return v4[j], true
			}
			v4 = slices.Delete(v4, j, j+1)
			v6 = slices.Delete(v6, i, i+1)
			i--
		}
	}
	if i := slices.Index(v6, b); i >= 0 && i < len(v4) {
		return v4[i], true
	}
	return Binding{}, false
}

// PublishedPorts lists the published container ports, sorted as Ports,
// each once.
func (c *Container) PublishedPorts() []Port {
	var out []Port
	for _, b := range c.Ports {
		if !slices.Contains(out, b.Port) {
			out = append(out, b.Port)
		}
	}
	return out
}

// Lookup returns the one binding that stands for container port p: a
// publication on both IPv4 and IPv6 is one port, and the IPv4 binding is
// the one used. other is the first binding whose host port differs from
// the chosen one (IPv6 on another port, a second -p), or nil. On the
// host's network every port is reached at its own number.
func (c *Container) Lookup(p Port) (chosen Binding, other *Binding, err error) {
	bs := c.Published(p)
	if len(bs) == 0 {
		if c.HostNetwork {
			return Binding{Port: p, HostPort: p.Num}, nil, nil
		}
		return Binding{}, nil, &notPublishedError{
			Port:      p,
			Published: c.PublishedPorts(),
			Exposed:   slices.Contains(c.Exposed, p),
			Container: c.Name,
			NetworkOf: c.NetworkOf,
			Networks:  c.userNetworks(),
			Pod:       c.Pod != nil,
		}
	}
	// Sorted IPv4 first, so bs[0] is the IPv4 binding when there is one.
	chosen = bs[0]
	for _, b := range bs[1:] {
		if b.HostPort != chosen.HostPort {
			return chosen, &b, nil
		}
	}
	return chosen, nil, nil
}

// NotPublishedError says that a container port asked for has no host
// binding, and why, as far as the engine tells.
type notPublishedError struct {
	Port      Port
	Published []Port // the ports that are published
	Exposed   bool   // the port is exposed (EXPOSE, --expose) but not published
	Container string
	NetworkOf string // the container whose network, and ports, Container shares
	// Networks are the container's networks of its own making, which may
	// be internal: the inspection does not tell.
	Networks []string
	// Pod is set when Container is a Kubernetes pod.
	Pod bool
}

func (e *notPublishedError) Error() string {
	if e.Pod {
		return e.podError()
	}
	list := "; no port of this container is published"
	if len(e.Published) > 0 {
		list = "; published: " + joinPorts(e.Published)
	} else if len(e.Networks) > 0 {
		list += " (if network " + strings.Join(e.Networks, ", ") + " is internal, internal: true in Compose, nothing is ever published on it: connect the container to a network that is not internal as well)"
	}
	p := e.Port.publishArg()
	if e.NetworkOf != "" {
		// -p on the sharer itself is refused by the engine.
		return fmt.Sprintf("port %s is not published by container %s, whose network container %s shares; publish it on %s with -p %s%s", e.Port, e.NetworkOf, e.Container, e.NetworkOf, p, list)
	}
	if e.Exposed {
		return fmt.Sprintf("port %s of container %s is exposed but not published; publish it with -p %s (or ports: [\"%s\"] in Compose)%s", e.Port, e.Container, p, p, list)
	}
	return fmt.Sprintf("port %s of container %s is not published; publish it with -p %s%s", e.Port, e.Container, p, list)
}

// podError says what publishes a pod's port.
func (e *notPublishedError) podError() string {
	list := "; no port of this pod is published"
	if len(e.Published) > 0 {
		list = "; published: " + joinPorts(e.Published)
	}
	declared := "is not published"
	if e.Exposed {
		declared = "is declared but not published"
	}
	return fmt.Sprintf("port %s of pod %s %s: give it a hostPort, or select the pod with a NodePort or LoadBalancer Service whose targetPort is %d (or the port's name)%s", e.Port, e.Container, declared, e.Port.Num, list)
}

// usable says why c's bindings cannot be used, at once rather than after
// a wait: it is not running, or its network publishes nothing. noneOwner
// names the container whose network c shares when that one runs with
// --network none.
func (c *Container) usable(noneOwner string) error {
	switch c.Status {
	case "", "running":
	case "paused":
		return fmt.Errorf("container %s is paused: its ports stay published, but its processes are frozen and answer nothing there; unpause it (docker unpause %s), then run portenv again", c.Name, c.Name)
	case "restarting":
		return fmt.Errorf("container %s is restarting: its process ended, and its restart policy starts it again with host ports the engine picks anew; run portenv again once it runs (docker ps shows it Up)", c.Name)
	default:
		return fmt.Errorf("container %s is %s, not running, so it has no published ports; start it (docker start %s), then run portenv again", c.Name, c.Status, c.Name)
	}
	if c.NetworkMode == "none" && len(c.Unpublishable) == 0 {
		return fmt.Errorf("container %s runs with --network none, where nothing is published and no port can be reached; give it a network and publish its ports with -p", c.Name)
	}
	if noneOwner != "" {
		return fmt.Errorf("container %s shares the network of container %s, which runs with --network none, where nothing is published and no port can be reached; give %s a network and publish the ports on it with -p", c.Name, noneOwner, noneOwner)
	}
	if len(c.Unpublishable) == 0 {
		return nil
	}
	if c.NetworkMode == "none" {
		return fmt.Errorf("container %s runs with --network none, where no port can be published, yet asks for %s with -p; give it a network (remove --network none, or network_mode: none in Compose)", c.Name, joinPorts(c.Unpublishable))
	}
	nets := c.networkNames()
	where := "network mode " + c.NetworkMode
	if len(nets) > 0 {
		where = "network " + strings.Join(nets, ", ")
	}
	return fmt.Errorf("container %s asks for %s with -p, but its %s publishes no ports (an internal network, internal: true in Compose, or a driver without port mapping); connect it to a bridge network that is not internal", c.Name, joinPorts(c.Unpublishable), where)
}

// userNetworks lists c's networks other than the engines' default ones,
// which are never internal.
func (c *Container) userNetworks() []string {
	var out []string
	for _, n := range c.networkNames() {
		switch n {
		case "bridge", "default", "podman", "host", "none":
		default:
			out = append(out, n)
		}
	}
	return out
}

func joinPorts(ps []Port) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, ", ")
}

func sortBindings(bs []Binding) {
	sort.SliceStable(bs, func(i, j int) bool {
		a, b := bs[i], bs[j]
		if a.Port.Proto != b.Port.Proto {
			return protoRank(a.Port.Proto) < protoRank(b.Port.Proto)
		}
		if a.Port.Num != b.Port.Num {
			return a.Port.Num < b.Port.Num
		}
		if a.IPv6() != b.IPv6() {
			return !a.IPv6()
		}
		if a.HostIP != b.HostIP {
			return a.HostIP < b.HostIP
		}
		return a.HostPort < b.HostPort
	})
}

func sortPorts(ps []Port) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Proto != ps[j].Proto {
			return protoRank(ps[i].Proto) < protoRank(ps[j].Proto)
		}
		return ps[i].Num < ps[j].Num
	})
}

func protoRank(p string) int {
	switch p {
	case "tcp":
		return 0
	case "udp":
		return 1
	}
	return 2
}
