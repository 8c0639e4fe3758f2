package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portenv/portenv/internal/enginetest"
)

// A CA, and certificates it signs, in PEM files.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue writes ca.pem, cert.pem and key.pem into dir: a certificate for
// the engine at ip (server) or for its client.
func (ca *testCA) issue(t *testing.T, dir string, server bool, ip string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "portenv-e2e"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP(ip)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"ca.pem":   ca.pem,
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// An engine that listens on tcp:// with TLS and verifies its clients, as
// `dockerd --tlsverify` does: portenv on the host reads a container of it
// with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, and gets what the docker CLI
// says. A CA that did not sign the engine's certificate, and plain HTTP to
// the TLS port, are each one line at once.
func TestEngineTLS(t *testing.T) {
	enginetest.Require(t)
	image := enginetest.BuildImage(t)
	dir := t.TempDir()
	ca := newCA(t, "portenv-e2e-ca")
	// The engine's address is the far end of the worker's veth pair,
	// known once it exists; its certificate names it.
	hostIP, ip := vethSubnet(t)
	server, client := filepath.Join(dir, "server"), filepath.Join(dir, "client")
	ca.issue(t, server, true, ip)
	ca.issue(t, client, false, "")
	w := startWorkerAt(t, hostIP, ip, "--tlsverify", "--tlscacert", filepath.Join(server, "ca.pem"),
		"--tlscert", filepath.Join(server, "cert.pem"), "--tlskey", filepath.Join(server, "key.pem"),
		"-H", "tcp://"+ip+":2376")
	copyImage(t, image, w.host)
	name := enginetest.Name(t, "tls")
	w.docker(t, "run", "-d", "--name", name, "-p", "9092", image, "sleep", "600")
	t.Cleanup(func() { exec.Command("docker", "-H", w.host, "rm", "-f", name).Run() })
	_, hostPort := dockerPort(t, name, "9092/tcp", "-H", w.host)

	portenv := func(env ...string) (string, string, error) {
		cmd := exec.Command(enginetest.Binary(t), "--timeout", "20s", "--container", name, "--format", "dotenv")
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "DOCKER_HOST=tcp://" + ip + ":2376"}, env...)
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		return out.String(), errOut.String(), err
	}
	out, errOut, err := portenv("DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+client)
	if err != nil || !strings.Contains(out, "HOST_PORT_9092="+hostPort+"\n") {
		t.Errorf("over TLS: %v, stdout %q, stderr %q; want HOST_PORT_9092=%s", err, out, errOut, hostPort)
	}

	other := filepath.Join(dir, "other")
	newCA(t, "another-ca").issue(t, other, false, "")
	_, errOut, err = portenv("DOCKER_TLS_VERIFY=1", "DOCKER_CERT_PATH="+other)
	want := "portenv: cannot talk to the engine at tcp://" + ip + ":2376: its TLS certificate is not signed by the ca.pem in DOCKER_CERT_PATH; put the engine's CA there, or unset DOCKER_TLS_VERIFY to skip the check\n"
	if err == nil || errOut != want {
		t.Errorf("with another CA: %v, stderr\n got %q\nwant %q", err, errOut, want)
	}

	_, errOut, err = portenv()
	want = "portenv: tcp://" + ip + ":2376 answered GET /_ping with 400 Bad Request (Client sent an HTTP request to an HTTPS server.), which no Docker engine does; check that DOCKER_HOST is the engine's address (or a socket proxy's that allows /_ping)\n"
	if err == nil || errOut != want {
		t.Errorf("plain HTTP to the TLS port: %v, stderr\n got %q\nwant %q", err, errOut, want)
	}
	t.Logf("portenv over TLS to dockerd --tlsverify at %s:2376 read 9092/tcp -> %s, as docker -H says", ip, hostPort)
}
