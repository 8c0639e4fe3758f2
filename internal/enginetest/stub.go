package enginetest

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// listenUnix serves srv on a socket in a new directory. The path is kept
// short, as sun_path allows about 100 bytes and test names can be long.
func listenUnix(srv *http.Server) (sock string, stop func(), err error) {
	l, dir, err := shortUnixListener()
	if err != nil {
		return "", nil, err
	}
	go srv.Serve(l)
	return l.Addr().String(), func() { srv.Close(); os.RemoveAll(dir) }, nil
}

// shortUnixListener listens on d.sock in a new directory under the system's
// temporary one, a path short enough for sun_path.
func shortUnixListener() (net.Listener, string, error) {
	dir, err := os.MkdirTemp("", "pe")
	if err != nil {
		return nil, "", err
	}
	l, err := net.Listen("unix", filepath.Join(dir, "d.sock"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, "", err
	}
	return l, dir, nil
}

// UseEngineAt points the Docker client's variables at the socket for the
// rest of the test.
func UseEngineAt(t testing.TB, sock string) {
	t.Setenv("DOCKER_HOST", "unix://"+sock)
	t.Setenv("DOCKER_API_VERSION", "")
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_CERT_PATH", "")
}

// ListenSilent listens on a new unix socket that accepts connections and
// never answers, as an engine that hangs does, until stop is called.
func ListenSilent() (sock string, stop func(), err error) {
	l, dir, err := shortUnixListener()
	if err != nil {
		return "", nil, err
	}
	sock = l.Addr().String()
	// Containers mount the socket and may run as any user.
	os.Chmod(dir, 0o755)
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	return sock, func() {
		l.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
		os.RemoveAll(dir)
	}, nil
}
