package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/portenv/portenv/internal/enginetest"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"portenv": func() {
			usePodFixtures()
			os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
		},
		// The program name alone makes main answer as docker.
		"docker": func() {
			usePodFixtures()
			main()
		},
	})
}

// The scripts in testdata/script test the command line, one behaviour a
// file: usage errors, version, help, and failures against a fake engine
// that produces what a real one cannot.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			// No engine unless a script starts one.
			env.Setenv("DOCKER_HOST", "unix://"+filepath.Join(env.WorkDir, "no-engine.sock"))
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":            exits,
			"engine":           engine,
			"requests":         requests,
			"silent-engine":    silentEngine,
			"cluster":          cluster,
			"cluster-requests": clusterRequests,
		},
	})
}

// exits CODE PROGRAM [ARG...] runs PROGRAM like exec and checks its exit
// code exactly.
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARG...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: %v", err)
	}
	got := 0
	if err := ts.Exec(args[1], args[2:]...); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			ts.Fatalf("exits: %v", err)
		}
		got = ee.ExitCode()
	}
	if got != want {
		ts.Fatalf("exit code %d, want %d", got, want)
	}
}

var fakes sync.Map // *testscript.TestScript to its *enginetest.Fake

// engine FILE serves the fake engine described by the JSON file FILE (see
// enginetest.Fake) for the rest of the script, as DOCKER_HOST; $ENGINE is
// that address.
func engine(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: engine FILE")
	}
	f := &enginetest.Fake{}
	if err := json.Unmarshal([]byte(ts.ReadFile(args[0])), f); err != nil {
		ts.Fatalf("engine: %s: %v", args[0], err)
	}
	sock, stop, err := f.Listen()
	ts.Check(err)
	ts.Defer(stop)
	fakes.Store(ts, f)
	ts.Setenv("DOCKER_HOST", "unix://"+sock)
	ts.Setenv("ENGINE", "unix://"+sock)
}

// requests [-v] [REQUEST...] checks that the fake engine has had exactly
// these requests ("GET /containers/app/json", without the version; with
// -v, "GET /v1.41/containers/app/json") since the last check, in order.
func requests(ts *testscript.TestScript, neg bool, args []string) {
	v, ok := fakes.Load(ts)
	if neg || !ok {
		ts.Fatalf("usage: requests [-v] [REQUEST...], after engine")
	}
	f := v.(*enginetest.Fake)
	got := f.Requests()
	if len(args) > 0 && args[0] == "-v" {
		got, args = f.Versioned(), args[1:]
	}
	n, _ := fakes.LoadOrStore(f, 0)
	got = got[n.(int):]
	fakes.Store(f, n.(int)+len(got))
	if strings.Join(got, "\n") != strings.Join(args, "\n") {
		ts.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(args, "\n"))
	}
}

// silent-engine serves a socket that accepts connections and never
// answers, as DOCKER_HOST and $ENGINE.
func silentEngine(ts *testscript.TestScript, neg bool, args []string) {
	sock, stop, err := enginetest.ListenSilent()
	ts.Check(err)
	ts.Defer(stop)
	ts.Setenv("DOCKER_HOST", "unix://"+sock)
	ts.Setenv("ENGINE", "unix://"+sock)
}
