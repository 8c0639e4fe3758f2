package discover

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// swarmTask reads the labels Swarm puts on a task's container.
func swarmTask(labels map[string]string) *SwarmTask {
	id := labels["com.docker.swarm.service.id"]
	if id == "" {
		return nil
	}
	t := &SwarmTask{
		ServiceID:   id,
		ServiceName: labels["com.docker.swarm.service.name"],
		NodeID:      labels["com.docker.swarm.node.id"],
	}
	// A replicated task is named <service>.<slot>.<task id>; a global one
	// <service>.<node id>.<task id> and has no slot.
	rest := strings.TrimPrefix(labels["com.docker.swarm.task.name"], t.ServiceName+".")
	if slot, _, ok := strings.Cut(rest, "."); ok {
		t.Slot, _ = strconv.Atoi(slot)
	}
	return t
}

// ingressPorts gives a Swarm task the ports its service publishes in
// ingress mode. The routing mesh, not the task's container, holds those
// ports, so the container has no bindings and only the service (GET
// /services/{id}, a manager's API) tells them. It is asked only when the
// container has no bindings of its own: a task published in host mode has
// them, as a plain container does.
func (f *finder) servicePorts(c *Container) error {
	if !c.NeedsServicePorts() {
		return nil
	}
	t := c.Swarm
	req := "GET /services/" + t.ServiceID
	ports, err := f.e.ServicePorts(f.ctx, c)
	if err != nil {
		return f.fail("swarm", err)
	}
	c.Ports = ports
	if len(c.Ports) == 0 {
		f.note("swarm", true, "task of service %s, which publishes no port in ingress mode (%s)", t.ServiceName, req)
		return nil
	}
	f.note("swarm", true, "task of service %s; its ingress ports read from the service (%s): %s", t.ServiceName, req, strings.Join(publishedList(c.Ports), ", "))
	return nil
}

// NeedsServicePorts reports whether c is a Swarm task whose ports only its
// service tells: one without bindings of its own, off the host's network.
func (c *Container) NeedsServicePorts() bool {
	return c.Swarm != nil && len(c.Ports) == 0 && !c.HostNetwork
}

// ServicePorts returns the ports the service of Swarm task c publishes in
// ingress mode, read with GET /services/{id}.
func (e *Engine) ServicePorts(ctx context.Context, c *Container) ([]Binding, error) {
	t := c.Swarm
	var svc serviceResponse
	if err := e.get(ctx, "/services/"+url.PathEscape(t.ServiceID), &svc); err != nil {
		return nil, e.serviceError(c, "GET /services/"+t.ServiceID, err)
	}
	return serviceBindings(svc.Endpoint.Ports), nil
}

// serviceResponse is the part of GET /services/{id} that portenv reads,
// in the API's field names. The API module's swarm package would bring
// the image specification's digest patterns, compiled at every start.
type serviceResponse struct {
	Endpoint struct{ Ports []portConfig }
}

type portConfig struct {
	Protocol      string
	TargetPort    uint32
	PublishedPort uint32
	PublishMode   string
}

// serviceBindings turns a service's published ports into bindings. The
// routing mesh listens on every address of every node, so HostIP is left
// empty, which portenv treats as the wildcard address.
func serviceBindings(ports []portConfig) []Binding {
	var out []Binding
	for _, p := range ports {
		// An empty mode is ingress, the API's default.
		if (p.PublishMode != "" && p.PublishMode != "ingress") || p.PublishedPort == 0 || p.TargetPort == 0 {
			continue
		}
		proto := strings.ToLower(p.Protocol)
		if proto == "" {
			proto = "tcp"
		}
		out = append(out, Binding{Port: Port{Num: int(p.TargetPort), Proto: proto}, HostPort: int(p.PublishedPort)})
	}
	sortBindings(out)
	return out
}

func publishedList(bs []Binding) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Port.String() + " -> " + strconv.Itoa(b.HostPort)
	}
	return out
}

func (e *Engine) serviceError(c *Container, req string, err error) error {
	var ue *unreadableError
	if errors.As(err, &ue) || httpStatus(err) == 0 {
		return e.apiError(req, err)
	}
	msg := oneLine(err)
	t := c.Swarm
	status := httpStatus(err)
	switch {
	case status == statusServiceUnavailable || strings.Contains(msg, "not a swarm manager"):
		return fmt.Errorf("container %s is a task of Swarm service %s, which has no published ports of its own (ingress mode), and the engine at %s is a Swarm worker, which refuses to read the service (%s: %s); publish the ports in host mode (--publish mode=host,target=9092, or mode: host in a stack file), or point DOCKER_HOST at a manager's API through a read-only socket proxy",
			c.Name, t.ServiceName, e.Endpoint, req, msg)
	case status == statusForbidden:
		return fmt.Errorf("container %s is a task of Swarm service %s, published in ingress mode, and the engine at %s forbade %s (%s); a socket proxy in front of the engine must also allow GET /services/{id} (SERVICES=1 in common proxies), or publish the ports in host mode",
			c.Name, t.ServiceName, e.Endpoint, req, msg)
	case status == statusNotFound:
		return fmt.Errorf("container %s names Swarm service %s (%s) in its labels, but the engine at %s knows no such service (%s: %s); was the service removed?",
			c.Name, t.ServiceName, t.ServiceID, e.Endpoint, req, msg)
	}
	return e.apiError(req, err)
}
