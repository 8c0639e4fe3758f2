// Package discover finds the container portenv runs in and reads how its
// ports are published on the host, through the Docker Engine API.
package discover

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Container is what portenv knows of one container: enough to name it and
// to say how each of its ports is reached from outside. It deliberately
// carries no Config.Env: that may hold secrets and portenv never needs it.
type Container struct {
	ID       string
	Name     string // without the leading "/"
	Hostname string
	Image    string
	Labels   map[string]string

	// NetworkMode is HostConfig.NetworkMode: "host" means no published
	// ports exist; "container:<id>" means the ports are another's.
	NetworkMode string
	// NetworkOf names the container whose bindings Ports holds, when the
	// network mode is container:<other>.
	NetworkOf string

	// Ports holds every published binding, in a stable order: by protocol,
	// container port, then IPv4 before IPv6.
	Ports []Binding

	// Exposed lists the container ports ("9092/tcp") that the image or
	// --expose declares, published or not, so that an error can tell
	// "exposed but not published" from "unknown".
	Exposed []string

	// Swarm is set when the container is a Swarm task.
	Swarm *SwarmTask
}

// SwarmTask names the Swarm service and slot a task container belongs to,
// as its labels record them.
type SwarmTask struct {
	ServiceID   string
	ServiceName string
	Slot        int
	NodeID      string
}

// Binding is one published port: container Port/Proto reached at
// HostIP:HostPort.
type Binding struct {
	Port     int
	Proto    string // tcp, udp or sctp
	HostIP   string // as the engine reports it: "0.0.0.0", "::", "127.0.0.1", ...
	HostPort int
}

// Wildcard reports whether the binding listens on every host address, so
// that its address tells a client nothing.
func (b Binding) Wildcard() bool {
	if b.HostIP == "" {
		return true
	}
	ip := net.ParseIP(b.HostIP)
	return ip != nil && ip.IsUnspecified()
}

// IPv6 reports whether the binding is on an IPv6 host address.
func (b Binding) IPv6() bool { return strings.Contains(b.HostIP, ":") }

// Key is the container side of the binding, as Docker writes it: "9092/tcp".
func (b Binding) Key() string { return strconv.Itoa(b.Port) + "/" + b.Proto }

// ParsePort reads a container port as users and the engine write it:
// "9092", "9092/tcp", "53/udp", "9092/TCP".
func ParsePort(s string) (port int, proto string, ok bool) {
	num, proto, found := strings.Cut(s, "/")
	if !found || proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return 0, "", false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != num {
		return 0, "", false
	}
	return n, proto, true
}

// Published returns the bindings of one container port.
func (c *Container) Published(port int, proto string) []Binding {
	var out []Binding
	for _, b := range c.Ports {
		if b.Port == port && b.Proto == proto {
			out = append(out, b)
		}
	}
	return out
}

// PublishedKeys lists the published container ports ("9092/tcp"), sorted,
// each once.
func (c *Container) PublishedKeys() []string {
	var keys []string
	seen := map[string]bool{}
	for _, b := range c.Ports {
		if k := b.Key(); !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

func sortBindings(bs []Binding) {
	sort.SliceStable(bs, func(i, j int) bool {
		a, b := bs[i], bs[j]
		if a.Proto != b.Proto {
			return protoRank(a.Proto) < protoRank(b.Proto)
		}
		if a.Port != b.Port {
			return a.Port < b.Port
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

func protoRank(p string) int {
	switch p {
	case "tcp":
		return 0
	case "udp":
		return 1
	}
	return 2
}

// NotPublishedError says that a container port asked for has no host
// binding, and why, as far as the engine tells.
type NotPublishedError struct {
	Port        string   // "9092/tcp"
	Published   []string // the ports that are published
	Exposed     bool     // the port is exposed (EXPOSE, --expose) but not published
	HostNetwork bool     // the container uses the host's network: nothing is published
	Container   string
}

func (e *NotPublishedError) Error() string {
	port, proto, _ := strings.Cut(e.Port, "/")
	publish := port
	if proto != "tcp" {
		publish = e.Port
	}
	switch {
	case e.HostNetwork:
		return fmt.Sprintf("container %s uses the host's network (--network host), so no port is published; port %s is reached on the host at %s itself: use that number, or give the container its own network and publish the port with -p %s", e.Container, e.Port, port, publish)
	case e.Exposed:
		return fmt.Sprintf("port %s of container %s is exposed but not published; publish it with -p %s (or ports: [\"%s\"] in Compose)%s", e.Port, e.Container, publish, publish, e.list())
	}
	return fmt.Sprintf("port %s of container %s is not published; publish it with -p %s%s", e.Port, e.Container, publish, e.list())
}

func (e *NotPublishedError) list() string {
	if len(e.Published) == 0 {
		return "; no port of this container is published"
	}
	return "; published: " + strings.Join(e.Published, ", ")
}

// Lookup returns the one binding that stands for container port/proto: a
// publication on both IPv4 and IPv6 is one port, and the IPv4 binding is
// the one used. other is the first binding whose host port differs from
// the chosen one (IPv6 on another port, a second -p), or nil.
func (c *Container) Lookup(port int, proto string) (chosen Binding, other *Binding, err error) {
	bs := c.Published(port, proto)
	if len(bs) == 0 {
		key := strconv.Itoa(port) + "/" + proto
		return Binding{}, nil, &NotPublishedError{
			Port:        key,
			Published:   c.PublishedKeys(),
			Exposed:     slices.Contains(c.Exposed, key),
			HostNetwork: c.NetworkMode == "host",
			Container:   c.Name,
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
