package templates

import (
	"io"
	"testing"
)

// benchVars are the variables of that container with one --port rule.
var benchVars = map[string]string{
	"HOST_PORT_9092":        "32769",
	"HOST_PORT_53_UDP":      "32770",
	"HOST_IP_53_UDP":        "127.0.0.1",
	"KAFKA_ADVERTISED_PORT": "32769",
}

func BenchmarkFormat(b *testing.B) {
	r := NewRenderer(testContainer(), Options{})
	for _, format := range Formats() {
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
	r := NewRenderer(testContainer(), Options{})
	for _, tc := range []struct{ name, text string }{
		{"literal", "PLAINTEXT://broker:9092"},
		{"port", `{{port "9092"}}`},
		{"listeners", `PLAINTEXT://{{hostIP "9092"}}:{{port "9092"}},INTERNAL://{{.Container.Hostname}}:19092`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := value(r, "--set KAFKA_ADVERTISED_LISTENERS", "KAFKA_ADVERTISED_LISTENERS", tc.text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
