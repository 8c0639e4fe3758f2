package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portenv/portenv/internal/enginetest"
)

// envOf parses `env` output into a map.
func envOf(out string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			m[k] = v
		}
	}
	return m
}

// assertVars checks that got holds exactly the expected portenv variables:
// every HOST_ variable in got is expected, and every expected one is there
// with its value.
func assertVars(t *testing.T, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for k, v := range got {
		if strings.HasPrefix(k, "HOST_") {
			if _, ok := want[k]; !ok {
				t.Errorf("unexpected %s=%q", k, v)
			}
		}
	}
}

func TestEngineExecAsPID1(t *testing.T) {
	for _, tc := range []struct{ name, hostname string }{
		{"default-hostname", ""},
		{"custom-hostname", "kafka-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			enginetest.Require(t)
			name := enginetest.Name(t, "exec")
			args := []string{"-v", enginetest.SocketMount, "-p", "9092", "-p", "127.0.0.1::53/udp"}
			if tc.hostname != "" {
				args = append(args, "--hostname", tc.hostname)
			}
			enginetest.Start(t, name, args,
				"portenv", "-v", "--port", "KAFKA_ADVERTISED_PORT=9092", "--", "sh", "-c", "echo PID=$$; env; echo "+enginetest.Marker+"; exec sleep 600")
			out, errOut := enginetest.Output(t, name)
			got := envOf(out)
			if got["PID"] != "1" {
				t.Errorf("sh ran as PID %q, want 1", got["PID"])
			}
			p9092 := enginetest.HostPort(t, name, "9092/tcp")
			p53 := enginetest.HostPort(t, name, "53/udp")
			assertVars(t, got, map[string]string{
				"HOST_PORT_9092":        p9092,
				"HOST_PORT_53_UDP":      p53,
				"HOST_IP_53_UDP":        "127.0.0.1",
				"KAFKA_ADVERTISED_PORT": p9092,
			})
			if tc.hostname != "" && got["HOSTNAME"] != tc.hostname {
				t.Errorf("HOSTNAME = %q, want %q", got["HOSTNAME"], tc.hostname)
			}
			id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
			want := "find container by mountinfo: container " + id[:12] + " (" + name + ") from /proc/self/mountinfo"
			if !strings.Contains(errOut, want) {
				t.Errorf("stderr does not say how the container was found; want %q in:\n%s", want, errOut)
			}
			t.Logf("identified by mountinfo; HOST_PORT_9092=%s HOST_PORT_53_UDP=%s", p9092, p53)
		})
	}
}

func TestEngineEvalInShell(t *testing.T) {
	enginetest.Require(t)
	name := enginetest.Name(t, "eval")
	enginetest.Start(t, name, []string{"-v", enginetest.SocketMount, "-p", "9092", "-p", "127.0.0.1::53/udp"},
		"sh", "-c", `eval "$(portenv --set 'ODD=it'"'"'s $(x) `+"`y`"+` \')" && printf '%s|%s|%s|%s\n' "$HOST_PORT_9092" "$HOST_PORT_53_UDP" "$HOST_IP_53_UDP" "$ODD"; echo `+enginetest.Marker+`; exec sleep 600`)
	out, _ := enginetest.Output(t, name)
	want := enginetest.HostPort(t, name, "9092/tcp") + "|" + enginetest.HostPort(t, name, "53/udp") + "|127.0.0.1|it's $(x) `y` \\\n"
	if out != want {
		t.Errorf("eval gave %q, want %q", out, want)
	}
}

func TestEngineOutputFiles(t *testing.T) {
	enginetest.Require(t)
	for _, format := range []string{"shell", "dotenv", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			name := enginetest.Name(t, "out-"+format)
			enginetest.Start(t, name,
				[]string{"-v", enginetest.SocketMount, "-p", "9092", "-p", "127.0.0.1::53/udp", "-v", dir + ":/out"},
				"portenv", "--format", format, "--set", "GREETING=hello world=1", "-o", "/out/vars", "--", "sh", "-c", "echo ran; echo "+enginetest.Marker+"; exec sleep 600")
			if out, errOut := enginetest.Output(t, name); out != "ran\n" {
				t.Fatalf("stdout: %q\nstderr: %s", out, errOut)
			}
			want := map[string]string{
				"HOST_PORT_9092":   enginetest.HostPort(t, name, "9092/tcp"),
				"HOST_PORT_53_UDP": enginetest.HostPort(t, name, "53/udp"),
				"HOST_IP_53_UDP":   "127.0.0.1",
				"GREETING":         "hello world=1",
			}
			file := filepath.Join(dir, "vars")
			st, err := os.Stat(file)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o644 {
				t.Errorf("file mode %v, want 0644", st.Mode().Perm())
			}
			got := readBack(t, format, file)
			if len(got) != len(want) {
				t.Errorf("read back %d variables %v, want %d", len(got), got, len(want))
			}
			assertVars(t, got, want)
		})
	}
}

// readBack reads an output file the way its consumer does: shell through
// sh's eval, dotenv through docker run --env-file, json through a parser.
func readBack(t *testing.T, format, file string) map[string]string {
	t.Helper()
	switch format {
	case "shell":
		out, err := exec.Command("sh", "-c", `env -i sh -c '. "$1"; env' sh "$0"`, file).Output()
		if err != nil {
			t.Fatal(err)
		}
		m := envOf(string(out))
		delete(m, "PWD")
		delete(m, "SHLVL")
		delete(m, "_")
		return m
	case "dotenv":
		name := enginetest.Name(t, "envfile")
		out, errOut, code := enginetest.Run(t, name, []string{"--env-file", file}, "env")
		if code != 0 {
			t.Fatalf("docker run --env-file: exit %d: %s", code, errOut)
		}
		m := envOf(out)
		for _, k := range []string{"PATH", "HOSTNAME", "HOME"} {
			delete(m, k)
		}
		return m
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatalf("not JSON: %v: %s", err, data)
	}
	return m
}

func TestEngineContainerFlagOnHost(t *testing.T) {
	enginetest.Require(t)
	bin := enginetest.Binary(t)
	name := enginetest.Name(t, "host")
	enginetest.Docker(t, "run", "-d", "--name", name, "-p", "9092", "-p", "127.0.0.1::53/udp", enginetest.BuildImage(t), "sleep", "60")
	cmd := exec.Command(bin, "--container", name, "--format", "dotenv", "--port", "KAFKA_ADVERTISED_PORT=9092")
	cmd.Env = enginetest.HostEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("portenv --container: %v", err)
	}
	p := enginetest.HostPort(t, name, "9092/tcp")
	want := "HOST_IP_53_UDP=127.0.0.1\nHOST_PORT_53_UDP=" + enginetest.HostPort(t, name, "53/udp") +
		"\nHOST_PORT_9092=" + p + "\nKAFKA_ADVERTISED_PORT=" + p + "\n"
	if string(out) != want {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
}

func TestEngineExistingValueWins(t *testing.T) {
	enginetest.Require(t)
	for _, tc := range []struct {
		name  string
		force bool
	}{{"kept", false}, {"forced", true}} {
		t.Run(tc.name, func(t *testing.T) {
			name := enginetest.Name(t, "keep")
			cmd := []string{"portenv", "--port", "KAFKA_ADVERTISED_PORT=9092"}
			if tc.force {
				cmd = append(cmd, "--force")
			}
			cmd = append(cmd, "--", "sh", "-c", "echo $KAFKA_ADVERTISED_PORT; echo "+enginetest.Marker+"; exec sleep 600")
			enginetest.Start(t, name, []string{"-v", enginetest.SocketMount, "-p", "9092", "-e", "KAFKA_ADVERTISED_PORT=1234"}, cmd...)
			out, errOut := enginetest.Output(t, name)
			want := "1234"
			if tc.force {
				want = enginetest.HostPort(t, name, "9092/tcp")
			}
			if strings.TrimSpace(out) != want {
				t.Errorf("KAFKA_ADVERTISED_PORT=%q, want %q (stderr %q)", out, want, errOut)
			}
		})
	}
}

func TestEngineCommandExitCodes(t *testing.T) {
	enginetest.Require(t)
	for _, tc := range []struct {
		command []string
		code    int
		msg     string
	}{
		{[]string{"no-such-program"}, 127, "portenv: no-such-program: command not found"},
		{[]string{"/etc/passwd"}, 126, "portenv: /etc/passwd: cannot execute: permission denied"},
		{[]string{"sh", "-c", "exit 7"}, 7, ""},
	} {
		t.Run(tc.command[0], func(t *testing.T) {
			name := enginetest.Name(t, "code")
			_, errOut, code := enginetest.Run(t, name, []string{"-v", enginetest.SocketMount, "-p", "9092"}, append([]string{"portenv", "--"}, tc.command...)...)
			if code != tc.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tc.code, errOut)
			}
			if !strings.Contains(errOut, tc.msg) {
				t.Errorf("stderr %q lacks %q", errOut, tc.msg)
			}
		})
	}
}

// A --template file renders after discovery, and may still ask the engine
// for .Host.Name.
func TestEngineTemplateFile(t *testing.T) {
	enginetest.Require(t)
	dir := t.TempDir()
	tmpl := `{{.Container.Name}} {{.Host.Name}} {{port "9092"}} {{range $k, $v := .Vars}}{{$k}}={{$v}} {{end}}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "t.tmpl"), []byte(tmpl), 0o644); err != nil {
		t.Fatal(err)
	}
	name := enginetest.Name(t, "tmpl")
	enginetest.Start(t, name, []string{"-v", enginetest.SocketMount, "-p", "9092", "-v", dir + ":/tmpl:ro"},
		"sh", "-c", "portenv --no-auto --port P=9092 --template /tmpl/t.tmpl; echo "+enginetest.Marker+"; exec sleep 600")
	out, errOut := enginetest.Output(t, name)
	p := enginetest.HostPort(t, name, "9092/tcp")
	want := name + " " + enginetest.Docker(t, "info", "-f", "{{.Name}}") + " " + p + " P=" + p + " \n"
	wantErr := enginetest.DualStackNote(t, name, "9092/tcp", "using")
	if out != want || errOut != wantErr {
		t.Errorf("got %q (stderr %q), want %q (stderr %q)", out, errOut, want, wantErr)
	}
}
