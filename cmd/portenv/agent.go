package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/portenv/portenv/internal/agent"
)

// agentSettings are the agent's PORTENV_ variables.
type agentSettings struct {
	AgentDir string        `split_words:"true"`
	Timeout  time.Duration `default:"10s"`
	LogLevel string        `split_words:"true" default:"info"`
}

// runAgent is `portenv agent --dir DIR`: the host side of socketless mode.
// It runs until SIGTERM or SIGINT, then exits 0.
func runAgent(args []string, env environ, stdout, stderr io.Writer) int {
	var s agentSettings
	if err := readSettings(env, &s); err != nil {
		fmt.Fprintln(stderr, "portenv:", err)
		return exitUsage
	}
	var quiet, verbose bool
	fs := newFlagSet("portenv agent")
	fs.StringVar(&s.AgentDir, "dir", s.AgentDir, "write the records to `DIR`, one DIR/<container id>.json per container (PORTENV_AGENT_DIR)")
	fs.DurationVar(&s.Timeout, "timeout", s.Timeout, "how long to wait for the engine at start (a `DURATION` such as 10s); later the agent reconnects for as long as it runs (PORTENV_TIMEOUT)")
	fs.BoolVar(&quiet, "q", false, "log errors only (PORTENV_LOG_LEVEL=error)")
	fs.BoolVar(&verbose, "v", false, "log every record written (PORTENV_LOG_LEVEL=debug)")
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, `Usage:
  portenv agent --dir DIR

Keeps DIR/<container id>.json, the record of every container of the engine
(ids, names, labels, networks, published ports, state and start time; never
the environment), following the engine's events, for workloads that run
portenv --from DIR without the engine's socket. Needs the engine as portenv
does (the socket, or DOCKER_HOST); sends only GET and HEAD requests.

Flags:
`)
		printFlags(stdout, fs, 22, false)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "portenv: agent: %s (portenv agent --help lists the flags)\n", flagError(err, fs))
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "portenv: agent takes flags only (it was given %q); portenv agent --dir DIR\n", strings.Join(fs.Args(), " "))
		return exitUsage
	case s.AgentDir == "":
		fmt.Fprintln(stderr, "portenv: agent needs a directory to write the records to: portenv agent --dir DIR (or PORTENV_AGENT_DIR), a volume that the workloads mount read-only")
		return exitUsage
	case checkTimeout(s.Timeout, "timeout ") != nil:
		fmt.Fprintf(stderr, "portenv: agent: %v\n", checkTimeout(s.Timeout, "timeout "))
		return exitUsage
	}
	level, err := logLevel(quiet, verbose, s.LogLevel)
	if err != nil {
		fmt.Fprintln(stderr, "portenv:", err)
		return exitUsage
	}
	s.LogLevel = level
	log := newLogger(stderr, s.LogLevel)
	ctx, stopped, release := stopOnSignal()
	defer release()
	err = agent.Run(ctx, agent.Options{Dir: s.AgentDir, Wait: s.Timeout, Log: log, Getenv: env.get})
	if err != nil {
		log.Errorf("agent: %v", err)
		return exitFailure
	}
	if sig := stopped(); sig != 0 {
		log.Infof("agent stopped by %s", signalName(sig))
	}
	return exitOK
}
