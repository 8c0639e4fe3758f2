package discover

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/portenv/portenv/internal/backoff"
)

// PerPodLabel is the label a StatefulSet's controller gives each of its
// pods, with the pod's name: a Service that selects on it publishes that
// one pod, and is preferred to any other.
const PerPodLabel = "statefulset.kubernetes.io/pod-name"

// offer is one port of a Service that publishes container port port of
// the pod.
type offer struct {
	svc  *Service
	sp   ServicePort
	port Port
}

func (o offer) perPod() bool { _, ok := o.svc.Spec.Selector[PerPodLabel]; return ok }

// pending reports whether the offer waits for its load balancer's
// address.
func (o offer) pending() bool {
	return o.svc.Spec.Type == "LoadBalancer" && len(o.svc.Status.LoadBalancer.Ingress) == 0
}

// servicePorts adds to c the ports that NodePort and LoadBalancer
// Services selecting its pod publish, for the ports that have no
// hostPort. A LoadBalancer without an address yet is listed again until
// it has one, or until the time given ends.
func (p *podFinder) servicePorts(c *Container) error {
	pod := p.pods[c]
	if pod == nil {
		return nil
	}
	b := backoff.Backoff{First: 100 * time.Millisecond, Max: 2 * time.Second}
	var waiting *offer // a LoadBalancer the last listing found without an address
	for {
		var list *ServiceList
		err := p.retry(func() (err error) {
			list, err = p.k.Services(p.ctx, p.k.Namespace)
			return err
		})
		if err != nil && waiting != nil && p.ctx.Err() != nil {
			// The time ended during a listing: the wait is what failed.
			return p.fail("service", p.noIngress(*waiting, c.Name))
		}
		if err != nil {
			return p.fail("service", err)
		}
		chosen, notes := chooseOffers(c, offers(pod, list.Items))
		waiting = nil
		for i := range chosen {
			if chosen[i].pending() {
				waiting = &chosen[i]
				break
			}
		}
		if waiting == nil {
			p.publish(c, pod, chosen, notes)
			return nil
		}
		if !b.Wait(p.ctx) {
			return p.fail("service", p.noIngress(*waiting, c.Name))
		}
	}
}

func (p *podFinder) noIngress(o offer, pod string) error {
	return fmt.Errorf("the LoadBalancer Service %s has no ingress address after %s (--timeout), so port %s of pod %s has no address outside the cluster yet (kubectl get service -n %s %s shows EXTERNAL-IP <pending>); check that the cluster runs a load balancer controller, raise --timeout, or use type NodePort",
		o.svc.Metadata.Name, p.wait, o.port, pod, p.k.Namespace, o.svc.Metadata.Name)
}

// publish adds the chosen offers' bindings to c: for a LoadBalancer its
// ingress addresses at the Service's port first, so that they are the
// ones used, then the nodePort on the node's addresses.
func (p *podFinder) publish(c *Container, pod *Pod, chosen []offer, notes []string) {
	for _, n := range notes {
		if p.opt.Infof != nil {
			p.opt.Infof("%s", n)
		}
	}
	for _, o := range chosen {
		for _, in := range o.svc.Status.LoadBalancer.Ingress {
			addr := in.IP
			if addr == "" {
				addr = in.Hostname
			}
			if addr != "" {
				c.Ports = append(c.Ports, Binding{Port: o.port, HostIP: addr, HostPort: o.sp.Port})
			}
		}
		if o.sp.NodePort != 0 {
			for _, ip := range nodeIPs(pod) {
				c.Ports = append(c.Ports, Binding{Port: o.port, HostIP: ip, HostPort: o.sp.NodePort})
			}
		}
		if c.Pod.Service == nil {
			c.Pod.Service = &ServiceRef{Name: o.svc.Metadata.Name, Type: o.svc.Spec.Type}
		}
		p.note("service", true, "%s Service %s publishes port %s on node port %d", o.svc.Spec.Type, o.svc.Metadata.Name, o.port, o.sp.NodePort)
	}
	// By port only: within a port, the order made above stands.
	sort.SliceStable(c.Ports, func(i, j int) bool {
		a, b := c.Ports[i].Port, c.Ports[j].Port
		if a.Proto != b.Proto {
			return protoRank(a.Proto) < protoRank(b.Proto)
		}
		return a.Num < b.Num
	})
}

// offers lists what the NodePort and LoadBalancer Services whose
// selector the pod's labels match publish of it. A named targetPort is
// the pod's container port of that name and protocol; a numeric one is
// the container port of that number.
func offers(pod *Pod, svcs []Service) []offer {
	var out []offer
	for i := range svcs {
		s := &svcs[i]
		if s.Spec.Type != "NodePort" && s.Spec.Type != "LoadBalancer" || !selects(s.Spec.Selector, pod.Metadata.Labels) {
			continue
		}
		for _, sp := range s.Spec.Ports {
			proto := protocol(sp.Protocol)
			num := sp.TargetPort.Int
			if sp.TargetPort.Str != "" {
				num = namedPort(pod, sp.TargetPort.Str, proto)
			} else if num == 0 {
				num = sp.Port
			}
			if num != 0 {
				out = append(out, offer{svc: s, sp: sp, port: Port{Num: num, Proto: proto}})
			}
		}
	}
	return out
}

// selects reports whether a Service's selector matches labels: every
// key of a non-empty selector, with its value. A Service without a
// selector has its endpoints made by hand and publishes no pod by itself.
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if l, ok := labels[k]; !ok || l != v {
			return false
		}
	}
	return true
}

// namedPort is the number of the pod's container port called name, or 0.
func namedPort(pod *Pod, name, proto string) int {
	for _, ctr := range pod.Spec.Containers {
		for _, cp := range ctr.Ports {
			if cp.Name == name && protocol(cp.Protocol) == proto {
				return cp.ContainerPort
			}
		}
	}
	return 0
}

// chooseOffers takes one Service for each port that has no hostPort: a
// per-pod Service (one that selects on PerPodLabel) before any other,
// then the first by name; within one Service, its first port for that
// container port. notes say where a choice was made.
func chooseOffers(c *Container, all []offer) (chosen []offer, notes []string) {
	byPort := map[Port][]offer{}
	for _, o := range all {
		byPort[o.port] = append(byPort[o.port], o)
	}
	ports := slices.Collect(maps.Keys(byPort))
	sortPorts(ports)
	for _, port := range ports {
		cands := byPort[port]
		sort.SliceStable(cands, func(i, j int) bool {
			if cands[i].perPod() != cands[j].perPod() {
				return cands[i].perPod()
			}
			return cands[i].svc.Metadata.Name < cands[j].svc.Metadata.Name
		})
		names := serviceNames(cands)
		if len(c.Published(port)) > 0 {
			notes = append(notes, fmt.Sprintf("port %s has a hostPort, which is used; Service %s, which also publishes it, is not", port, strings.Join(names, ", ")))
			continue
		}
		chosen = append(chosen, cands[0])
		if len(names) > 1 {
			why := "the first by name, as none selects this pod alone"
			if cands[0].perPod() {
				why = "its selector names this pod (" + PerPodLabel + ")"
			}
			notes = append(notes, fmt.Sprintf("port %s is published by Services %s; using %s: %s", port, strings.Join(names, ", "), names[0], why))
		}
	}
	return chosen, notes
}

// serviceNames lists the offers' Services, each once, in order.
func serviceNames(offers []offer) []string {
	var names []string
	for _, o := range offers {
		if !slices.Contains(names, o.svc.Metadata.Name) {
			names = append(names, o.svc.Metadata.Name)
		}
	}
	return names
}
