// Command portenv finds the container it runs in through the Docker Engine
// API, reads how its ports are published on the host, and execs a command
// with those facts as environment variables, or prints or writes them.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/portenv/portenv/internal/atomicfile"
	_ "github.com/portenv/portenv/internal/oneproc"
)

// Exit codes, as a shell gives them for the same outcomes.
const (
	exitOK          = 0
	exitFailure     = 1 // discovery, or writing an output, failed
	exitUsage       = 2
	exitNotExecable = 126
	exitNotFound    = 127
)

func main() {
	// Installed as docker (multi-call, as busybox is), it answers docker port.
	if filepath.Base(os.Args[0]) == "docker" {
		os.Exit(dockerShim(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
	}
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(args []string, env environ, stdout, stderr io.Writer) int {
	// These are words only in first place, so that "portenv -- doctor"
	// still runs a program named doctor.
	if len(args) > 0 {
		switch args[0] {
		case "version":
			if len(args) > 1 {
				fmt.Fprintf(stderr, "portenv: version takes no arguments (it was given %q)\n", strings.Join(args[1:], " "))
				return exitUsage
			}
			fmt.Fprintln(stdout, "portenv", versionString())
			return exitOK
		case "help":
			args = []string{"--help"}
		case "doctor":
			return doctor(args[1:], env, stdout, stderr)
		case "port":
			return portCommand(args[1:], env, stdout, stderr)
		case "agent":
			return runAgent(args[1:], env, stdout, stderr)
		}
	}
	cfg, err := parseConfig(args, env, stdout)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintln(stderr, "portenv:", err)
		return exitUsage
	}
	if cfg.version {
		fmt.Fprintln(stdout, "portenv", versionString())
		return exitOK
	}
	log := newLogger(stderr, cfg.LogLevel)

	ctx, stopped, release := stopOnSignal()
	defer release()
	s, err := prepare(ctx, cfg, env, log)
	if sig := stopped(); sig != 0 {
		// PID 1 has no default action for SIGTERM: without this, docker
		// stop during a wait would end in Go's exit status 2, the usage
		// code.
		log.Errorf("stopped by %s before the variables were ready; nothing was written or run", signalName(sig))
		return 128 + int(sig)
	}
	if err != nil && cfg.Optional {
		s, err = optional(cfg, env, log, err)
	}
	if err == nil {
		err = s.write(stdout, log)
	}
	if err != nil {
		log.Errorf("%v", err)
		return exitFailure
	}
	if len(cfg.command) == 0 {
		return exitOK
	}
	release()
	return execCommand(cfg.command, env.with(s.result.Set), log)
}

// optional goes on without the variables after discovery failed with
// err, under --optional.
func optional(cfg *config, env environ, log *logger, err error) (*session, error) {
	s, kept, err2 := withoutDiscovery(cfg, env, log)
	left := ""
	if len(kept) > 0 {
		left = ", leaving " + strings.Join(kept, ", ") + " as it was"
	}
	log.Warnf("%v; going on without the variables (--optional)%s", err, left)
	return s, err2
}

// write writes the outputs rendered: to stdout, or each to its file
// whole, atomically.
func (s *session) write(stdout io.Writer, log *logger) error {
	for _, r := range s.rendered {
		if r.path == "" {
			if _, err := stdout.Write(r.content); err != nil {
				return err
			}
			continue
		}
		if err := atomicfile.Write(r.path, r.content); err != nil {
			return err
		}
		log.Debugf("wrote %s", r.path)
	}
	return nil
}

// stopOnSignal gives a context that SIGTERM or SIGINT cancels, a function
// that tells which signal did (0 for none), and one that stops listening.
// The handler is set up only once the run has taken stopDelay, that is once
// it waits: setting it up costs a goroutine and a thread, about 0.4 ms, at
// every start that never waits.
func stopOnSignal() (context.Context, func() syscall.Signal, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan os.Signal, 1)
	got := make(chan syscall.Signal, 1)
	var mu sync.Mutex
	released := false
	timer := time.AfterFunc(stopDelay, func() {
		mu.Lock()
		defer mu.Unlock()
		if released {
			return
		}
		signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT)
		go func() {
			if sig, ok := <-ch; ok {
				got <- sig.(syscall.Signal)
				cancel()
			}
		}()
	})
	stopped := func() syscall.Signal {
		select {
		case sig := <-got:
			got <- sig
			return sig
		default:
			return 0
		}
	}
	release := sync.OnceFunc(func() {
		timer.Stop()
		mu.Lock()
		defer mu.Unlock()
		released = true
		signal.Stop(ch)
		close(ch)
		cancel()
	})
	return ctx, stopped, release
}

// stopDelay is longer than a run that needs no wait takes, and as long as
// the first wait between two tries.
const stopDelay = 25 * time.Millisecond

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGTERM:
		return "SIGTERM (docker stop)"
	case syscall.SIGINT:
		return "SIGINT"
	}
	return sig.String()
}
