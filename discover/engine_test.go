package discover

import (
	"errors"
	"fmt"
	"net"
	"testing"
)

// A failed name lookup is said in a user's words, however the client
// wrapped it; the client's own words stay.
func TestDialProblem(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("error during connect: %w", &net.OpError{Op: "dial", Err: &net.DNSError{Name: "docker-proxy", Err: "no such host", IsNotFound: true}}), "the name docker-proxy does not resolve"},
		{&net.DNSError{Name: "engine", Err: "server misbehaving", IsTemporary: true}, "the name engine could not be looked up"},
		{errors.New("Cannot connect to the Docker daemon at tcp://127.0.0.1:1.\nIs the docker daemon running?"), "Cannot connect to the Docker daemon at tcp://127.0.0.1:1. Is the docker daemon running?"},
	} {
		if got := dialProblem(tc.err); got != tc.want {
			t.Errorf("dialProblem(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
