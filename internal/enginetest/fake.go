package enginetest

import (
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Fake answers the Engine API from tables, over a unix socket, and records
// the requests. It produces what a real engine here cannot (a refused API
// version, malformed answers, a Swarm worker's refusal) for unit tests of
// error paths; the engine tests prove the real thing.
//
// A Fake also reads from JSON, for the CLI's test scripts: {"maxAPI":
// "1.43", "containers": {"app": {...}}, "raw": {"/info": {"status": 500,
// "body": "..."}}}.
type Fake struct {
	// MinAPI and MaxAPI are the versions the fake accepts; a request for
	// an older one is refused as an engine refuses it. Defaults 1.24 and
	// 1.41.
	MinAPI string `json:"minAPI"`
	MaxAPI string `json:"maxAPI"`
	// Containers answer GET /containers/{ref}/json, by id or name;
	// Services GET /services/{id}; Info GET /info. A value is encoded as
	// JSON; an Answer is sent as it is; a func() any is called per
	// request.
	Containers map[string]any `json:"containers"`
	Services   map[string]any `json:"services"`
	Info       any            `json:"info"`
	// List answers GET /containers/json.
	List any `json:"list"`
	// Events feeds GET /events: each value sent is written as one event
	// of the stream (Event makes one). Cut ends the streams open.
	Events chan any `json:"-"`
	// Raw answers paths (without the version prefix) as they are, before
	// the tables; "/_ping" replaces the usual OK.
	Raw map[string]Answer `json:"raw"`

	mu        sync.Mutex
	requests  []string
	versioned []string
	queries   []string
	conns     int
	cut       chan struct{}
}

// SetContainer makes ref answer GET /containers/{ref}/json with v, or
// 404 when v is nil, while the fake serves.
func (f *Fake) SetContainer(ref string, v any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.Containers == nil {
		f.Containers = map[string]any{}
	}
	if v == nil {
		delete(f.Containers, ref)
		return
	}
	f.Containers[ref] = v
}

// SetRaw makes path answer a while the fake serves, or as usual again when
// a is nil.
func (f *Fake) SetRaw(path string, a *Answer) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if a == nil {
		delete(f.Raw, path)
		return
	}
	if f.Raw == nil {
		f.Raw = map[string]Answer{}
	}
	f.Raw[path] = *a
}

// Cut ends every GET /events stream open, as an engine going away does.
func (f *Fake) Cut() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut != nil {
		close(f.cut)
	}
	f.cut = make(chan struct{})
}

// Queries lists the query strings of the requests, in order.
func (f *Fake) Queries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.queries...)
}

// Event is one event of GET /events as the engine writes it: a container
// event, or for a network event the container it concerns.
func Event(typ, action, id string) map[string]any {
	actor := map[string]any{"ID": id}
	if typ == "network" {
		actor = map[string]any{"ID": "net", "Attributes": map[string]string{"container": id}}
	}
	return map[string]any{"Type": typ, "Action": action, "Actor": actor, "time": 1, "timeNano": 1}
}

func (f *Fake) cutSignal() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cut == nil {
		f.cut = make(chan struct{})
	}
	return f.cut
}

// streamEvents writes the values of f.Events until the stream is cut or
// the client goes away.
func (f *Fake) streamEvents(w http.ResponseWriter, r *http.Request) {
	cut := f.cutSignal()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	enc := json.NewEncoder(w)
	for {
		select {
		case v := <-f.Events:
			enc.Encode(v)
			if fl != nil {
				fl.Flush()
			}
		case <-cut:
			return
		case <-r.Context().Done():
			return
		}
	}
}

// Answer is a status and a body, sent as they are.
type Answer struct {
	Status int    `json:"status"`
	Body   string `json:"body"`
}

// Requests lists "METHOD /path" of every request so far, the API version
// prefix left out.
func (f *Fake) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// Versioned lists the requests with their API version prefix.
func (f *Fake) Versioned() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.versioned...)
}

// Serve starts the fake for the rest of the test and points the Docker
// client's variables at it. It returns the socket's path.
func (f *Fake) Serve(t testing.TB) string {
	t.Helper()
	sock, stop, err := f.Listen()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	UseEngineAt(t, sock)
	return sock
}

// Listen serves the fake on a new unix socket until stop is called.
func (f *Fake) Listen() (sock string, stop func(), err error) {
	return listenUnix(&http.Server{Handler: f, ConnState: func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			f.mu.Lock()
			f.conns++
			f.mu.Unlock()
		}
	}})
}

// Connections counts the connections made to the fake so far.
func (f *Fake) Connections() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.conns
}

func (f *Fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	version, path := splitVersion(r.URL.Path)
	f.mu.Lock()
	f.requests = append(f.requests, r.Method+" "+path)
	f.versioned = append(f.versioned, r.Method+" "+r.URL.Path)
	f.queries = append(f.queries, r.URL.RawQuery)
	f.mu.Unlock()
	minAPI, maxAPI := or(f.MinAPI, "1.24"), or(f.MaxAPI, "1.41")
	// As engines of that age: the ping names the version from API 1.25
	// on, and answers HEAD from 1.40 on.
	if !versionLess(maxAPI, "1.25") {
		w.Header().Set("Api-Version", maxAPI)
	}
	f.mu.Lock()
	a, ok := f.Raw[path]
	f.mu.Unlock()
	if ok {
		send(w, a)
		return
	}
	if path == "/_ping" {
		if r.Method == http.MethodHead && versionLess(maxAPI, "1.40") {
			send(w, Answer{http.StatusMethodNotAllowed, ""})
			return
		}
		w.Write([]byte("OK"))
		return
	}
	if version != "" && versionLess(version, minAPI) {
		send(w, Answer{http.StatusBadRequest, `{"message":"client version ` + version + ` is too old. Minimum supported API version is ` + minAPI + `, please upgrade your client to a newer version"}`})
		return
	}
	if path == "/events" && f.Events != nil {
		f.streamEvents(w, r)
		return
	}
	var body any
	f.mu.Lock()
	switch ref, isContainer := cut(path, "/containers/", "/json"); {
	case path == "/containers/json":
		body = f.List
	case isContainer:
		body = f.Containers[ref]
	case strings.HasPrefix(path, "/services/"):
		body = f.Services[strings.TrimPrefix(path, "/services/")]
	case path == "/info":
		body = f.Info
	}
	f.mu.Unlock()
	if fn, ok := body.(func() any); ok {
		body = fn()
	}
	switch b := body.(type) {
	case nil:
		send(w, Answer{http.StatusNotFound, `{"message":"No such object: ` + path + `"}`})
	case Answer:
		send(w, b)
	default:
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(b)
	}
}

func send(w http.ResponseWriter, a Answer) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(a.Status)
	w.Write([]byte(a.Body))
}

func cut(s, prefix, suffix string) (string, bool) {
	s, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", false
	}
	return strings.CutSuffix(s, suffix)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// splitVersion cuts "/v1.41/containers/x/json" into "1.41" and the rest.
func splitVersion(p string) (version, path string) {
	rest, ok := strings.CutPrefix(p, "/v")
	if !ok {
		return "", p
	}
	v, tail, ok := strings.Cut(rest, "/")
	if !ok || !strings.Contains(v, ".") {
		return "", p
	}
	return v, "/" + tail
}

func versionLess(a, b string) bool {
	am, an, _ := strings.Cut(a, ".")
	bm, bn, _ := strings.Cut(b, ".")
	x, _ := strconv.Atoi(am)
	y, _ := strconv.Atoi(bm)
	if x != y {
		return x < y
	}
	x, _ = strconv.Atoi(an)
	y, _ = strconv.Atoi(bn)
	return x < y
}

// Inspect is a running container's inspect answer as an engine gives it,
// with the given bindings ("9092/tcp" to HostIp/HostPort pairs); tests
// change its fields for their case. Its Config.Env holds a secret, so that
// a test can check that portenv never shows it.
func Inspect(id, name, hostname string, ports map[string][]map[string]string) map[string]any {
	return map[string]any{
		"Id": id, "Name": "/" + name,
		"State":      map[string]any{"Status": "running", "Running": true, "StartedAt": "2026-11-27T10:00:00.000000001Z"},
		"Config":     map[string]any{"Hostname": hostname, "Image": "img", "Env": []string{"SECRET=hunter2"}, "Labels": map[string]string{}},
		"HostConfig": map[string]any{"NetworkMode": "bridge"},
		"NetworkSettings": map[string]any{"Ports": ports, "Networks": map[string]any{
			"bridge": map[string]any{"IPAddress": "172.17.0.9", "Gateway": "172.17.0.1", "Aliases": nil},
		}},
	}
}
