package discover

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/portenv/portenv/internal/enginetest"
)

var update = flag.Bool("update", false, "rewrite testdata/record.json")

// The record format is a file format users read: testdata/record.json
// pins it, field by field, for one container with every part filled.
func TestRecordFormat(t *testing.T) {
	raw := enginetest.Inspect(strings.Repeat("ab", 32), "kafka-1", "kafka-1", map[string][]map[string]string{
		"9092/tcp": {{"HostIp": "0.0.0.0", "HostPort": "32769"}, {"HostIp": "::", "HostPort": "32769"}},
		"53/udp":   {{"HostIp": "127.0.0.1", "HostPort": "32770"}},
	})
	raw["State"].(map[string]any)["Pid"] = 4242
	raw["Config"].(map[string]any)["Labels"] = map[string]string{
		"com.docker.compose.project": "kafka", "com.docker.compose.service": "kafka", "com.docker.compose.container-number": "1",
		"com.docker.swarm.service.id": "svc1", "com.docker.swarm.service.name": "kafka_kafka", "com.docker.swarm.task.name": "kafka_kafka.1.task1", "com.docker.swarm.node.id": "node1",
	}
	raw["Config"].(map[string]any)["ExposedPorts"] = map[string]any{"9092/tcp": struct{}{}, "53/udp": struct{}{}, "7000/tcp": struct{}{}}
	raw["NetworkSettings"].(map[string]any)["Networks"] = map[string]any{
		"kafka_default": map[string]any{"IPAddress": "172.20.0.3", "GlobalIPv6Address": "fd00::3", "Gateway": "172.20.0.1", "Aliases": []string{"kafka", "abababababab"}},
	}
	data, err := json.Marshal(raw)
	if err != nil {
		t.Fatal(err)
	}
	var resp inspectResponse
	if err := decodeJSON(bytes.NewReader(data), &resp); err != nil {
		t.Fatal(err)
	}
	c, _ := resp.container()
	rec := &Record{Version: RecordVersion, Host: RecordHost{Name: "docker-host", SwarmNodeAddr: "10.0.0.2"}, Container: c}
	got, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "record.json")
	if *update {
		os.WriteFile(golden, got, 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("record\n%s\nwant (%s)\n%s", got, golden, want)
	}
	if bytes.Contains(got, []byte("hunter2")) || bytes.Contains(got, []byte("SECRET")) {
		t.Errorf("the record holds the container's environment:\n%s", got)
	}
	back, err := DecodeRecord(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, rec) {
		t.Errorf("read back\n%+v\nwant\n%+v", back.Container, rec.Container)
	}
}
