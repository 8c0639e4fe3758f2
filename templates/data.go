// Package templates renders portenv's Go text/templates: the --set values,
// --template files and the built-in output formats, over a data model of the
// container and its published ports.
package templates

import (
	"errors"
	"strconv"
	"sync"

	"github.com/portenv/portenv/discover"
)

// data is what a template sees as ".".
type data struct {
	Container container
	// Ports holds every published binding.
	Ports []binding
	// Networks are the container's networks, by name.
	Networks map[string]discover.Network
	Compose  *compose
	Host     *host
	Swarm    *swarm
	// Vars holds the variables portenv sets, by name.
	Vars map[string]string
}

// container is .Container.
type container struct {
	ID, Name, Hostname, Image string
	Labels                    map[string]string
}

// binding is one element of .Ports: container port Port/Proto reached at
// HostIP:HostPort.
type binding struct {
	Port     int
	Proto    string
	HostIP   string
	HostPort int
}

// EngineInfo fetches the engine host's name and Swarm node address. It is
// called at most once, and only when a template asks for either.
type EngineInfo func() (name, nodeAddr string, err error)

type lazyInfo struct {
	once           sync.Once
	fetch          EngineInfo
	name, nodeAddr string
	err            error
}

func (l *lazyInfo) get() (string, string, error) {
	l.once.Do(func() {
		if l.fetch == nil {
			l.err = errors.New("the engine's host information is not available")
			return
		}
		l.name, l.nodeAddr, l.err = l.fetch()
	})
	return l.name, l.nodeAddr, l.err
}

// host is .Host.
type host struct{ info *lazyInfo }

// Name is the engine host's name, asked of the engine (GET /info) on first
// use only.
func (h *host) Name() (string, error) {
	name, _, err := h.info.get()
	return name, err
}

// swarm is .Swarm: the Swarm task this container runs, if any.
type swarm struct {
	task *discover.SwarmTask
	info *lazyInfo
}

var errNotTask = errors.New("this container is not a Swarm task, so .Swarm has no value; run it as a service (docker service create), or take .Swarm out of the template")

// Service is the Swarm service's name.
func (s *swarm) Service() (string, error) {
	if s.task == nil {
		return "", errNotTask
	}
	return s.task.ServiceName, nil
}

// Slot is the task's slot in a replicated service ("1", "2", ...).
func (s *swarm) Slot() (string, error) {
	if s.task == nil {
		return "", errNotTask
	}
	if s.task.Slot == 0 {
		return "", errors.New("this Swarm task has no slot (the service is global)")
	}
	return strconv.Itoa(s.task.Slot), nil
}

// NodeAddr is the address of the Swarm node the task runs on.
func (s *swarm) NodeAddr() (string, error) {
	if s.task == nil {
		return "", errNotTask
	}
	_, addr, err := s.info.get()
	return addr, err
}

// compose is .Compose: the project, service and replica number Compose
// records in a container's labels.
type compose struct{ labels map[string]string }

func (c *compose) label(key string) (string, error) {
	v, ok := c.labels["com.docker.compose."+key]
	if !ok {
		return "", errors.New("this container was not started by Compose (it has no com.docker.compose." + key + " label), so .Compose has no value; start it with docker-compose up, or take .Compose out of the template")
	}
	return v, nil
}

// Project is the Compose project's name.
func (c *compose) Project() (string, error) { return c.label("project") }

// Service is the Compose service's name.
func (c *compose) Service() (string, error) { return c.label("service") }

// Number is the replica's number in its service: 1, 2, 3 under --scale.
func (c *compose) Number() (string, error) {
	if _, ok := c.labels["com.docker.compose.container-number"]; !ok && c.labels["com.docker.compose.oneoff"] == "True" {
		return "", errors.New("this container was started by docker-compose run, and Compose numbers only the replicas of docker-compose up, so .Compose.Number has no value; start it with docker-compose up, or take .Compose.Number out of the template")
	}
	return c.label("container-number")
}

// newData builds the template data of container c.
func newData(c *discover.Container, info EngineInfo) *data {
	li := &lazyInfo{fetch: info}
	ports := make([]binding, len(c.Ports))
	for i, b := range c.Ports {
		ports[i] = binding{Port: b.Port.Num, Proto: b.Port.Proto, HostIP: b.HostIP, HostPort: b.HostPort}
	}
	return &data{
		Container: container{ID: c.ID, Name: c.Name, Hostname: c.Hostname, Image: c.Image, Labels: c.Labels},
		Ports:     ports,
		Networks:  c.Networks,
		Compose:   &compose{labels: c.Labels},
		Host:      &host{info: li},
		Swarm:     &swarm{task: c.Swarm, info: li},
	}
}
