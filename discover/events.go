package discover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/moby/moby/api/types/events"
)

// HostInfo is what the engine tells of its host (GET /info).
type HostInfo struct {
	Name          string
	SwarmNodeAddr string
	// SwarmManager is true on a Swarm manager, whose API tells a
	// service's published ports.
	SwarmManager bool
	// Rootless is true when the engine runs as an unprivileged user.
	Rootless bool
	// Time is the engine's clock when it answered, zero if it did not say.
	Time time.Time
}

// infoResponse is the part of GET /info that portenv reads.
type infoResponse struct {
	Name            string
	SystemTime      string
	SecurityOptions []string
	// Rootless is Podman's own field in its Docker-compatible /info;
	// Podman lists no "name=rootless" security option.
	Rootless bool
	Swarm    struct {
		NodeAddr         string
		ControlAvailable bool
	}
}

// HostInfo asks the engine about its host with one GET /info. A run asks
// only when a template uses the host's name or address; doctor asks too.
func (e *Engine) HostInfo(ctx context.Context) (HostInfo, error) {
	var info infoResponse
	if err := e.get(ctx, "/info", &info); err != nil {
		return HostInfo{}, e.apiError("GET /info", err)
	}
	h := HostInfo{Name: info.Name, SwarmNodeAddr: info.Swarm.NodeAddr, SwarmManager: info.Swarm.ControlAvailable, Rootless: rootlessIn(info)}
	h.Time, _ = time.Parse(time.RFC3339Nano, info.SystemTime)
	return h, nil
}

// rootlessIn tells a rootless engine: rootless Docker lists
// "name=rootless" among /info's SecurityOptions, and Podman's compatible
// /info says "Rootless": true.
func rootlessIn(info infoResponse) bool {
	if info.Rootless {
		return true
	}
	for _, opt := range info.SecurityOptions {
		// The name may be followed by options: "name=seccomp,profile=default".
		if name, _, _ := strings.Cut(opt, ","); name == "name=rootless" {
			return true
		}
	}
	return false
}

// Running lists the ids of the running containers (GET /containers/json).
func (e *Engine) Running(ctx context.Context) ([]string, error) {
	var list []struct {
		ID string `json:"Id"`
	}
	if err := e.get(ctx, "/containers/json", &list); err != nil {
		return nil, e.apiError("GET /containers/json", err)
	}
	ids := make([]string, 0, len(list))
	for _, c := range list {
		ids = append(ids, c.ID)
	}
	return ids, nil
}

// Change says that something of container ID that a record holds may
// have changed: Action is the engine's event (start, die, destroy, ...).
type Change struct {
	ID     string
	Action string
}

// changeActions are the events that change what a record holds: a
// container's state and start time, its name, its networks. Its ports
// change only with a start.
var changeActions = []string{"start", "die", "destroy", "rename", "pause", "unpause", "connect", "disconnect"}

// Follow streams the changes of containers from GET /events, starting at
// since (events the engine still holds from before are sent first). The
// error channel gets one error when the stream ends, for whatever reason;
// cancelling ctx ends it.
func (e *Engine) Follow(ctx context.Context, since time.Time) (<-chan Change, <-chan error) {
	out := make(chan Change)
	failed := make(chan error, 1)
	resp, err := e.api.send(ctx, "GET", e.APIVersion, "/events?"+eventsQuery(since))
	if err == nil && resp.StatusCode != statusOK {
		err = answerError(resp)
		resp.Body.Close()
	}
	if err != nil {
		failed <- e.eventsError(err)
		close(out)
		return out, failed
	}
	go func() {
		defer close(out)
		defer resp.Body.Cut()
		dec := json.NewDecoder(resp.Body)
		for {
			var m events.Message
			if err := dec.Decode(&m); err != nil {
				if ctx.Err() != nil {
					err = ctx.Err()
				}
				failed <- e.eventsError(err)
				return
			}
			id := m.Actor.ID
			if m.Type == events.NetworkEventType {
				id = m.Actor.Attributes["container"]
			}
			if id == "" {
				continue
			}
			select {
			case out <- Change{ID: id, Action: string(m.Action)}:
			case <-ctx.Done():
				failed <- ctx.Err()
				return
			}
		}
	}()
	return out, failed
}

// eventsQuery asks for the events of changeActions on containers and
// networks, from since on.
func eventsQuery(since time.Time) string {
	actions := map[string]bool{}
	for _, a := range changeActions {
		actions[a] = true
	}
	filters, _ := json.Marshal(map[string]map[string]bool{
		"type":  {string(events.ContainerEventType): true, string(events.NetworkEventType): true},
		"event": actions,
	})
	q := url.Values{"filters": {string(filters)}}
	if !since.IsZero() {
		q.Set("since", fmt.Sprintf("%d.%09d", since.Unix(), since.Nanosecond()))
	}
	return q.Encode()
}

func (e *Engine) eventsError(err error) error {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return fmt.Errorf("the engine at %s ended the event stream (GET /events)", e.Endpoint)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("the connection to the engine at %s broke during GET /events", e.Endpoint)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &se):
		return e.unreadable("GET /events", errors.New("it is not valid JSON"))
	}
	return e.apiError("GET /events", err)
}
