package main

import (
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// apiServer answers like the API: the body for the bearer token "tok" and
// the path it was asked, 403 for anything under /secrets.
func apiServer(t *testing.T) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		if strings.HasSuffix(r.URL.Path, "/secrets") {
			http.Error(w, `{"reason":"Forbidden"}`, http.StatusForbidden)
			return
		}
		w.Write([]byte(`{"path":"` + r.URL.Path + `"}`))
	}))
	t.Cleanup(srv.Close)
	dir := t.TempDir() + "/"
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	for name, data := range map[string][]byte{"token": []byte("tok\n"), "namespace": []byte("smoke"), "ca.crt": ca} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return srv, dir
}

func TestGet(t *testing.T) {
	srv, dir := apiServer(t)
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(srv.URL, "https://"))
	env := map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port, "HOSTNAME": "self"}
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, `{"path":"/api/v1/namespaces/smoke/pods/self"}`},
		{[]string{"namespaces/NS/services"}, `{"path":"/api/v1/namespaces/smoke/services"}`},
	} {
		body, err := get(dir, func(k string) string { return env[k] }, c.args)
		if err != nil || string(body) != c.want {
			t.Errorf("get(%q) = %q, %v; want %q", c.args, body, err, c.want)
		}
	}
	_, err := get(dir, func(k string) string { return env[k] }, []string{"namespaces/NS/secrets"})
	if err == nil || !strings.Contains(err.Error(), "403 Forbidden") {
		t.Errorf("get(secrets) error = %v; want one naming 403 Forbidden", err)
	}
}

func TestGetOutsideAPod(t *testing.T) {
	_, err := get(t.TempDir()+"/", func(string) string { return "" }, nil)
	if err == nil || !strings.Contains(err.Error(), "no service account token") {
		t.Errorf("error = %v; want one saying there is no service account token", err)
	}
}
