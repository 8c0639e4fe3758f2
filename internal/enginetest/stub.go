package enginetest

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// ServeUnix serves h on a new unix socket until the test ends, and returns
// the socket's path. It stands in for an engine in unit tests of error
// paths; engine tests prove the real thing. The path is kept short, as
// sun_path allows about 100 bytes and test names can be long.
func ServeUnix(t testing.TB, h http.Handler) string {
	t.Helper()
	return serveUnix(t, &http.Server{Handler: h})
}

func serveUnix(t testing.TB, srv *http.Server) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "pe")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "d.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return sock
}

// UseEngineAt points the Docker client's variables at the socket for the
// rest of the test.
func UseEngineAt(t testing.TB, sock string) {
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	t.Setenv("DOCKER_API_VERSION", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
}
