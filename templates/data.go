// Package templates renders portenv's Go text/templates: the --set values,
// --template files and the built-in output formats, over a data model of the
// container and its published ports.
package templates

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
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
	// Pod, Node and Service are a Kubernetes pod's (discover.FromCluster).
	Pod     *pod
	Node    *node
	Service *service
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
		Pod:       &pod{c.Pod},
		Node:      &node{c.Pod},
		Service:   &service{c.Pod},
	}
}

// errNotPod is .Pod, .Node or .Service asked of a container that is not a
// Kubernetes pod.
func errNotPod(field string) error {
	return fmt.Errorf("this container is not a Kubernetes pod, so %s has no value; portenv reads pods through the Kubernetes API when it runs in one (PORTENV_SOURCE=kubernetes), or take %s out of the template", field, field)
}

// pod is .Pod: the Kubernetes pod this container runs in.
type pod struct{ p *discover.PodInfo }

// Name is the pod's name.
func (p *pod) Name() (string, error) {
	return podField(p.p, ".Pod.Name", func(i *discover.PodInfo) string { return i.Name })
}

// Namespace is the pod's namespace.
func (p *pod) Namespace() (string, error) {
	return podField(p.p, ".Pod.Namespace", func(i *discover.PodInfo) string { return i.Namespace })
}

// podField is a field of pod p, or why a container that is not a pod has
// none.
func podField(p *discover.PodInfo, field string, of func(*discover.PodInfo) string) (string, error) {
	if p == nil {
		return "", errNotPod(field)
	}
	return of(p), nil
}

// Ordinal is a StatefulSet pod's ordinal: "0" for kafka-0.
func (p *pod) Ordinal() (string, error) {
	if p.p == nil {
		return "", errNotPod(".Pod.Ordinal")
	}
	if p.p.Ordinal < 0 {
		return "", fmt.Errorf("pod %s is not a StatefulSet's pod (named <statefulset>-<ordinal> and owned by it), so .Pod.Ordinal has no value; take it out of the template, or run the pod in a StatefulSet", p.p.Name)
	}
	return strconv.Itoa(p.p.Ordinal), nil
}

// node is .Node: the node the pod runs on.
type node struct{ p *discover.PodInfo }

// Name is the node's name (spec.nodeName).
func (n *node) Name() (string, error) {
	return podField(n.p, ".Node.Name", func(i *discover.PodInfo) string { return i.NodeName })
}

// Address is the node's address as the pod's status gives it
// (status.hostIP), with no read of the Node.
func (n *node) Address() (string, error) {
	return podField(n.p, ".Node.Address", func(i *discover.PodInfo) string { return i.NodeAddress })
}

// ExternalIP is the node's first ExternalIP address, read from the Node.
func (n *node) ExternalIP() (string, error) { return n.address(".Node.ExternalIP", "ExternalIP") }

// ExternalDNS is the node's first ExternalDNS name, read from the Node.
func (n *node) ExternalDNS() (string, error) { return n.address(".Node.ExternalDNS", "ExternalDNS") }

// PreferredAddress is the node's address a client outside the cluster is
// most likely to reach, read from the Node: the first of its ExternalDNS,
// ExternalIP, InternalDNS, InternalIP and Hostname addresses, in that
// order (as Strimzi chooses a node's address for its NodePort listeners).
func (n *node) PreferredAddress() (string, error) {
	return n.address(".Node.PreferredAddress", "ExternalDNS", "ExternalIP", "InternalDNS", "InternalIP", "Hostname")
}

// address is the node's first address of the first of types it has.
func (n *node) address(field string, types ...string) (string, error) {
	if n.p == nil {
		return "", errNotPod(field)
	}
	addrs, err := n.p.NodeAddresses()
	if err != nil {
		return "", err
	}
	for _, t := range types {
		for _, a := range addrs {
			if a.Type == t && a.Address != "" {
				return a.Address, nil
			}
		}
	}
	has := make([]string, len(addrs))
	for i, a := range addrs {
		has[i] = a.Type + " " + a.Address
	}
	return "", fmt.Errorf("node %s has no %s address (it has: %s), so %s has no value; use .Node.Address or .Node.PreferredAddress", n.p.NodeName, strings.Join(types, " or "), strings.Join(has, ", "), field)
}

// service is .Service: the NodePort or LoadBalancer Service that
// publishes the pod's ports.
type service struct{ p *discover.PodInfo }

func (s *service) ref(field string) (*discover.ServiceRef, error) {
	switch {
	case s.p == nil:
		return nil, errNotPod(field)
	case s.p.Service == nil:
		return nil, fmt.Errorf("no NodePort or LoadBalancer Service publishes a port of pod %s, so %s has no value; take it out of the template, or create a Service whose selector matches the pod's labels", s.p.Name, field)
	}
	return s.p.Service, nil
}

// Name is the Service's name.
func (s *service) Name() (string, error) {
	r, err := s.ref(".Service.Name")
	if err != nil {
		return "", err
	}
	return r.Name, nil
}

// Type is the Service's type: NodePort or LoadBalancer.
func (s *service) Type() (string, error) {
	r, err := s.ref(".Service.Type")
	if err != nil {
		return "", err
	}
	return r.Type, nil
}
