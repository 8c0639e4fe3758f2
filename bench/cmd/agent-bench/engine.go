package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// engine drives the Docker Engine API over its unix socket, as the docker
// CLI would but without a process per request. The agent never uses it:
// it reaches the engine through the recording proxy.
type engine struct {
	hc      *http.Client
	version string // API version, "1.41"
}

func newEngine(sock string) *engine {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConnsPerHost: 32,
	}
	return &engine{hc: &http.Client{Transport: tr}}
}

// apiError is an answer other than the one expected.
type apiError struct {
	status int
	msg    string
}

func (e *apiError) Error() string { return fmt.Sprintf("%d: %s", e.status, e.msg) }

func statusOf(err error) int {
	if ae, ok := err.(*apiError); ok {
		return ae.status
	}
	return 0
}

// do sends a request to the versioned path and returns the response when
// its status is one of want; otherwise it reads the engine's message.
func (e *engine) do(ctx context.Context, method, path string, body io.Reader, contentType string, want ...int) (*http.Response, error) {
	if e.version != "" {
		path = "/v" + e.version + path
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://docker"+path, body)
	if err != nil {
		return nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return nil, err
	}
	for _, w := range want {
		if resp.StatusCode == w {
			return resp, nil
		}
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	var m struct{ Message string }
	if json.Unmarshal(data, &m) != nil || m.Message == "" {
		m.Message = strings.TrimSpace(string(data))
	}
	return nil, &apiError{status: resp.StatusCode, msg: m.Message}
}

// call sends a request with an optional JSON body and decodes a JSON
// answer into out, when out is not nil.
func (e *engine) call(ctx context.Context, method, path string, in, out any, want ...int) error {
	var body io.Reader
	ct := ""
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ct = bytes.NewReader(data), "application/json"
	}
	resp, err := e.do(ctx, method, path, body, ct, want...)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

type versionInfo struct {
	Version    string
	APIVersion string `json:"ApiVersion"`
	Os         string
	Arch       string
}

// negotiate asks the engine's version and uses its API version from then
// on.
func (e *engine) negotiate(ctx context.Context) (versionInfo, error) {
	var v versionInfo
	if err := e.call(ctx, "GET", "/version", nil, &v, http.StatusOK); err != nil {
		return v, err
	}
	e.version = v.APIVersion
	return v, nil
}

// importImage makes image ref from a root file system tar (POST
// /images/create?fromSrc=-, as docker import does).
func (e *engine) importImage(ctx context.Context, repo, tag string, tarball []byte) error {
	q := url.Values{"fromSrc": {"-"}, "repo": {repo}, "tag": {tag}}
	resp, err := e.do(ctx, "POST", "/images/create?"+q.Encode(), bytes.NewReader(tarball), "application/x-tar", http.StatusOK)
	if err != nil {
		return fmt.Errorf("importing the image: %w", err)
	}
	defer resp.Body.Close()
	// The answer is a stream of progress messages, an error among them
	// when the import failed.
	dec := json.NewDecoder(resp.Body)
	for {
		var m struct{ Error string }
		if err := dec.Decode(&m); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("importing the image: %v", err)
		}
		if m.Error != "" {
			return fmt.Errorf("importing the image: %s", m.Error)
		}
	}
}

func (e *engine) removeImage(ctx context.Context, ref string) error {
	return e.call(ctx, "DELETE", "/images/"+ref+"?force=1", nil, nil, http.StatusOK)
}

// createSpec is the body of POST /containers/create, as far as the
// benchmark uses it.
type createSpec struct {
	Image        string
	Cmd          []string
	Env          []string
	Labels       map[string]string
	ExposedPorts map[string]struct{}
	HostConfig   hostConfig
}

type hostConfig struct {
	PortBindings  map[string][]portBinding
	RestartPolicy restartPolicy
}

type restartPolicy struct {
	Name string
}

type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string
}

func (e *engine) create(ctx context.Context, name string, spec *createSpec) (string, error) {
	var out struct {
		ID string `json:"Id"`
	}
	err := e.call(ctx, "POST", "/containers/create?name="+url.QueryEscape(name), spec, &out, http.StatusCreated)
	return out.ID, err
}

func (e *engine) start(ctx context.Context, id string) error {
	return e.call(ctx, "POST", "/containers/"+id+"/start", nil, nil, http.StatusNoContent, http.StatusNotModified)
}

// restart is docker restart -t 0: the containers' processes ignore
// SIGTERM, and are killed at once.
func (e *engine) restart(ctx context.Context, id string) error {
	return e.call(ctx, "POST", "/containers/"+id+"/restart?t=0", nil, nil, http.StatusNoContent)
}

// remove is docker rm -f -v.
func (e *engine) remove(ctx context.Context, id string) error {
	return e.call(ctx, "DELETE", "/containers/"+id+"?force=1&v=1", nil, nil, http.StatusNoContent, http.StatusNotFound)
}

// inspection is what the benchmark compares of a container with its
// record: the engine's own words, read independently of portenv's code.
type inspection struct {
	ID    string `json:"Id"`
	Name  string
	State struct {
		Status    string
		Paused    bool
		StartedAt string
	}
	NetworkSettings struct {
		Ports map[string][]portBinding
	}
}

// inspect returns the container, or nil when the engine has none by id.
func (e *engine) inspect(ctx context.Context, id string) (*inspection, error) {
	var in inspection
	err := e.call(ctx, "GET", "/containers/"+id+"/json", nil, &in, http.StatusOK)
	if statusOf(unwrapAPI(err)) == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &in, nil
}

func unwrapAPI(err error) error {
	for err != nil {
		if _, ok := err.(*apiError); ok {
			return err
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
	return nil
}

// listed is one container of GET /containers/json.
type listed struct {
	ID    string `json:"Id"`
	State string
}

// list lists the containers with label (key=value), stopped ones too when
// all is set.
func (e *engine) list(ctx context.Context, label string, all bool) ([]listed, error) {
	q := url.Values{}
	if label != "" {
		f, _ := json.Marshal(map[string][]string{"label": {label}})
		q.Set("filters", string(f))
	}
	if all {
		q.Set("all", "1")
	}
	var out []listed
	err := e.call(ctx, "GET", "/containers/json?"+q.Encode(), nil, &out, http.StatusOK)
	return out, err
}

// event is one message of GET /events.
type event struct {
	Type   string
	Action string
	Actor  struct {
		ID         string
		Attributes map[string]string
	}
	TimeNano int64 `json:"timeNano"`
}

// events streams the engine's container and network events from since
// until ctx ends; the channel closes when the stream does, and err then
// tells why.
func (e *engine) events(ctx context.Context, since time.Time) (<-chan event, func() error, error) {
	f, _ := json.Marshal(map[string][]string{"type": {"container", "network"}})
	q := url.Values{"filters": {string(f)}, "since": {fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond())}}
	resp, err := e.do(ctx, "GET", "/events?"+q.Encode(), nil, "", http.StatusOK)
	if err != nil {
		return nil, nil, fmt.Errorf("GET /events: %w", err)
	}
	out := make(chan event, 4096)
	var streamErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(out)
		defer resp.Body.Close()
		dec := json.NewDecoder(bufio.NewReader(resp.Body))
		for {
			var ev event
			if err := dec.Decode(&ev); err != nil {
				if ctx.Err() == nil {
					streamErr = err
				}
				return
			}
			out <- ev
		}
	}()
	return out, func() error { <-done; return streamErr }, nil
}
