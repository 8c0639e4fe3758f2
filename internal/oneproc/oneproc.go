// Package oneproc runs portenv on one OS thread's worth of Go scheduling.
// portenv does a few sequential requests and then execs: more processors
// only add threads to start and garbage collection to coordinate, which
// costs time at every container start. Setting it here, rather than
// through GOMAXPROCS in the environment, keeps the command portenv execs
// from inheriting it. Imported for its effect by the main package, whose
// other imports it does not wait for.
package oneproc

import "runtime"

func init() { runtime.GOMAXPROCS(1) }
