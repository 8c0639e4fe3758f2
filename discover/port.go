package discover

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Port is a container port as Docker names it: number and protocol,
// written "9092/tcp".
type Port struct {
	Num   int
	Proto string // tcp, udp or sctp
}

func (p Port) String() string { return strconv.Itoa(p.Num) + "/" + p.Proto }

// MarshalText writes the port as Docker does, "9092/tcp".
func (p Port) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText reads a port written as "9092/tcp".
func (p *Port) UnmarshalText(b []byte) error {
	q, err := ParsePort(string(b))
	if err != nil {
		return badPortError(b)
	}
	*p = q
	return nil
}

// badPortError is a JSON port value that is no container port.
type badPortError string

func (e badPortError) Error() string {
	return fmt.Sprintf("it holds %q where a container port such as \"9092/tcp\" belongs", string(e))
}

// publishArg is how -p names the port: "9092" for tcp, "53/udp" otherwise.
func (p Port) publishArg() string {
	if p.Proto == "tcp" {
		return strconv.Itoa(p.Num)
	}
	return p.String()
}

// ParsePort reads a container port as users and the engine write it:
// "9092", "9092/tcp", "53/udp", "9092/TCP".
func ParsePort(s string) (Port, error) {
	num, proto, found := strings.Cut(s, "/")
	if !found || proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	n, err := strconv.Atoi(num)
	switch {
	case proto != "tcp" && proto != "udp" && proto != "sctp",
		err != nil, n < 1, n > 65535, strconv.Itoa(n) != num:
		return Port{}, fmt.Errorf("%q is not a container port; write it as 9092 or 53/udp", s)
	}
	return Port{Num: n, Proto: proto}, nil
}

// Binding is one published port: container Port reached at
// HostIP:HostPort.
type Binding struct {
	Port     Port   `json:"port"`
	HostIP   string `json:"hostIP"` // as the engine reports it: "0.0.0.0", "::", "127.0.0.1", "" (every address)
	HostPort int    `json:"hostPort"`
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

// ReportedIP is the address to tell clients: the binding's own, or
// override (--host-ip) when the binding is on every address and override
// is set.
func (b Binding) ReportedIP(override string) string {
	switch {
	case b.Wildcard() && override != "":
		return override
	case b.HostIP == "":
		return "0.0.0.0"
	}
	return b.HostIP
}

// TwoHostPorts says that port b.Port, used at b, is also published at
// other, on another host port: "port 9092/tcp is published on host port
// 32770 (0.0.0.0) and on 32769 (::); using 32770" with how "using".
func TwoHostPorts(b, other Binding, how string) string {
	return fmt.Sprintf("port %s is published on host port %d (%s) and on %d (%s); %s %d", b.Port, b.HostPort, b.HostIP, other.HostPort, other.HostIP, how, b.HostPort)
}

// Addr is ReportedIP and the host port joined for a URL: IPv6 in brackets.
func (b Binding) Addr(override string) string {
	return net.JoinHostPort(b.ReportedIP(override), strconv.Itoa(b.HostPort))
}
