package discover

import (
	"context"
	"fmt"
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
	status, err := e.getDirect(ctx, "/v"+e.APIVersion+"/info", &info)
	switch {
	case status == http.StatusOK && err != nil:
		return false, e.unreadable("GET /info", err)
	case status == 0:
		return false, fmt.Errorf("GET /info at %s: no answer", e.Endpoint)
	case err != nil:
		return false, e.apiError("GET /info", err)
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
