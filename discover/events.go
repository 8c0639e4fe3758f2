package discover

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/events"
	"github.com/docker/docker/api/types/filters"
)

// HostInfo is what the engine tells of its host (GET /info).
type HostInfo struct {
	Name          string
	SwarmNodeAddr string
	// SwarmManager is true on a Swarm manager, whose API tells a
	// service's published ports.
	SwarmManager bool
	// Time is the engine's clock when it answered, zero if it did not say.
	Time time.Time
}

// HostInfo asks the engine about its host with one GET /info.
func (e *Engine) HostInfo(ctx context.Context) (HostInfo, error) {
	var info struct {
		Name       string
		SystemTime string
		Swarm      struct {
			NodeAddr         string
			ControlAvailable bool
		}
	}
	status, err := e.getDirect(ctx, "/v"+e.APIVersion+"/info", &info)
	switch {
	case status == http.StatusOK && err != nil:
		return HostInfo{}, e.unreadable("GET /info", err)
	case status != 0 && status != http.StatusOK:
		return HostInfo{}, e.apiError("GET /info", err)
	case status == 0:
		full, err := e.cli.Info(ctx)
		if err != nil {
			return HostInfo{}, e.apiError("GET /info", err)
		}
		info.Name, info.SystemTime = full.Name, full.SystemTime
		info.Swarm.NodeAddr, info.Swarm.ControlAvailable = full.Swarm.NodeAddr, full.Swarm.ControlAvailable
	}
	h := HostInfo{Name: info.Name, SwarmNodeAddr: info.Swarm.NodeAddr, SwarmManager: info.Swarm.ControlAvailable}
	h.Time, _ = time.Parse(time.RFC3339Nano, info.SystemTime)
	return h, nil
}

// Running lists the ids of the running containers (GET /containers/json).
func (e *Engine) Running(ctx context.Context) ([]string, error) {
	list, err := e.cli.ContainerList(ctx, container.ListOptions{})
	if err != nil {
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
	f := filters.NewArgs(filters.Arg("type", string(events.ContainerEventType)), filters.Arg("type", string(events.NetworkEventType)))
	for _, a := range changeActions {
		f.Add("event", a)
	}
	opt := events.ListOptions{Filters: f}
	if !since.IsZero() {
		opt.Since = strconv.FormatInt(since.Unix(), 10) + "." + fmt.Sprintf("%09d", since.Nanosecond())
	}
	msgs, errs := e.cli.Events(ctx, opt)
	out := make(chan Change)
	failed := make(chan error, 1)
	go func() {
		defer close(out)
		for {
			select {
			case m := <-msgs:
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
			case err := <-errs:
				failed <- e.eventsError(err)
				return
			}
		}
	}()
	return out, failed
}

func (e *Engine) eventsError(err error) error {
	switch {
	case err == nil, errors.Is(err, io.EOF):
		return fmt.Errorf("the engine at %s ended the event stream (GET /events)", e.Endpoint)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("the connection to the engine at %s broke during GET /events", e.Endpoint)
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	}
	return e.apiError("GET /events", err)
}
