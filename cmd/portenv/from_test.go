package main

import (
	"os"
	"strings"
	"testing"

	"github.com/portenv/portenv/discover"
)

// fromRecord writes the record of container "app" (9092/tcp on 32769 and
// [::]:32769, 53/udp on 127.0.0.1:32770) in a new directory.
func fromRecord(t *testing.T, host discover.RecordHost) string {
	t.Helper()
	dir := t.TempDir()
	rec := &discover.Record{Version: discover.RecordVersion, Host: host, Container: &discover.Container{
		ID: strings.Repeat("a", 64), Name: "app", Hostname: "app-host", Image: "img", Status: "running",
		StartedAt: "2026-11-27T10:00:00Z", NetworkMode: "bridge",
		Ports: []discover.Binding{
			{Port: discover.Port{Num: 9092, Proto: "tcp"}, HostIP: "0.0.0.0", HostPort: 32769},
			{Port: discover.Port{Num: 9092, Proto: "tcp"}, HostIP: "::", HostPort: 32769},
			{Port: discover.Port{Num: 53, Proto: "udp"}, HostIP: "127.0.0.1", HostPort: 32770},
		},
	}}
	data, err := rec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(discover.RecordFile(dir, rec.Container.ID), data, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// --from runs the pipeline of a run with the engine: variables, --port,
// --set templates with .Host.Name, formats. No engine is asked: the
// DOCKER_HOST here leads nowhere.
func TestFromRunsThePipeline(t *testing.T) {
	t.Parallel()
	dir := fromRecord(t, discover.RecordHost{Name: "docker-host"})
	var o, e strings.Builder
	code := run([]string{"--from", dir, "--container", "app", "--format", "dotenv", "--port", "KAFKA_ADVERTISED_PORT=9092",
		"--set", `LISTENERS=PLAINTEXT://{{.Host.Name}}:{{port "9092"}},{{.Container.Name}}`}, environ{"PATH=/bin", "DOCKER_HOST=unix:///nonexistent/docker.sock"}, &o, &e)
	want := "HOST_IP_53_UDP=127.0.0.1\nHOST_PORT_53_UDP=32770\nHOST_PORT_9092=32769\nKAFKA_ADVERTISED_PORT=32769\nLISTENERS=PLAINTEXT://docker-host:32769,app\n"
	if code != 0 || o.String() != want || e.String() != "" {
		t.Errorf("exit %d, stdout\n%s\nstderr %q; want 0 and\n%s", code, o.String(), e.String(), want)
	}
}

func TestFromEnvironmentVariable(t *testing.T) {
	t.Parallel()
	dir := fromRecord(t, discover.RecordHost{Error: "GET /info at unix:///var/run/docker.sock failed: boom"})
	var o, e strings.Builder
	code := run([]string{"--no-auto", "--set", "H={{.Host.Name}}"}, environ{"PATH=/bin", "PORTENV_FROM=" + dir, "PORTENV_CONTAINER=app"}, &o, &e)
	want := "portenv: --set H: the agent recorded no engine host name for container app (its GET /info failed: GET /info at unix:///var/run/docker.sock failed: boom)\n"
	if code != 1 || o.String() != "" || e.String() != want {
		t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant %q", code, o.String(), e.String(), want)
	}
}

func TestDoctorFrom(t *testing.T) {
	t.Parallel()
	dir := fromRecord(t, discover.RecordHost{Name: "docker-host"})
	var o, e strings.Builder
	code := run([]string{"doctor", "--from", dir, "--container", "app"}, environ{"PATH=/bin"}, &o, &e)
	want := "Records: " + dir + " (--from: written by portenv agent; the engine is not asked)\n" +
		"Finding this container (+ found, - did not):\n" +
		"  + --container   container aaaaaaaaaaaa (app), recorded in " + discover.RecordFile(dir, strings.Repeat("a", 64)) + "\n" +
		"Container: app (id aaaaaaaaaaaa, hostname app-host, image img, network bridge)\n" +
		"Recorded by portenv agent: started 2026-11-27T10:00:00Z, engine host docker-host\n" +
		"Published ports:\n" +
		"  9092/tcp   -> 0.0.0.0:32769\n" +
		"  9092/tcp   -> [::]:32769\n" +
		"  53/udp     -> 127.0.0.1:32770\n" +
		"Variables portenv would set:\n" +
		"  HOST_IP_53_UDP=127.0.0.1\n" +
		"  HOST_PORT_53_UDP=32770\n" +
		"  HOST_PORT_9092=32769\n" +
		"OK\n"
	if code != 0 || o.String() != want || e.String() != "" {
		t.Errorf("exit %d, stderr %q, stdout\n%s\nwant\n%s", code, e.String(), o.String(), want)
	}
}

// docker port and portenv port, which run the same pipeline, read the
// record too when PORTENV_FROM is set.
func TestPortCommandsFrom(t *testing.T) {
	t.Parallel()
	dir := fromRecord(t, discover.RecordHost{Name: "docker-host"})
	env := environ{"PATH=/bin", "PORTENV_FROM=" + dir, "DOCKER_HOST=unix:///nonexistent/docker.sock"}
	var o, e strings.Builder
	code := dockerShim([]string{"port", "app", "9092"}, env, &o, &e)
	if code != 0 || o.String() != "0.0.0.0:32769\n" || e.String() != "" {
		t.Errorf("docker port app 9092: exit %d, stdout %q, stderr %q", code, o.String(), e.String())
	}
	o.Reset()
	e.Reset()
	code = run([]string{"port"}, append(env, "PORTENV_CONTAINER=app"), &o, &e)
	want := "53/udp -> 127.0.0.1:32770\n9092/tcp -> 0.0.0.0:32769\n" // one line for a dual-stack publication
	if code != 0 || o.String() != want || e.String() != "" {
		t.Errorf("portenv port: exit %d, stdout\n%s\nstderr %q; want\n%s", code, o.String(), e.String(), want)
	}
}

// A run is configured by the environment it is given alone: the process's
// own PORTENV_ variables play no part, and are left as they were.
func TestRunReadsItsEnvironmentOnly(t *testing.T) {
	dir := fromRecord(t, discover.RecordHost{Name: "docker-host"})
	t.Setenv("PORTENV_FORMAT", "yaml")
	t.Setenv("PORTENV_CONTAINER", "nosuch")
	var o, e strings.Builder
	code := run([]string{"--no-auto", "--port", "P=9092"}, environ{"PATH=/bin", "PORTENV_FROM=" + dir, "PORTENV_CONTAINER=app", "PORTENV_FORMAT=json"}, &o, &e)
	if want := `{"P":"32769"}` + "\n"; code != 0 || o.String() != want || e.String() != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, o.String(), e.String(), want)
	}
	if f, c := os.Getenv("PORTENV_FORMAT"), os.Getenv("PORTENV_CONTAINER"); f != "yaml" || c != "nosuch" {
		t.Errorf("the process's PORTENV_FORMAT=%q, PORTENV_CONTAINER=%q after the run; want them as they were", f, c)
	}
}

// The same with the process environment clean, beside other runs.
func TestRunFormatFromItsEnvironment(t *testing.T) {
	t.Parallel()
	// Clean of what configures portenv; the tests' own PORTENV_E2E may be
	// there.
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PORTENV_") && !strings.HasPrefix(kv, "PORTENV_E2E") {
			t.Fatalf("the process environment holds %s; this test needs it clean", kv)
		}
	}
	dir := fromRecord(t, discover.RecordHost{Name: "docker-host"})
	var o, e strings.Builder
	code := run([]string{"--container", "app"}, environ{"PATH=/bin", "PORTENV_FROM=" + dir, "PORTENV_FORMAT=json", "PORTENV_NO_AUTO=true", "PORTENV_PORTS=P=9092"}, &o, &e)
	if want := `{"P":"32769"}` + "\n"; code != 0 || o.String() != want || e.String() != "" {
		t.Errorf("exit %d, stdout %q, stderr %q; want 0 and %q", code, o.String(), e.String(), want)
	}
}
