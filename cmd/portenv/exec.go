package main

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
)

// execCommand replaces portenv with command, with environment env. It
// returns only when that cannot be done, with the exit code a shell gives
// for the same failure.
func execCommand(command []string, env environ, log *logger) int {
	path, err := lookPath(command[0], env)
	if err == nil {
		err = syscall.Exec(path, command, env)
	}
	switch {
	case strings.Contains(command[0], "/") && errors.Is(err, syscall.ENOENT):
		log.Errorf("%s: no such file in this container; check the path of the command, or give its name alone to search PATH", command[0])
		return exitNotFound
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, syscall.ENOENT):
		log.Errorf("%s: command not found (searched PATH=%s)", command[0], env.get("PATH"))
		return exitNotFound
	case errors.Is(err, syscall.E2BIG):
		log.Errorf("%s: cannot execute: its arguments and environment together are larger than Linux lets a command start with (argument list too long); pass fewer or shorter variables, or write them to a file with -o", command[0])
		return exitNotExecable
	default:
		log.Errorf("%s: cannot execute: %v", command[0], unwrapExec(err))
		return exitNotExecable
	}
}

// lookPath finds file on the PATH the command will get, as a shell does:
// the first executable match wins, a match that is not executable is
// reported only if no later one is, and an empty entry means ".".
func lookPath(file string, env environ) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path, ok := env.lookup("PATH")
	if !ok {
		path = defaultPath
	}
	var denied error
	for _, dir := range strings.Split(path, ":") {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + file
		var st syscall.Stat_t
		if syscall.Stat(p, &st) != nil || st.Mode&syscall.S_IFMT == syscall.S_IFDIR {
			continue
		}
		if err := syscall.Access(p, 1); err != nil {
			if denied == nil {
				denied = err
			}
			continue
		}
		return p, nil
	}
	if denied != nil {
		return "", denied
	}
	return "", exec.ErrNotFound
}

// maxEnvString is Linux's MAX_ARG_STRLEN: the most bytes one argument or
// one NAME=VALUE, with its closing NUL, can have in execve(2).
const maxEnvString = 32 * 4096

// defaultPath is what a shell searches when PATH is unset.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func unwrapExec(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}
