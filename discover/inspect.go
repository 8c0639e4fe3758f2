package discover

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/docker/docker/client"
)

// inspectResponse is the part of GET /containers/{id}/json that portenv
// reads. Decoding into it rather than the client's full InspectResponse
// spares a freshly started process most of encoding/json's per-type setup,
// a measurable share of portenv's run at every container start.
type inspectResponse struct {
	ID    string `json:"Id"`
	Name  string
	State *struct{ Running bool }

	Config *struct {
		Hostname     string
		Image        string
		Labels       map[string]string
		ExposedPorts map[string]struct{}
	}
	HostConfig *struct {
		NetworkMode  string
		PortBindings map[string][]portBinding
	}
	NetworkSettings *struct {
		Ports map[string][]portBinding
	}
}

type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

// inspectFast sends GET /containers/{ref}/json through the client's own
// HTTP client, address and negotiated version, and decodes what portenv
// reads. It returns the answer's status, 0 when none came; for anything but
// a well-formed 200 or a 404 the caller asks through the client, whose
// error mapping stays the one that explains failures. A version pinned by
// DOCKER_API_VERSION goes through the client too, as it may be refused.
func (e *Engine) inspectFast(ctx context.Context, ref string) (r inspectResponse, status int) {
	if e.Pinned || ref == "" || strings.ContainsAny(ref, "/?#") {
		return r, 0
	}
	resp, err := e.get(ctx, "/containers/"+ref+"/json")
	if err != nil {
		return r, 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && (json.NewDecoder(resp.Body).Decode(&r) != nil || r.ID == "") {
		return inspectResponse{}, 0
	}
	return r, resp.StatusCode
}

// errNoDirectRequest says that get does not speak the endpoint's scheme.
var errNoDirectRequest = errors.New("the address's scheme is not unix, npipe or tcp")

// get sends GET path, under the negotiated version, through the client's
// own HTTP client and address.
func (e *Engine) get(ctx context.Context, path string) (*http.Response, error) {
	u, err := client.ParseHostURL(e.Endpoint)
	if err != nil {
		return nil, errNoDirectRequest
	}
	scheme, host := "http", u.Host
	switch u.Scheme {
	case "unix", "npipe":
		host = client.DummyHost
	case "tcp":
		// The client speaks TLS exactly when DOCKER_CERT_PATH gave it a
		// certificate directory (client.FromEnv).
		if os.Getenv(client.EnvOverrideCertPath) != "" {
			scheme = "https"
		}
	default:
		return nil, errNoDirectRequest
	}
	target := &url.URL{Scheme: scheme, Host: host, Path: u.Path + "/v" + e.APIVersion + path}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target.String(), nil)
	if err != nil {
		return nil, err
	}
	return e.cli.HTTPClient().Do(req)
}
