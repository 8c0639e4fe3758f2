// Package kubetest serves a fake Kubernetes API server over TLS, with a
// service account directory as the kubelet mounts one, for the tests of
// the commands that read a pod from the cluster.
package kubetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Fake answers each request path with a route: "STATUS FILE", FILE read
// from Dir, or several such answers separated by " | ", given in turn and
// the last one repeated. A path without a route is answered 404.
type Fake struct {
	Routes map[string]string
	Dir    string

	srv      *httptest.Server
	mu       sync.Mutex
	requests []string
	asked    map[string]int
}

// Start serves f on 127.0.0.1 and writes a service account for namespace
// into saDir: the token, the CA that signed the server's certificate,
// and the namespace.
func (f *Fake) Start(saDir, namespace string) error {
	cert, caPEM, err := SelfSigned("127.0.0.1")
	if err != nil {
		return err
	}
	for name, content := range map[string][]byte{
		"token":     []byte("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDprYWZrYSJ9.c2ln\n"),
		"ca.crt":    caPEM,
		"namespace": []byte(namespace),
	} {
		if err := os.WriteFile(filepath.Join(saDir, name), content, 0o644); err != nil {
			return err
		}
	}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.srv.StartTLS()
	return nil
}

// Close stops the server.
func (f *Fake) Close() { f.srv.Close() }

// Env is the environment the kubelet gives a pod of this cluster.
func (f *Fake) Env() map[string]string {
	host, port, _ := net.SplitHostPort(f.srv.Listener.Addr().String())
	return map[string]string{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
}

// Requests lists the requests so far, as "GET /api/v1/...".
func (f *Fake) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	if f.asked == nil {
		f.asked = map[string]int{}
	}
	n := f.asked[r.URL.Path]
	f.asked[r.URL.Path]++
	f.mu.Unlock()
	route, ok := f.Routes[r.URL.Path]
	if !ok {
		route = `404 {"kind":"Status","status":"Failure","message":"not found","reason":"NotFound","code":404}`
	}
	turns := strings.Split(route, " | ")
	status, file, _ := strings.Cut(turns[min(n, len(turns)-1)], " ")
	code := map[string]int{"200": 200, "401": 401, "403": 403, "404": 404, "503": 503}[status]
	body := []byte(file)
	if strings.HasSuffix(file, ".json") {
		b, err := os.ReadFile(filepath.Join(f.Dir, file))
		if err != nil {
			code, body = 500, []byte(err.Error())
		} else {
			body = b
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(body)
}

// SelfSigned is a certificate for ips (and kubernetes.default.svc) that is
// its own CA, as an API server's certificate is for its cluster's CA in
// the tests, and that CA in PEM.
func SelfSigned(ips ...string) (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"kubernetes.default.svc"},
	}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}
