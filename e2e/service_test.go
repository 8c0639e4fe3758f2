package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startService starts cmd, an engine that serves its API on sock, waits
// until /_ping answers there, and stops it when the test ends: SIGTERM,
// and after stop has passed SIGKILL to what is left of its process group.
func startService(t *testing.T, cmd *exec.Cmd, sock string, within, stop time.Duration) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "service.log")
	log, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = log, log
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	what := strings.Join(cmd.Args, " ")
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("%s: %v", what, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); log.Close(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stop):
			t.Logf("%s did not stop within %s of SIGTERM; killing it", what, stop)
		}
		// Helpers it started in its process group (rootlesskit's
		// slirp4netns, dockerd's containerd) go with it.
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	})
	started := time.Now()
	deadline := started.Add(within)
	for {
		err := pingSocket(sock)
		if err == nil {
			t.Logf("%s answered on %s after %s", what, sock, time.Since(started).Round(10*time.Millisecond))
			return
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logFile)
			t.Fatalf("%s exited before it answered on %s (%v):\n%s", what, sock, cmd.ProcessState, tail(string(out), 40))
		default:
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logFile)
			t.Fatalf("%s did not answer on %s within %s: %v\n%s", what, sock, within, err, tail(string(out), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// unmet skips the test, loudly, because something it needs is missing;
// with PORTENV_E2E=1 it fails instead.
func unmet(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("PORTENV_E2E") == "1" {
		t.Fatalf("PORTENV_E2E=1 but %s", why)
	}
	t.Skipf("SKIPPING %s: %s; set PORTENV_E2E=1 to make this a failure", t.Name(), why)
}

// tail is the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
