// Command podself runs in a pod of the test cluster that .ci/k8s.sh runs
// and reads from the Kubernetes API, as the pod's service account, either
// its own Pod or the API path given as its argument ("namespaces/NS/..."
// under /api/v1, NS standing for the pod's namespace), and prints the body.
// Static and without DNS, so that it runs in an image of busybox alone.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

const saDir = "/var/run/secrets/kubernetes.io/serviceaccount/"

func main() {
	body, err := get(saDir, os.Getenv, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "podself:", err)
		os.Exit(1)
	}
	os.Stdout.Write(body)
	fmt.Println()
}

// get reads the service account's files from dir (ending in "/") and the
// API's address from the environment that getenv reads.
func get(dir string, getenv func(string) string, args []string) ([]byte, error) {
	token, err := os.ReadFile(dir + "token")
	if err != nil {
		return nil, fmt.Errorf("no service account token (automountServiceAccountToken off?): %v", err)
	}
	ns, err := os.ReadFile(dir + "namespace")
	if err != nil {
		return nil, fmt.Errorf("no service account namespace: %v", err)
	}
	caPEM, err := os.ReadFile(dir + "ca.crt")
	if err != nil {
		return nil, fmt.Errorf("no service account CA: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("%sca.crt holds no PEM certificate", dir)
	}
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("KUBERNETES_SERVICE_HOST or _PORT not set: not in a pod?")
	}
	path := "namespaces/NS/pods/" + getenv("HOSTNAME")
	if len(args) > 0 {
		path = args[0]
	}
	url := "https://" + net.JoinHostPort(host, port) + "/api/v1/" + strings.ReplaceAll(path, "NS", string(ns))
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: reading the answer: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
