package main

import (
	"sort"
	"strings"
)

// environ is portenv's environment as execve(2) passes it: NAME=VALUE
// entries; of two entries with one name, the later wins.
type environ []string

func (e environ) lookup(name string) (string, bool) {
	for i := len(e) - 1; i >= 0; i-- {
		if kv := e[i]; len(kv) > len(name) && kv[len(name)] == '=' && kv[:len(name)] == name {
			return kv[len(name)+1:], true
		}
	}
	return "", false
}

func (e environ) get(name string) string {
	v, _ := e.lookup(name)
	return v
}

// with returns the environment with the variables of set added, replacing
// entries of the same name, in a stable order.
func (e environ) with(set map[string]string) environ {
	out := make(environ, 0, len(e)+len(set))
	for _, kv := range e {
		k, _, _ := strings.Cut(kv, "=")
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
