package discover

import (
	"fmt"
	"strings"
	"testing"
)

// TestIPv4Twin pairs the halves of dual-stack publications as the engine
// reports them: on one host port, on two once its IPv4 and IPv6 port
// allocators have drifted apart, and next to bindings that are no half of
// one.
func TestIPv4Twin(t *testing.T) {
	b := func(ip string, port int) Binding { return Binding{Port: Port{80, "tcp"}, HostIP: ip, HostPort: port} }
	for _, tc := range []struct {
		name  string
		ports []Binding
		want  string // each IPv6 binding and its twin, or "-"
	}{
		{"one host port", []Binding{b("0.0.0.0", 32769), b("::", 32769)}, "[::]:32769=0.0.0.0:32769"},
		{"drifted", []Binding{b("0.0.0.0", 32770), b("::", 32769)}, "[::]:32769=0.0.0.0:32770"},
		{"equal ports pair first", []Binding{b("0.0.0.0", 6001), b("0.0.0.0", 6002), b("::", 6002)}, "[::]:6002=0.0.0.0:6002"},
		{"two drifted", []Binding{b("0.0.0.0", 8001), b("0.0.0.0", 9001), b("::", 8000), b("::", 9000)}, "[::]:8000=0.0.0.0:8001 [::]:9000=0.0.0.0:9001"},
		{"IPv6 only", []Binding{b("::", 7001)}, "[::]:7001=-"},
		{"more IPv6 than IPv4", []Binding{b("0.0.0.0", 5000), b("::", 5001), b("::", 5000)}, "[::]:5001=- [::]:5000=0.0.0.0:5000"},
		{"not on every address", []Binding{b("127.0.0.1", 4000), b("::1", 4000)}, "[::1]:4000=-"},
		{"IPv4 host address", []Binding{b("10.0.0.1", 3000), b("::", 3001)}, "[::]:3001=-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Container{Ports: tc.ports}
			var got []string
			for _, p := range tc.ports {
				if !p.IPv6() {
					if _, ok := c.IPv4Twin(p); ok {
						t.Errorf("IPv4 binding %s has a twin", p.Addr(""))
					}
					continue
				}
				twin := "-"
				if v4, ok := c.IPv4Twin(p); ok {
					twin = v4.Addr("")
				}
				got = append(got, fmt.Sprintf("%s=%s", p.Addr(""), twin))
			}
			if g := strings.Join(got, " "); g != tc.want {
				t.Errorf("got %s, want %s", g, tc.want)
			}
		})
	}
}
