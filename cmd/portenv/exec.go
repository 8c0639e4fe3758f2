package main

import (
	"errors"
	"os/exec"
	"sort"
	"strings"
	"syscall"
)

// execCommand replaces portenv with command, its environment being
// portenv's plus set. It returns only when that cannot be done, with the
// exit code a shell gives for the same failure.
func execCommand(command, environ []string, set map[string]string, log *logger) int {
	env := mergeEnv(environ, set)
	path, err := lookPath(command[0], env)
	if err == nil {
		err = syscall.Exec(path, command, env)
	}
	switch {
	case errors.Is(err, exec.ErrNotFound), errors.Is(err, syscall.ENOENT):
		log.Errorf("%s: command not found (searched PATH=%s)", command[0], getenvFrom(env, "PATH"))
		return exitNotFound
	default:
		log.Errorf("%s: cannot execute: %v", command[0], unwrapExec(err))
		return exitNotExecable
	}
}

// lookPath finds file on the PATH the command will get, as a shell does:
// the first executable match wins, a match that is not executable is
// reported only if no later one is, and an empty entry means ".".
func lookPath(file string, env []string) (string, error) {
	if strings.Contains(file, "/") {
		return file, nil
	}
	path, ok := lookupFrom(env, "PATH")
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

// defaultPath is what a shell searches when PATH is unset.
const defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

func unwrapExec(err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}
	return err
}

// mergeEnv returns environ with the variables of set added, replacing
// entries of the same name, in a stable order.
func mergeEnv(environ []string, set map[string]string) []string {
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		k, _, _ := cutEnv(kv)
		if _, ok := set[k]; !ok {
			out = append(out, kv)
		}
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		out = append(out, k+"="+set[k])
	}
	return out
}

func getenvFrom(env []string, name string) string {
	v, _ := lookupFrom(env, name)
	return v
}

func lookupFrom(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := cutEnv(env[i]); k == name {
			return v, true
		}
	}
	return "", false
}
