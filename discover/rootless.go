package discover

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// infoRootless is the part of GET /info that tells a rootless engine.
type infoRootless struct {
	SecurityOptions []string
	// Rootless is Podman's own field in its Docker-compatible /info;
	// Podman lists no "name=rootless" security option.
	Rootless bool
}

// Rootless tells whether the engine runs as an unprivileged user: rootless
// Docker lists "name=rootless" among /info's SecurityOptions, and Podman's
// compatible /info says "Rootless": true. It costs one GET /info, which a
// normal run does not send; doctor asks it.
func (e *Engine) Rootless(ctx context.Context) (bool, error) {
	var info infoRootless
	resp, err := e.get(ctx, "/info")
	if err != nil {
		return false, fmt.Errorf("GET /info at %s failed: %s", e.Endpoint, oneLine(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return false, fmt.Errorf("GET /info at %s answered %s: %s", e.Endpoint, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		return false, fmt.Errorf("GET /info at %s: the answer is not the engine's JSON: %v", e.Endpoint, err)
	}
	return rootlessIn(info), nil
}

func rootlessIn(info infoRootless) bool {
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
