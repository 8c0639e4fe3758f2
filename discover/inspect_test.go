package discover

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// Over tcp:// with DOCKER_CERT_PATH the client speaks TLS; the direct
// inspection must too, or it would fall back to a second request.
func TestInspectOverTLS(t *testing.T) {
	f := &enginetest.Fake{Containers: map[string]any{
		"app": inspectJSON(idA, "app", "app", map[string][]map[string]string{"9092/tcp": {{"HostIp": "0.0.0.0", "HostPort": "32769"}}}),
	}}
	srv := httptest.NewTLSServer(f)
	defer srv.Close()

	dir := t.TempDir()
	writePEM(t, filepath.Join(dir, "ca.pem"), "CERTIFICATE", srv.Certificate().Raw)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "cert.pem"), "CERTIFICATE", der)
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "key.pem"), "EC PRIVATE KEY", keyDER)

	t.Setenv("DOCKER_HOST", "tcp://"+strings.TrimPrefix(srv.URL, "https://"))
	t.Setenv("DOCKER_CERT_PATH", dir)
	t.Setenv("DOCKER_TLS_VERIFY", "")
	t.Setenv("DOCKER_API_VERSION", "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	e, err := Connect(ctx, os.Getenv, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.Inspect(ctx, "app")
	if err != nil {
		t.Fatal(err)
	}
	if c.ID != idA || len(c.Ports) != 1 || c.Ports[0].HostPort != 32769 {
		t.Errorf("got %+v", c)
	}
	if want := []string{"HEAD /_ping", "GET /containers/app/json"}; !reflect.DeepEqual(f.Requests(), want) {
		t.Errorf("requests %q, want %q", f.Requests(), want)
	}
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// A container the engine does not know costs one request.
func TestInspectNotFoundIsOneRequest(t *testing.T) {
	f := fake(t, &enginetest.Fake{})
	e, ctx := connect(t)
	_, err := e.Inspect(ctx, "ghost")
	if _, ok := err.(*NotFoundError); !ok {
		t.Fatalf("got %v, want NotFoundError", err)
	}
	if want := []string{"HEAD /_ping", "GET /containers/ghost/json"}; !reflect.DeepEqual(f.Requests(), want) {
		t.Errorf("requests %q, want %q", f.Requests(), want)
	}
}

// The ping and the inspection of every start share one connection.
func TestPingAndInspectShareOneConnection(t *testing.T) {
	f := fake(t, &enginetest.Fake{Containers: map[string]any{"app": inspectJSON(idA, "app", "app", nil)}})
	e, ctx := connect(t)
	if _, err := e.Inspect(ctx, "app"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"HEAD /_ping", "GET /containers/app/json"}; !reflect.DeepEqual(f.Requests(), want) {
		t.Errorf("requests %q, want %q", f.Requests(), want)
	}
	if n := f.Connections(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}
