package discover

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
)

// A failed connection's cause is said in a user's words where it is a
// common one, however the client wrapped it.
func TestDialProblem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("error during connect: %w", &net.OpError{Op: "dial", Err: &net.DNSError{Name: "docker-proxy", Err: "no such host", IsNotFound: true}}), "the name docker-proxy does not resolve"},
		{&net.DNSError{Name: "engine", Err: "server misbehaving", IsTemporary: true}, "the name engine could not be looked up"},
		{fmt.Errorf("dial: %w", syscall.ECONNREFUSED), "connection refused: nothing listens at that address"},
		{fmt.Errorf("dial: %w", syscall.EHOSTUNREACH), "no route to that address"},
		{errors.New("Cannot connect to the Docker daemon at tcp://127.0.0.1:1.\nIs the docker daemon running?"), "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?"},
	} {
		if got := dialProblem(tc.err); got != tc.want {
			t.Errorf("dialProblem(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
