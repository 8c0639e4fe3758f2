package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portenv/portenv/discover"
	"github.com/portenv/portenv/internal/enginetest"
	"github.com/portenv/portenv/internal/readproxy"
)

const socketMount = enginetest.SocketMount

// startKept starts a container that is to print enginetest.Marker and stay
// up, so that its bindings can be compared with what it printed.
func startKept(t *testing.T, name string, dockerArgs []string, command ...string) (stdout, stderr string) {
	t.Helper()
	enginetest.Start(t, name, dockerArgs, command...)
	return enginetest.Output(t, name)
}

// andWait is the end of a shell script in a kept container.
const andWait = "; echo " + enginetest.Marker + "; exec sleep 600"

// socketDir makes a directory for a unix socket that containers mount,
// with a path short enough for sun_path.
func socketDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pe-e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// silentSocket listens on a unix socket, accepts connections and never
// answers, as an engine that hangs does.
func silentSocket(t *testing.T) string {
	t.Helper()
	sock, stop, err := enginetest.ListenSilent()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return sock
}

func socketGID(t *testing.T) uint32 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(enginetest.SocketPath(t), &st); err != nil {
		t.Fatal(err)
	}
	return st.Gid
}

const noSocket = "no Docker socket at /var/run/docker.sock in this container (DOCKER_HOST is not set, so portenv looked there); mount it with -v /var/run/docker.sock:/var/run/docker.sock:ro, or set DOCKER_HOST to the engine's address"

// Every failure of contract section 7 that the engine can produce, with
// the exact line portenv prints and its exit code.
func TestEngineFailureMessages(t *testing.T) {
	enginetest.Require(t)
	gid := socketGID(t)
	for _, tc := range []struct {
		name    string
		docker  []string
		portenv []string
		code    int
		stderr  string // {name} is the container's name
	}{
		{
			name:   "no-socket",
			code:   1,
			stderr: "portenv: " + noSocket + "\n",
		},
		{
			name:   "permission",
			docker: []string{"-v", socketMount, "--user", "65534"},
			code:   1,
			stderr: fmt.Sprintf("portenv: permission denied connecting to the Docker socket /var/run/docker.sock (owner uid 0, group id %d, mode 0660); this process runs as uid 65534 with gids 65534; start the container with --group-add %d (group_add: [\"%d\"] in Compose), or as a user of group %d\n", gid, gid, gid, gid),
		},
		{
			name:   "permission-fixed-by-group-add",
			docker: []string{"-v", socketMount, "--user", "65534", "--group-add", fmt.Sprint(gid), "-p", "9092"},
			code:   0,
		},
		{
			name:    "never-answers",
			docker:  []string{"-v", silentSocket(t) + ":/var/run/docker.sock"},
			portenv: []string{"--timeout", "2s"},
			code:    1,
			stderr:  "portenv: the engine at unix:///var/run/docker.sock did not answer HEAD /_ping within 2s (--timeout); check that the engine runs and that this is its address, or raise --timeout\n",
		},
		{
			name:    "not-found",
			docker:  []string{"-v", socketMount},
			portenv: []string{"--container", "portenv-e2e-no-such-container"},
			code:    1,
			stderr:  `portenv: no container "portenv-e2e-no-such-container" on the engine at unix:///var/run/docker.sock (GET /containers/portenv-e2e-no-such-container/json answered 404); check the id or name given to --container (docker ps lists them) and that DOCKER_HOST is the engine that runs it` + "\n",
		},
		{
			name:    "not-published",
			docker:  []string{"-v", socketMount, "-p", "9092", "-p", "127.0.0.1::53/udp"},
			portenv: []string{"--port", "ADMIN_PORT=9999"},
			code:    1,
			stderr:  "portenv: --port ADMIN_PORT: port 9999/tcp of container {name} is not published; publish it with -p 9999; published: 9092/tcp, 53/udp\n",
		},
		{
			name:    "exposed-not-published",
			docker:  []string{"-v", socketMount, "-p", "9092", "--expose", "7000"},
			portenv: []string{"--port", "JMX_PORT=7000"},
			code:    1,
			stderr:  `portenv: --port JMX_PORT: port 7000/tcp of container {name} is exposed but not published; publish it with -p 7000 (or ports: ["7000"] in Compose); published: 9092/tcp` + "\n",
		},
		{
			name:    "host-network-port",
			docker:  []string{"-v", socketMount, "--network", "host"},
			portenv: []string{"--port", "KAFKA_ADVERTISED_PORT=9092"},
			code:    0,
			stderr:  "portenv: container {name} uses the host's network, so the engine publishes nothing: its ports are reached on the host at their own numbers\n",
		},
		{
			name:   "host-network-auto",
			docker: []string{"-v", socketMount, "--network", "host", "--expose", "7000"},
			code:   0,
			stderr: "portenv: container {name} uses the host's network, so the engine publishes nothing: its ports are reached on the host at their own numbers (7000/tcp at 7000)\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := enginetest.Name(t, "fail-"+tc.name)
			cmd := append(append([]string{"portenv"}, tc.portenv...), "--", "sh", "-c", "echo ran")
			out, errOut, code := enginetest.Run(t, name, tc.docker, cmd...)
			wantOut := ""
			if tc.code == 0 {
				wantOut = "ran\n"
			}
			wantErr := strings.ReplaceAll(tc.stderr, "{name}", name)
			// The container has ended; its bindings cannot be read back.
			errOut = enginetest.WithoutDualStackNotes(errOut, "9092/tcp")
			if code != tc.code || out != wantOut || errOut != wantErr {
				t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant exit %d, stdout %q, stderr\n     %q", code, out, errOut, tc.code, wantOut, wantErr)
			}
			t.Logf("exit %d; stderr: %s", code, errOut)
		})
	}
}

func TestEngineOptional(t *testing.T) {
	enginetest.Require(t)
	name := enginetest.Name(t, "optional")
	out, errOut, code := enginetest.Run(t, name, []string{"-p", "9092"},
		"portenv", "--optional", "--", "sh", "-c", `echo "ran ${HOST_PORT_9092:-without HOST_PORT_9092}"`)
	want := "portenv: warning: " + noSocket + "; going on without the variables (--optional)\n"
	if code != 0 || out != "ran without HOST_PORT_9092\n" || errOut != want {
		t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant exit 0, stdout \"ran without HOST_PORT_9092\\n\", stderr\n     %q", code, out, errOut, want)
	}
}

// negotiatedAPI is the API version portenv agrees on with the engine: the
// engine's highest, or the newest portenv speaks where that is lower.
func negotiatedAPI(t *testing.T) string {
	if v := enginetest.APIVersion(t); enginetest.VersionLess(v, discover.NewestAPI) {
		return v
	}
	return discover.NewestAPI
}

// DOCKER_API_VERSION is used when the engine speaks it; 1.22, as
// wurstmeister's compose file sets it, is older than any version portenv
// speaks, and one newer than the engine offers is not spoken either: each
// is dropped for the negotiated version, with one warning.
func TestEngineAPIVersionPin(t *testing.T) {
	enginetest.Require(t)
	api, negotiated := enginetest.APIVersion(t), negotiatedAPI(t)
	dropped := func(pin, why string) string {
		return "portenv: warning: DOCKER_API_VERSION=" + pin + " is not used, as " + why + "; using API " + negotiated + " instead; remove DOCKER_API_VERSION from the container's environment\n"
	}
	for _, tc := range []struct{ pin, stderr string }{
		{negotiated, ""},
		{"1.22", dropped("1.22", "it is older than API 1.24, the oldest portenv speaks")},
		{"1.99", dropped("1.99", "the engine offers at most "+api)},
	} {
		t.Run(tc.pin, func(t *testing.T) {
			name := enginetest.Name(t, "api")
			out, errOut := startKept(t, name, []string{"-v", socketMount, "-p", "9092", "-e", "DOCKER_API_VERSION=" + tc.pin},
				"portenv", "--", "sh", "-c", "echo $HOST_PORT_9092"+andWait)
			want := enginetest.HostPort(t, name, "9092/tcp") + "\n"
			wantErr := tc.stderr + enginetest.DualStackNote(t, name, "9092/tcp", "using")
			if out != want || errOut != wantErr {
				t.Errorf("stdout %q, stderr\n got %q\nwant stdout %q, stderr\n     %q", out, errOut, want, wantErr)
			}
		})
	}
}

// With --network container:<other>, the other container's bindings are the
// ones read, whether this container is named or found by itself.
func TestEngineNetworkOfOtherContainer(t *testing.T) {
	enginetest.Require(t)
	owner := enginetest.Name(t, "netowner")
	enginetest.Docker(t, "run", "-d", "--name", owner, "-p", "9092", "-p", "127.0.0.1::53/udp", enginetest.BuildImage(t), "sleep", "600")
	p9092, p53 := enginetest.HostPort(t, owner, "9092/tcp"), enginetest.HostPort(t, owner, "53/udp")
	for _, named := range []bool{true, false} {
		t.Run(fmt.Sprintf("container-flag-%v", named), func(t *testing.T) {
			name := enginetest.Name(t, "netuser")
			cmd := []string{"portenv", "-v"}
			if named {
				cmd = append(cmd, "--container", name)
			}
			cmd = append(cmd, "--set", "ME={{.Container.Name}}", "--", "sh", "-c", `echo "$HOST_PORT_9092 $HOST_PORT_53_UDP $HOST_IP_53_UDP $ME"`)
			out, errOut, code := enginetest.Run(t, name, []string{"-v", socketMount, "--network", "container:" + owner}, cmd...)
			want := p9092 + " " + p53 + " 127.0.0.1 " + name + "\n"
			if !named && enginetest.Docker(t, "info", "-f", "{{.CgroupVersion}}") != "1" {
				// With cgroup v2 the cgroup path names no container, and
				// the mounts name the owner: the ports are right, the
				// container is the owner.
				want = p9092 + " " + p53 + " 127.0.0.1 " + owner + "\n"
			}
			if code != 0 || out != want {
				t.Errorf("exit %d, stdout %q, want %q; stderr:\n%s", code, out, want, errOut)
			}
			if !named && strings.HasSuffix(want, " "+name+"\n") {
				id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
				want := "portenv: find container by cgroup: container " + id[:12] + " (" + name + ") from /proc/self/cgroup, which shares the network of " + owner + ", whose files the mounts name\n" +
					"portenv: find container by network: shares the network of container " + owner + "; its published ports are used\n"
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks\n%s\nin\n%s", want, errOut)
				}
			}
			if named {
				id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
				want := "portenv: find container by --container: container " + id[:12] + " (" + name + ")\n" +
					"portenv: find container by network: shares the network of container " + owner + "; its published ports are used\n"
				if !strings.Contains(errOut, want) {
					t.Errorf("stderr lacks\n%s\nin\n%s", want, errOut)
				}
			}
			t.Logf("stderr:\n%s", errOut)
		})
	}
}

// portenv asks the engine GET and HEAD only, and in the common case exactly
// HEAD /_ping and GET /containers/{id}/json; /info only for .Host.Name. It
// works behind a read-only proxy that allows only those.
func TestEngineReadOnlyProxy(t *testing.T) {
	enginetest.Require(t)
	hostName := enginetest.Docker(t, "info", "--format", "{{.Name}}")
	for _, tc := range []struct {
		name     string
		allow    []string
		set      []string
		code     int
		stdout   string // {port} is the container's host port of 9092
		stderr   string
		requests []string // {id} is the container's id
	}{
		{
			name:     "common-case",
			allow:    []string{"/_ping", "/containers/*/json"},
			code:     0,
			stdout:   "{port} -\n",
			requests: []string{"HEAD /_ping", "GET /containers/{id}/json"},
		},
		{
			name:     "host-name",
			allow:    []string{"/_ping", "/containers/*/json", "/info"},
			set:      []string{"--set", "ADVERTISED={{.Host.Name}}:{{port \"9092\"}}"},
			code:     0,
			stdout:   "{port} " + hostName + ":{port}\n",
			requests: []string{"HEAD /_ping", "GET /containers/{id}/json", "GET /info"},
		},
		{
			name:     "host-name-forbidden",
			allow:    []string{"/_ping", "/containers/*/json"},
			set:      []string{"--set", "ADVERTISED={{.Host.Name}}:{{port \"9092\"}}"},
			code:     1,
			stderr:   `portenv: --set ADVERTISED: the engine at unix:///var/run/docker.sock forbade GET /info (403: read-only proxy: GET /info is not allowed); a socket proxy in front of the engine must allow HEAD and GET on /_ping and /containers/{id}/json, and /info when a template uses .Host.Name` + "\n",
			requests: []string{"HEAD /_ping", "GET /containers/{id}/json", "GET /info"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sock := filepath.Join(socketDir(t), "ro.sock")
			proxy := readproxy.New(enginetest.SocketPath(t), tc.allow...)
			stop, err := readproxy.Serve(sock, proxy)
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			name := enginetest.Name(t, "proxy")
			docker := []string{"-v", sock + ":/var/run/docker.sock", "-p", "9092"}
			cmd := append(append([]string{"portenv"}, tc.set...), "--", "sh", "-c", `echo "$HOST_PORT_9092 ${ADVERTISED:--}"`)
			var out, errOut, wantOut string
			wantErr := tc.stderr
			code := 0
			if tc.code == 0 {
				cmd[len(cmd)-1] += andWait
				out, errOut = startKept(t, name, docker, cmd...)
				wantOut = strings.ReplaceAll(tc.stdout, "{port}", enginetest.HostPort(t, name, "9092/tcp"))
				wantErr = enginetest.DualStackNote(t, name, "9092/tcp", "using") + wantErr
			} else {
				out, errOut, code = enginetest.Run(t, name, docker, cmd...)
				errOut = enginetest.WithoutDualStackNotes(errOut, "9092/tcp")
			}
			id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
			if code != tc.code || out != wantOut || errOut != wantErr {
				t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant exit %d, stdout %q, stderr\n     %q", code, out, errOut, tc.code, wantOut, wantErr)
			}
			got := proxy.Requests()
			want := strings.Split(strings.ReplaceAll(strings.Join(tc.requests, "\n"), "{id}", id), "\n")
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("requests through the proxy:\n got %q\nwant %q", got, want)
			}
			t.Logf("requests: %q", got)
		})
	}
}

// Fifty containers started together, each with portenv as its entrypoint,
// half of them through a read-only socket proxy and half with the socket:
// each gets exactly its own host port, and none fails. The time from the
// start of portenv to the start of its command, read in the container
// from /proc/uptime (10 ms), is logged as p50 and p99.
func TestEngineManyAtOnce(t *testing.T) {
	enginetest.Require(t)
	image := enginetest.BuildImage(t)
	sock := filepath.Join(socketDir(t), "ro.sock")
	proxy := readproxy.New(enginetest.SocketPath(t), "/_ping", "/containers/*/json")
	stop, err := readproxy.Serve(sock, proxy)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	const n = 50
	names := make([]string, n)
	for i := range names {
		names[i] = enginetest.Name(t, fmt.Sprintf("load%02d", i))
	}
	// Uptime before portenv and in its command, in hundredths of seconds.
	script := `read a _ </proc/uptime; exec portenv -- sh -c 'read b _ </proc/uptime; echo HOST_PORT_9092=$HOST_PORT_9092; echo "took $1 $b"; echo ` + enginetest.Marker + `; exec sleep 600' sh "$a"`
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, name := range names {
		engine := []string{"-v", socketMount}
		if i%2 == 1 {
			engine = []string{"-v", filepath.Dir(sock) + ":/run/engine", "-e", "DOCKER_HOST=unix:///run/engine/ro.sock"}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			args := append(append([]string{"run", "-d", "--name", name}, engine...), "-p", "9092", image, "sh", "-c", script)
			if _, errOut, err := enginetest.DockerResult(args...); err != nil {
				errs[i] = fmt.Errorf("docker run %s: %v: %s", name, err, errOut)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	var took []time.Duration
	for _, name := range names {
		out, errOut := enginetest.Output(t, name)
		want := enginetest.HostPort(t, name, "9092/tcp")
		wantErr := enginetest.DualStackNote(t, name, "9092/tcp", "using")
		first, rest, _ := strings.Cut(out, "\n")
		var a, b float64
		if _, err := fmt.Sscanf(rest, "took %f %f\n", &a, &b); err != nil || first != "HOST_PORT_9092="+want || errOut != wantErr {
			t.Errorf("%s: stdout %q, stderr %q; want HOST_PORT_9092=%s and the times, stderr %q", name, out, errOut, want, wantErr)
			continue
		}
		took = append(took, time.Duration((b-a)*float64(time.Second)))
		if other, ok := seen[want]; ok {
			t.Errorf("%s and %s both have host port %s", name, other, want)
		}
		seen[want] = name
	}
	if len(seen) != n {
		t.Errorf("%d distinct host ports, want %d", len(seen), n)
	}
	for _, r := range proxy.Requests() {
		if !strings.HasPrefix(r, "GET ") && !strings.HasPrefix(r, "HEAD ") {
			t.Errorf("request %s through the read-only proxy", r)
		}
	}
	if len(took) > 0 {
		slices.Sort(took)
		t.Logf("%d containers at once (%d through the read-only proxy, %d requests there): portenv to its command p50 %s, p99 %s, max %s (10 ms resolution)",
			n, n/2, len(proxy.Requests()), took[len(took)/2].Round(10*time.Millisecond), took[(len(took)*99+99)/100-1].Round(10*time.Millisecond), took[len(took)-1].Round(10*time.Millisecond))
	}
}

// -v tells how the container was found and what was set, but never the
// container's environment, nor anything of other containers.
func TestEngineVerboseKeepsSecrets(t *testing.T) {
	enginetest.Require(t)
	const secret, otherSecret = "s3cr3t-own-Zq81", "s3cr3t-other-Kx42"
	other := enginetest.Name(t, "other")
	enginetest.Docker(t, "run", "-d", "--name", other, "-e", "PASSWORD="+otherSecret, "-l", "token="+otherSecret, "-p", "9092",
		enginetest.BuildImage(t), "sleep", "600")
	name := enginetest.Name(t, "secret")
	out, errOut := startKept(t, name, []string{"-v", socketMount, "-p", "9092", "-e", "SECRET=" + secret},
		"portenv", "-v", "--set", "GREETING=hello", "--", "sh", "-c", "echo ran"+andWait)
	if out != "ran\n" {
		t.Fatalf("stdout %q, stderr %s", out, errOut)
	}
	for _, s := range []string{secret, otherSecret, other} {
		if strings.Contains(out+errOut, s) {
			t.Errorf("%q printed:\nstdout %s\nstderr %s", s, out, errOut)
		}
	}
	id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
	want := "portenv: engine unix:///var/run/docker.sock, API " + negotiatedAPI(t) + "\n" +
		"portenv: find container by mountinfo: container " + id[:12] + " (" + name + ") from /proc/self/mountinfo\n" +
		enginetest.DualStackNote(t, name, "9092/tcp", "using") +
		"portenv: set GREETING=hello\n" +
		"portenv: set HOST_PORT_9092=" + enginetest.HostPort(t, name, "9092/tcp") + "\n"
	if errOut != want {
		t.Errorf("stderr\n got %q\nwant %q", errOut, want)
	}

	// Where a template asks for the secret, it is the user's to print.
	name2 := enginetest.Name(t, "secret-asked")
	out, errOut, code := enginetest.Run(t, name2, []string{"-v", socketMount, "-e", "SECRET=" + secret},
		"portenv", "-v", "--set", `COPY={{env "SECRET"}}`, "--", "sh", "-c", "echo ran")
	if code != 0 || out != "ran\n" || strings.Count(errOut, secret) != 1 || !strings.Contains(errOut, "portenv: set COPY="+secret+"\n") {
		t.Errorf("exit %d, stdout %q, stderr %q; want the secret once, in the line that sets COPY", code, out, errOut)
	}
}

// -q leaves only errors on stderr; the default level adds notes.
func TestEngineQuiet(t *testing.T) {
	enginetest.Require(t)
	for _, tc := range []struct {
		flags  []string
		code   int
		stderr string
	}{
		{nil, 0, "portenv: KAFKA_ADVERTISED_PORT is already set; leaving it as it is (--force overwrites it)\n"},
		{[]string{"-q"}, 0, ""},
		{[]string{"-q", "--port", "ADMIN=9999"}, 1, "portenv: --port ADMIN: port 9999/tcp of container {name} is not published; publish it with -p 9999; published: 9092/tcp\n"},
	} {
		t.Run(strings.Join(tc.flags, " "), func(t *testing.T) {
			name := enginetest.Name(t, "quiet")
			cmd := append(append([]string{"portenv", "--port", "KAFKA_ADVERTISED_PORT=9092"}, tc.flags...), "--", "true")
			out, errOut, code := enginetest.Run(t, name, []string{"-v", socketMount, "-p", "9092", "-e", "KAFKA_ADVERTISED_PORT=1234"}, cmd...)
			if tc.flags == nil {
				// A note, where there is one, at the default level; -q has none.
				errOut = enginetest.WithoutDualStackNotes(errOut, "9092/tcp")
			}
			want := strings.ReplaceAll(tc.stderr, "{name}", name)
			if code != tc.code || out != "" || errOut != want {
				t.Errorf("exit %d, stdout %q, stderr\n got %q\nwant exit %d, stderr\n     %q", code, out, errOut, tc.code, want)
			}
		})
	}
}

func TestEngineDoctor(t *testing.T) {
	enginetest.Require(t)
	answers := "  answers; API version " + negotiatedAPI(t) + ", negotiated (the engine offers up to " + enginetest.APIVersion(t) + ")\n"
	t.Run("ok", func(t *testing.T) {
		name := enginetest.Name(t, "doctor")
		out, errOut := startKept(t, name,
			[]string{"-v", socketMount, "-p", "9092", "-p", "127.0.0.1::53/udp", "--expose", "7000", "-e", "KAFKA_ADVERTISED_PORT=1234"},
			"sh", "-c", `portenv doctor --port KAFKA_ADVERTISED_PORT=9092; echo "exit $?"`+andWait)
		id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
		p9092, p53 := enginetest.HostPort(t, name, "9092/tcp"), enginetest.HostPort(t, name, "53/udp")
		note := ""
		if n := enginetest.DualStackNote(t, name, "9092/tcp", "using"); n != "" {
			note = "Note: " + strings.TrimPrefix(n, "portenv: ")
		}
		want := "Engine: unix:///var/run/docker.sock (the default; DOCKER_HOST is not set)\n" +
			answers +
			"Finding this container (+ found, - did not):\n" +
			"  + mountinfo     container " + id[:12] + " (" + name + ") from /proc/self/mountinfo\n" +
			"Container: " + name + " (id " + id[:12] + ", hostname " + id[:12] + ", image " + enginetest.Image + ", network " + enginetest.NetworkMode(t, name) + ")\n" +
			"Published ports:\n" +
			"  9092/tcp   -> 0.0.0.0:" + p9092 + "\n" +
			"  9092/tcp   -> [::]:" + enginetest.HostPortIPv6(t, name, "9092/tcp") + "\n" +
			"  53/udp     -> 127.0.0.1:" + p53 + "\n" +
			"Exposed but not published (no variable; publish with -p): 7000/tcp\n" +
			note +
			"Note: KAFKA_ADVERTISED_PORT is already set; leaving it as it is (--force overwrites it)\n" +
			"Variables portenv would set:\n" +
			"  HOST_IP_53_UDP=127.0.0.1\n" +
			"  HOST_PORT_53_UDP=" + p53 + "\n" +
			"  HOST_PORT_9092=" + p9092 + "\n" +
			"OK\n" +
			"exit 0\n"
		if out != want || errOut != "" {
			t.Errorf("stderr %q, stdout\n%s\nwant stdout\n%s", errOut, out, want)
		}
	})
	t.Run("no-socket", func(t *testing.T) {
		name := enginetest.Name(t, "doctor-nosock")
		out, errOut, code := enginetest.Run(t, name, nil, "portenv", "doctor")
		want := "Engine: unix:///var/run/docker.sock (the default; DOCKER_HOST is not set)\n" +
			"PROBLEM: " + noSocket + "\n"
		if code != 1 || out != want || errOut != "" {
			t.Errorf("exit %d, stderr %q, stdout\n%s\nwant exit 1, stdout\n%s", code, errOut, out, want)
		}
	})
	t.Run("exposed-not-published", func(t *testing.T) {
		name := enginetest.Name(t, "doctor-exposed")
		out, _, code := enginetest.Run(t, name, []string{"-v", socketMount, "--expose", "7000"}, "portenv", "doctor", "--port", "JMX_PORT=7000")
		id := enginetest.Docker(t, "inspect", "-f", "{{.Id}}", name)
		want := "Engine: unix:///var/run/docker.sock (the default; DOCKER_HOST is not set)\n" +
			answers +
			"Finding this container (+ found, - did not):\n" +
			"  + mountinfo     container " + id[:12] + " (" + name + ") from /proc/self/mountinfo\n" +
			"Container: " + name + " (id " + id[:12] + ", hostname " + id[:12] + ", image " + enginetest.Image + ", network " + enginetest.NetworkMode(t, name) + ")\n" +
			"Published ports: none\n" +
			"Exposed but not published (no variable; publish with -p): 7000/tcp\n" +
			`PROBLEM: --port JMX_PORT: port 7000/tcp of container ` + name + ` is exposed but not published; publish it with -p 7000 (or ports: ["7000"] in Compose); no port of this container is published` + "\n"
		if code != 1 || out != want {
			t.Errorf("exit %d, stdout\n%s\nwant exit 1, stdout\n%s", code, out, want)
		}
	})
}
