package discover

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

// DefaultServiceAccountDir is where the kubelet mounts a pod's service
// account: its token, the cluster's CA and the pod's namespace.
const DefaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

// Kube is the path to the Kubernetes API from inside a pod, as the pod's
// service account. It goes over the same narrow HTTP path as the engine.
type Kube struct {
	api *api
	// Endpoint is the API server's host:port, from KUBERNETES_SERVICE_HOST
	// and KUBERNETES_SERVICE_PORT.
	Endpoint string
	// Namespace is the pod's own, from the service account's namespace
	// file; "" when the mount has none.
	Namespace string

	dir   string
	token *tokenFile
}

// ErrKubeNotFound is matched (errors.Is) by the error of a request for a
// pod or node the API does not know.
var ErrKubeNotFound = errors.New("not found on the Kubernetes API")

// KubeError is a request to the Kubernetes API that failed: its one line
// for the user, and the status the API answered.
type KubeError struct {
	// Status is the HTTP status of the answer, or 0 when none came.
	Status int
	msg    string
	retry  bool
}

func (e *KubeError) Error() string { return e.msg }

// Is makes a 404 match ErrKubeNotFound.
func (e *KubeError) Is(target error) bool {
	return target == ErrKubeNotFound && e.Status == statusNotFound
}

// Temporary reports whether the same request may succeed later: no
// answer came (other than a TLS failure), or the API server answered that
// it is busy or restarting.
func (e *KubeError) Temporary() bool { return e.retry }

// InCluster reports whether the environment is a pod's: the kubelet sets
// KUBERNETES_SERVICE_HOST in every container.
func InCluster(getenv func(string) string) bool {
	return getenv("KUBERNETES_SERVICE_HOST") != ""
}

// ConnectKube sets up the path to the API server that
// KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT name, as the
// service account mounted in dir (DefaultServiceAccountDir in a pod).
// It reads the token and the CA, and sends nothing. The API server is
// reached directly: its address is the cluster's own service.
func ConnectKube(getenv func(string) string, dir string) (*Kube, error) {
	host, port := getenv("KUBERNETES_SERVICE_HOST"), getenv("KUBERNETES_SERVICE_PORT")
	if host == "" || port == "" {
		return nil, fmt.Errorf("KUBERNETES_SERVICE_HOST=%q and KUBERNETES_SERVICE_PORT=%q: portenv finds the Kubernetes API through both, which the kubelet sets in every container of a pod; is portenv running in a pod?", host, port)
	}
	if !digits(port) || len(port) > 5 {
		return nil, fmt.Errorf("KUBERNETES_SERVICE_PORT=%q is not a port number; the kubelet sets it to the API server's port, such as 443", port)
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	k := &Kube{Endpoint: net.JoinHostPort(host, port), dir: dir, token: &tokenFile{path: filepath.Join(dir, "token")}}
	if _, err := k.token.get(); err != nil {
		return nil, err
	}
	ca := filepath.Join(dir, "ca.crt")
	pem, err := os.ReadFile(ca)
	if err != nil {
		return nil, fmt.Errorf("the cluster's CA %s cannot be read (%s); portenv checks the API server's certificate against it: mount the pod's service account token (automountServiceAccountToken: true)", ca, fileProblem(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("the cluster's CA %s holds no certificate in PEM; it must be the service account's ca.crt, as the kubelet mounts it", ca)
	}
	if ns, err := os.ReadFile(filepath.Join(dir, "namespace")); err == nil {
		k.Namespace = strings.TrimSpace(string(ns))
	}
	k.api = &api{
		addr: k.Endpoint,
		// No client certificate: the token says who portenv is. The
		// server name is the address, which the API server's
		// certificate names for in-cluster clients.
		tls:    &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, ServerName: host},
		header: k.header,
	}
	return k, nil
}

// header is each request's Authorization, with the token as it is now.
func (k *Kube) header() (string, error) {
	tok, err := k.token.get()
	if err != nil {
		return "", err
	}
	return "Authorization: Bearer " + tok + "\r\nAccept: application/json\r\n", nil
}

// Close releases the kept-alive connection.
func (k *Kube) Close() { k.api.close() }

// Pod reads the pod name in namespace.
func (k *Kube) Pod(ctx context.Context, namespace, name string) (*Pod, error) {
	return kubeGet[Pod](ctx, k, kubeRequest{verb: "get", resource: "pods", namespace: namespace, name: name})
}

// Services lists the Services of namespace.
func (k *Kube) Services(ctx context.Context, namespace string) (*ServiceList, error) {
	return kubeGet[ServiceList](ctx, k, kubeRequest{verb: "list", resource: "services", namespace: namespace})
}

// Node reads the node name.
func (k *Kube) Node(ctx context.Context, name string) (*Node, error) {
	return kubeGet[Node](ctx, k, kubeRequest{verb: "get", resource: "nodes", name: name})
}

func kubeGet[T any](ctx context.Context, k *Kube, req kubeRequest) (*T, error) {
	var v T
	if err := k.get(ctx, req, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// kubeRequest is one read of the core API: what RBAC calls its verb and
// resource, and the object it names.
type kubeRequest struct {
	verb, resource, namespace, name string
}

func (r kubeRequest) path() string {
	p := "/api/v1/"
	if r.namespace != "" {
		p += "namespaces/" + url.PathEscape(r.namespace) + "/"
	}
	p += r.resource
	if r.name != "" {
		p += "/" + url.PathEscape(r.name)
	}
	return p
}

func (k *Kube) get(ctx context.Context, r kubeRequest, into any) error {
	resp, err := k.api.send(ctx, "GET", "", r.path())
	var te *tokenError
	switch {
	case errors.As(err, &te):
		return &KubeError{msg: te.msg}
	case err != nil:
		return k.reachError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != statusOK {
		se := answerError(resp)
		// Read to its end: the connection is free for /readyz.
		_, _ = io.Copy(io.Discard, resp.Body)
		e := k.statusError(r, se)
		if se.status == statusForbidden && !k.ready(ctx) {
			e.retry = true
			e.msg += "; the API server was not ready yet (GET /readyz), so its refusal may not be its last word"
		}
		return e
	}
	if err := decodeJSON(resp.Body, into); err != nil {
		return &KubeError{Status: resp.StatusCode, msg: fmt.Sprintf("the Kubernetes API at %s answered GET %s with something portenv cannot read: %v; is %s the API server?", k.Endpoint, r.path(), err, k.Endpoint)}
	}
	return nil
}

// ready reports whether the API server says it is ready (GET /readyz,
// which every authenticated user may read). One that has just started
// serves before its authorizer has read the Roles, and refuses everything
// until then: its 403 is asked again, within the timeout. A server
// without /readyz (404) counts as ready.
func (k *Kube) ready(ctx context.Context) bool {
	resp, err := k.api.send(ctx, "GET", "", "/readyz")
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode == statusOK || resp.StatusCode == statusNotFound
}

// statusError says what an answer other than 200 means for the user:
// for 401 and 403, who was refused and what would let them.
func (k *Kube) statusError(r kubeRequest, se *statusError) *KubeError {
	e := &KubeError{Status: se.status, retry: transient(se.status)}
	what := r.verb + " " + r.resource
	if r.namespace != "" {
		what += fmt.Sprintf(" in namespace %q", r.namespace)
	}
	who := k.account(se.msg)
	switch se.status {
	case statusUnauthorized:
		e.msg = fmt.Sprintf("the Kubernetes API at %s did not accept the token of %s to %s (%s); the token in %s may have expired or belong to another cluster: check that the pod mounts its service account token (automountServiceAccountToken) and that the service account exists",
			k.Endpoint, who, what, se.line, filepath.Join(k.dir, "token"))
	case statusForbidden:
		role := "its Role"
		if r.namespace == "" {
			role = "a ClusterRole bound to it (nodes belong to no namespace)"
		}
		e.msg = fmt.Sprintf("%s may not %s (%s); add to %s: {apiGroups: [\"\"], resources: [%q], verbs: [%q]}",
			who, what, se.line, role, r.resource, r.verb)
	case statusNotFound:
		e.msg = fmt.Sprintf("the Kubernetes API at %s knows no %s (GET %s answered %s)", k.Endpoint, r.object(), r.path(), se.line)
	default:
		e.msg = fmt.Sprintf("GET %s at the Kubernetes API at %s failed: %s (%s)", r.path(), k.Endpoint, se.line, truncate(strings.Join(strings.Fields(se.msg), " "), 160))
	}
	return e
}

// object names what r reads: pod "shop/kafka-0", node "node-a".
func (r kubeRequest) object() string {
	name := r.name
	if r.namespace != "" {
		name = r.namespace + "/" + name
	}
	return fmt.Sprintf("%s %q", strings.TrimSuffix(r.resource, "s"), name)
}

// account names who the API server refused: the user its answer names,
// else the subject of the token (read, not verified), else the pod's
// service account in general.
func (k *Kube) account(answer string) string {
	user := ""
	if _, rest, ok := strings.Cut(answer, `User "`); ok {
		user, _, _ = strings.Cut(rest, `"`)
	}
	if user == "" {
		if tok, err := k.token.get(); err == nil {
			user = tokenSubject(tok)
		}
	}
	if sa, ok := strings.CutPrefix(user, "system:serviceaccount:"); ok {
		return fmt.Sprintf("the service account %q", sa)
	}
	if user != "" {
		return fmt.Sprintf("the user %q", user)
	}
	return "the pod's service account"
}

// tokenSubject is the sub claim of a JWT, or "".
func tokenSubject(tok string) string { return readClaims(tok).Sub }

// claims are the parts of a service account token portenv reads. Read,
// not verified: the token is the one the kubelet mounted into this pod,
// and the API server verifies it at every request.
type claims struct {
	Sub string `json:"sub"`
	// Kubernetes names the pod a bound token (projected by the kubelet,
	// the default since Kubernetes 1.22) was issued for.
	Kubernetes struct {
		Pod struct{ Name, UID string } `json:"pod"`
	} `json:"kubernetes.io"`
}

// readClaims decodes the payload of JWT tok, or gives none.
func readClaims(tok string) claims {
	var c claims
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return c
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err == nil && json.Unmarshal(payload, &c) != nil {
		c = claims{}
	}
	return c
}

// boundPod is the name and uid of the pod the service account token
// mounted here is bound to, or "" for a token that names none.
func (k *Kube) boundPod() (name, uid string) {
	tok, err := k.token.get()
	if err != nil {
		return "", ""
	}
	p := readClaims(tok).Kubernetes.Pod
	return p.Name, p.UID
}

// reachError says why no answer came, and what to check.
func (k *Kube) reachError(ctx context.Context, err error) *KubeError {
	var ve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var re tls.RecordHeaderError
	var nh *notHTTPError
	ca := filepath.Join(k.dir, "ca.crt")
	why, check, retry := "", "check that a NetworkPolicy or firewall lets the pod reach the API server", true
	switch {
	case ctx.Err() != nil:
		why = "it did not answer before the timeout"
	case errors.As(err, &ua), errors.As(err, &ve) && errors.As(ve.Err, &ua):
		why, check, retry = "its TLS certificate is not signed by the cluster's CA in "+ca, "check that "+ca+" is this cluster's and that nothing between the pod and the API server answers in its place", false
	case errors.As(err, &he), errors.As(err, &ve) && errors.As(ve.Err, &he):
		why, check, retry = "its TLS certificate is not for "+he.Host, "KUBERNETES_SERVICE_HOST must be the address of the kubernetes Service, which the API server's certificate names", false
	case errors.As(err, &ve):
		why, check, retry = "its TLS certificate cannot be verified ("+truncate(ve.Err.Error(), 120)+")", "check the API server's certificate and "+ca, false
	case errors.As(err, &re), errors.As(err, &nh):
		why, check, retry = "it does not speak TLS", "KUBERNETES_SERVICE_PORT must be the API server's TLS port, as the kubelet sets it", false
	case permanent(err):
		why, check, retry = "the TLS handshake failed ("+truncate(oneLine(err), 120)+")", "check the API server's TLS settings and "+ca, false
	default:
		why = dialProblem(err)
	}
	return &KubeError{retry: retry, msg: fmt.Sprintf("cannot reach the Kubernetes API at %s (KUBERNETES_SERVICE_HOST:KUBERNETES_SERVICE_PORT): %s; %s", k.Endpoint, why, check)}
}

// tokenFile is the service account's token, read again whenever the file
// changes: the kubelet replaces it (an atomic swap of a symlinked
// directory) well before it expires, and a token read once would be
// refused an hour or a year later.
type tokenFile struct {
	path string

	mu    sync.Mutex
	info  os.FileInfo // of the file the value was read from
	value string
	reads int // how often the file was read, for the tests
}

// get returns the token, reading the file only when it is another file or
// was written since: one stat per request.
func (t *tokenFile) get() (string, error) {
	fi, err := os.Stat(t.path)
	if err != nil {
		return "", t.error(fileProblem(err))
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.info != nil && os.SameFile(t.info, fi) && fi.ModTime().Equal(t.info.ModTime()) && fi.Size() == t.info.Size() {
		return t.value, nil
	}
	b, err := os.ReadFile(t.path)
	if err != nil {
		return "", t.error(fileProblem(err))
	}
	t.reads++
	v := strings.TrimSpace(string(b))
	switch {
	case v == "":
		return "", t.error("it is empty")
	case strings.ContainsAny(v, " \t\r\n"):
		return "", t.error("it holds more than one word")
	}
	// The value read may be newer than fi; the next stat then differs,
	// and the file is read again.
	t.info, t.value = fi, v
	return v, nil
}

// tokenError is a token file that cannot be used.
type tokenError struct{ msg string }

func (e *tokenError) Error() string { return e.msg }

func (t *tokenFile) error(why string) error {
	return &tokenError{fmt.Sprintf("the service account token %s cannot be used (%s); portenv asks the Kubernetes API with it: mount the pod's service account token (automountServiceAccountToken: true)", t.path, why)}
}

// fileProblem says why a file could not be read, in a user's words.
func fileProblem(err error) string {
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "it does not exist"
	case errors.Is(err, os.ErrPermission), errors.Is(err, syscall.EACCES):
		return fmt.Sprintf("user %d may not read it", os.Getuid())
	}
	return truncate(oneLine(err), 120)
}
