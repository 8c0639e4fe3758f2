package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// swarmImage is the image of the Swarm tests' services. Swarm must find it
// on the node, since no registry is asked (--no-resolve-image).
const swarmImage = "portenv-test:swarm"

const sockMount = "type=bind,source=/var/run/docker.sock,target=/var/run/docker.sock,readonly"

// swarmNode makes the engine a single-node Swarm manager for the test, and
// returns the node's address and hostname. A Swarm the test made is left
// at the end; one that was there before is kept. Plain containers of other
// tests keep running either way.
func swarmNode(t *testing.T) (addr, hostname string) {
	t.Helper()
	lockSwarm(t)
	return swarmManager(t, "127.0.0.1")
}

// lockSwarm makes the test wait for its turn at the engine's Swarm, and
// holds it until the test ends. Two test processes on one engine would
// share the Swarm, and the first to finish would leave it under the other.
func lockSwarm(t *testing.T) {
	t.Helper()
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "portenv-swarm-test.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lock.Close() })
}

// swarmManager is swarmNode for a test that holds the lock: a Swarm it
// makes is advertised on advertise.
func swarmManager(t *testing.T, advertise string) (addr, hostname string) {
	t.Helper()
	state := enginetest.Docker(t, "info", "--format", "{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}")
	switch state {
	case "inactive false":
		_, _, err := enginetest.DockerResult("network", "inspect", "docker_gwbridge")
		hadBridge := err == nil
		enginetest.Docker(t, "swarm", "init", "--advertise-addr", advertise)
		t.Cleanup(func() {
			if _, errOut, err := enginetest.DockerResult("swarm", "leave", "--force"); err != nil {
				t.Errorf("docker swarm leave --force: %v: %s", err, errOut)
			}
			if !hadBridge {
				enginetest.DockerResult("network", "rm", "docker_gwbridge")
			}
		})
	case "active true":
	default:
		t.Fatalf("the Swarm tests need this engine to be a Swarm manager or in no Swarm; it is %q (docker info: LocalNodeState ControlAvailable)", state)
	}
	return enginetest.Docker(t, "info", "--format", "{{.Swarm.NodeAddr}}"),
		enginetest.Docker(t, "node", "inspect", "self", "--format", "{{.Description.Hostname}}")
}

// removeWhenDone removes a service or stack at the end of the test and
// waits, bounded, for its task containers to go.
func removeWhenDone(t *testing.T, label, value string, rm ...string) {
	t.Cleanup(func() {
		enginetest.DockerResult(rm...)
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			out, _, _ := enginetest.DockerResult("ps", "-aq", "--filter", "label="+label+"="+value)
			if strings.TrimSpace(out) == "" {
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
		t.Logf("task containers of %s=%s still there 60s after %s", label, value, strings.Join(rm, " "))
	})
}

// task is one running task container of a service and what it printed.
type task struct {
	id, slot string
	env      map[string]string
	stderr   string
}

// tasks waits until service has n running task containers that printed
// enginetest.Marker, and returns them sorted by slot.
func tasks(t *testing.T, service string, n int) []task {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	var ids []string
	for {
		out, _, _ := enginetest.DockerResult("ps", "-q", "--no-trunc", "--filter", "label=com.docker.swarm.service.name="+service)
		ids = strings.Fields(out)
		if len(ids) == n {
			break
		}
		if time.Now().After(deadline) {
			ps, _, _ := enginetest.DockerResult("service", "ps", "--no-trunc", service)
			t.Fatalf("service %s has %d running task containers after 90s, want %d:\n%s", service, len(ids), n, ps)
		}
		time.Sleep(250 * time.Millisecond)
	}
	var ts []task
	for _, id := range ids {
		out, errOut := enginetest.Output(t, id)
		name := enginetest.Docker(t, "inspect", "-f", `{{index .Config.Labels "com.docker.swarm.task.name"}}`, id)
		parts := strings.Split(name, ".")
		if len(parts) != 3 {
			t.Fatalf("task name %q is not <service>.<slot>.<id>", name)
		}
		ts = append(ts, task{id: id, slot: parts[1], env: envOf(out), stderr: errOut})
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].slot < ts[j].slot })
	return ts
}

// published reads the ports the service publishes, "9092/tcp" to the
// published port, as docker service inspect reports them.
func published(t *testing.T, service string) map[string]string {
	t.Helper()
	out := enginetest.Docker(t, "service", "inspect", "-f", `{{range .Endpoint.Ports}}{{.TargetPort}}/{{.Protocol}}={{.PublishedPort}} {{end}}`, service)
	m := map[string]string{}
	for _, f := range strings.Fields(out) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

func uniqueName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano()%1e9)
}

func TestEngineSwarm(t *testing.T) {
	enginetest.Require(t)
	nodeAddr, nodeHost := swarmNode(t)
	enginetest.ImportImage(t, swarmImage, nil)
	t.Logf("Swarm node %s (%s)", nodeHost, nodeAddr)

	// Ingress mode: the task containers have no bindings; the published
	// ports come from the service. Swarm expands {{.Task.Slot}} and leaves
	// portenv's [[ ]] and the command's arguments alone.
	t.Run("ingress", func(t *testing.T) {
		svc := uniqueName("pe-swarm-ingress")
		removeWhenDone(t, "com.docker.swarm.service.name", svc, "service", "rm", svc)
		enginetest.Docker(t, "service", "create", "-d", "--no-resolve-image", "--name", svc, "--replicas", "2",
			"--stop-grace-period", "1s",
			"--publish", "target=9092", "--publish", "target=53,protocol=udp",
			"--mount", sockMount,
			"-e", "PORTENV_DELIMS=[[,]]",
			"-e", "PORTENV_SET_SLOT=[[.Swarm.Slot]]",
			"-e", `PORTENV_SET_ADVERTISED=[[.Swarm.NodeAddr]]:[[port "9092"]]`,
			"-e", "SWARM_SLOT={{.Task.Slot}}",
			swarmImage,
			"portenv", "-v", "--set", "FROM_ARGS=[[.Swarm.Service]] {{.Task.Slot}}", "--", "sh", "-c", "env; echo "+enginetest.Marker+"; exec sleep 600")
		pub := published(t, svc)
		if len(pub) != 2 || pub["9092/tcp"] == "" || pub["53/udp"] == "" {
			t.Fatalf("service publishes %v, want 9092/tcp and 53/udp", pub)
		}
		svcID := enginetest.Docker(t, "service", "inspect", "-f", "{{.ID}}", svc)
		var slots []string
		for _, tk := range tasks(t, svc, 2) {
			if ports := enginetest.Docker(t, "inspect", "-f", "{{json .NetworkSettings.Ports}}", tk.id); ports != "{}" {
				t.Errorf("task container %s has bindings %s; in ingress mode it should have none", tk.id[:12], ports)
			}
			assertVars(t, tk.env, map[string]string{
				"HOST_PORT_9092":   pub["9092/tcp"],
				"HOST_PORT_53_UDP": pub["53/udp"],
				"SLOT":             tk.slot,
				"SWARM_SLOT":       tk.slot,
				"ADVERTISED":       nodeAddr + ":" + pub["9092/tcp"],
				"FROM_ARGS":        svc + " {{.Task.Slot}}",
			})
			want := "find container by swarm: task of service " + svc + "; its ingress ports read from the service (GET /services/" + svcID + "): 9092/tcp -> " + pub["9092/tcp"] + ", 53/udp -> " + pub["53/udp"]
			if !strings.Contains(tk.stderr, want) {
				t.Errorf("task %s: stderr lacks %q:\n%s", tk.slot, want, tk.stderr)
			}
			slots = append(slots, tk.env["SLOT"])
		}
		if strings.Join(slots, ",") != "1,2" {
			t.Errorf("slots seen %v, want 1,2", slots)
		}
		t.Logf("published 9092/tcp -> %s, 53/udp -> %s; slots seen %v", pub["9092/tcp"], pub["53/udp"], slots)
	})

	// Host mode: the task's container has its own bindings, read as on a
	// plain host, and the service is not asked. {{ }} in the command's
	// arguments reaches portenv untouched.
	t.Run("host", func(t *testing.T) {
		svc := uniqueName("pe-swarm-host")
		removeWhenDone(t, "com.docker.swarm.service.name", svc, "service", "rm", svc)
		enginetest.Docker(t, "service", "create", "-d", "--no-resolve-image", "--name", svc,
			"--stop-grace-period", "1s",
			"--publish", "mode=host,target=9092",
			"--mount", sockMount,
			swarmImage,
			"portenv", "-v", "--set", `ADVERTISED={{.Swarm.NodeAddr}}:{{port "9092"}}`, "--set", "WHO={{.Swarm.Service}}.{{.Swarm.Slot}}",
			"--", "sh", "-c", "env; echo "+enginetest.Marker+"; exec sleep 600")
		tk := tasks(t, svc, 1)[0]
		port := enginetest.HostPort(t, tk.id, "9092/tcp")
		assertVars(t, tk.env, map[string]string{
			"HOST_PORT_9092": port,
			"ADVERTISED":     nodeAddr + ":" + port,
			"WHO":            svc + ".1",
		})
		if strings.Contains(tk.stderr, "by swarm") {
			t.Errorf("in host mode the service was read:\n%s", tk.stderr)
		}
		if pub := published(t, svc); pub["9092/tcp"] != "0" {
			t.Errorf("service reports published port %q for 9092/tcp in host mode, want 0 (none)", pub["9092/tcp"])
		}
		t.Logf("host mode: docker port 9092 -> %s", port)
	})

	// A stack file: Swarm's templates ({{.Task.Slot}}, {{.Node.Hostname}})
	// and portenv's ([[port "9092"]]) in one environment.
	t.Run("stack", func(t *testing.T) {
		stack := uniqueName("pe-stack")
		removeWhenDone(t, "com.docker.stack.namespace", stack, "stack", "rm", stack)
		cmd := exec.Command("docker", "stack", "deploy", "--resolve-image", "never", "-c", filepath.Join("testdata", "swarm-stack.yml"), stack)
		cmd.Env = append(os.Environ(), "PORTENV_TEST_IMAGE="+swarmImage)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("docker stack deploy: %v\n%s", err, out)
		}
		var ids []string
		for _, tk := range tasks(t, stack+"_broker", 2) {
			port := enginetest.HostPort(t, tk.id, "9092/tcp")
			assertVars(t, tk.env, map[string]string{
				"HOST_PORT_9092":              port,
				"BROKER_ID":                   tk.slot,
				"ADVERTISED_HOST_NAME":        nodeHost,
				"ADVERTISED_PORT":             port,
				"ADVERTISED_LISTENERS":        "PLAINTEXT://" + nodeHost + ":" + port,
				"PORTENV_SET_ADVERTISED_PORT": `[[port "9092"]]`,
			})
			ids = append(ids, tk.env["BROKER_ID"]+"@"+port)
		}
		if len(ids) != 2 || !strings.HasPrefix(ids[0], "1@") || !strings.HasPrefix(ids[1], "2@") {
			t.Errorf("brokers %v, want ids 1 and 2", ids)
		}
		web := tasks(t, stack+"_web", 1)[0]
		pub := published(t, stack+"_web")
		assertVars(t, web.env, map[string]string{
			"HOST_PORT_8080": pub["8080/tcp"],
			"URL":            "http://" + nodeAddr + ":" + pub["8080/tcp"] + "/" + stack + "_web/1",
		})
		t.Logf("stack: brokers (id@port) %v; web ingress 8080 -> %s", ids, pub["8080/tcp"])
	})
}
