package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
)

// request and result mirror bench/launcher's protocol.
type request struct {
	Path string
	Argv []string
	Env  []string
}

type result struct {
	WallNs          int64
	MaxRSSKiB       int64
	LauncherAnonKiB int64
	Status          int
	Stdout, Stderr  string
	Err             string
}

// launcher is a running `launcher serve`, on the host or in the container.
type launcher struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

func startLauncher(argv ...string) (*launcher, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	return &launcher{cmd: cmd, in: in, out: sc}, nil
}

func (l *launcher) run(req request) (result, error) {
	b, err := json.Marshal(req)
	if err != nil {
		return result{}, err
	}
	if _, err := l.in.Write(append(b, '\n')); err != nil {
		return result{}, fmt.Errorf("launcher: %v", err)
	}
	if !l.out.Scan() {
		if err := l.out.Err(); err != nil {
			return result{}, fmt.Errorf("launcher: %v", err)
		}
		return result{}, fmt.Errorf("launcher ended")
	}
	var res result
	if err := json.Unmarshal(l.out.Bytes(), &res); err != nil {
		return result{}, fmt.Errorf("launcher: %v", err)
	}
	if res.Err != "" {
		return res, fmt.Errorf("%s", res.Err)
	}
	return res, nil
}

func (l *launcher) stop() {
	l.in.Close()
	l.cmd.Wait()
}
