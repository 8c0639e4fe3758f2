package templates

import (
	"io"
	"strings"
	"testing"

	"github.com/portenv/portenv/discover"
)

// benchContainer is a Kafka broker as portenv sees it in the common case:
// one port published on IPv4 and IPv6, one on a single address.
func benchContainer() *discover.Container {
	return &discover.Container{
		ID: strings.Repeat("ab", 32), Name: "kafka-1", Hostname: "kafka-1", Image: "broker:1",
		Labels: map[string]string{"com.docker.compose.service": "kafka"},
		Ports: []discover.Binding{
			{Port: 9092, Proto: "tcp", HostIP: "0.0.0.0", HostPort: 32769},
			{Port: 9092, Proto: "tcp", HostIP: "::", HostPort: 32769},
			{Port: 53, Proto: "udp", HostIP: "127.0.0.1", HostPort: 32770},
		},
	}
}

// benchVars are the variables of that container with one --port rule.
var benchVars = map[string]string{
	"HOST_PORT_9092":        "32769",
	"HOST_PORT_53_UDP":      "32770",
	"HOST_IP_53_UDP":        "127.0.0.1",
	"KAFKA_ADVERTISED_PORT": "32769",
}

func BenchmarkFormat(b *testing.B) {
	r := NewRenderer(benchContainer(), "", nil, nil)
	for _, format := range Formats {
		b.Run(format, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := r.Format(io.Discard, format, benchVars); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkValue(b *testing.B) {
	r := NewRenderer(benchContainer(), "", func(string) string { return "" }, nil)
	for _, tc := range []struct{ name, text string }{
		{"literal", "PLAINTEXT://broker:9092"},
		{"port", `{{port "9092"}}`},
		{"listeners", `PLAINTEXT://{{hostIP "9092"}}:{{port "9092"}},INTERNAL://{{.Container.Hostname}}:19092`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.Value("KAFKA_ADVERTISED_LISTENERS", tc.text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
