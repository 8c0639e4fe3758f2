package discover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portenv/portenv/internal/backoff"
)

// ClusterOptions steers FromCluster.
type ClusterOptions struct {
	// Kube is the path to the API server, as ConnectKube sets it up.
	Kube *Kube
	// Container, when set, skips self-identification: the pod of this
	// name in the service account's namespace.
	Container string
	// Getenv reads POD_NAME, which the downward API sets.
	Getenv func(string) string
	// Hostname and LocalIPs replace os.Hostname and the addresses of this
	// process's interfaces, for tests.
	Hostname func() (string, error)
	LocalIPs func() ([]string, error)
	// Infof, when set, hears which Service was taken where several
	// publish one port.
	Infof func(format string, args ...any)
	// Timeout is the --timeout that ctx's deadline comes from, for the
	// messages; 0 takes the time left when FromCluster starts.
	Timeout time.Duration
}

// PodInfo is what a pod's Container carries beside the model shared with
// the engine: the facts of the template data's .Pod, .Node and .Service.
type PodInfo struct {
	Name, Namespace string
	// Ordinal is a StatefulSet pod's ordinal, -1 for any other pod.
	Ordinal int
	// StatefulSet names the pod's StatefulSet, "" for any other pod.
	StatefulSet string
	NodeName    string
	// NodeAddress is status.hostIP: the node's address as the pod sees
	// it, with no read of the Node.
	NodeAddress string
	HostNetwork bool
	// Cluster is the API server's host:port.
	Cluster string
	// Service is the Service whose bindings were taken (the one of the
	// lowest port, where Services publish several); nil when none did.
	Service *ServiceRef
	// ReadNode reads the pod's Node; FromCluster sets it, NodeAddresses
	// calls it at most once.
	ReadNode func() (*Node, error)

	node nodeOnce
}

// ServiceRef names a Service.
type ServiceRef struct{ Name, Type string }

// nodeOnce is the pod's Node, read at most once, on first use.
type nodeOnce struct {
	once sync.Once
	node *Node
	err  error
}

// NodeAddresses reads the addresses of the pod's node from the Node
// (GET /api/v1/nodes/NAME), on first use only: that read needs a
// ClusterRole, and most templates never ask.
func (p *PodInfo) NodeAddresses() ([]NodeAddress, error) {
	p.node.once.Do(func() {
		if p.ReadNode == nil {
			p.node.err = errors.New("the node's addresses are not available: the pod was not read from the Kubernetes API")
			return
		}
		p.node.node, p.node.err = p.ReadNode()
	})
	if p.node.err != nil {
		return nil, p.node.err
	}
	return p.node.node.Status.Addresses, nil
}

// FromCluster finds the pod this process runs in through the Kubernetes
// API: the pod POD_NAME names, else the one named like this host,
// accepted only when its address is this process's own. Its bindings are
// its containers' hostPorts and the ports of the NodePort and
// LoadBalancer Services that select it. The attempts are returned
// whether or not one succeeded.
func FromCluster(ctx context.Context, opt ClusterOptions) (*Container, []Attempt, error) {
	p := &podFinder{ctx: ctx, k: opt.Kube, opt: opt, pods: map[*Container]*Pod{}}
	if dl, ok := ctx.Deadline(); ok {
		p.wait = time.Until(dl).Round(100 * time.Millisecond)
	}
	// The time left is a little less than the value given, and on a busy
	// machine may round to another: "after 2.9s (--timeout)" for 3s.
	if opt.Timeout > 0 {
		p.wait = opt.Timeout
	}
	if p.opt.Getenv == nil {
		p.opt.Getenv = func(string) string { return "" }
	}
	if p.k.Namespace == "" {
		return nil, nil, p.fail("namespace", fmt.Errorf("the service account mount %s has no namespace file, so portenv cannot tell the pod's namespace; mount the pod's service account token (automountServiceAccountToken: true)", p.k.dir))
	}
	c, err := find(p, opt.Container)
	return c, p.tried, err
}

// podFinder is one search for this pod through the Kubernetes API.
type podFinder struct {
	ctx  context.Context
	k    *Kube
	opt  ClusterOptions
	wait time.Duration
	pods map[*Container]*Pod
	attempts
}

func (p *podFinder) origin(*Container) string { return "" }

// retry repeats read while the API answers that it is busy or does not
// answer yet, until ctx ends.
func (p *podFinder) retry(read func() error) error {
	b := backoff.Backoff{First: 25 * time.Millisecond, Max: time.Second}
	for {
		err := read()
		var ke *KubeError
		if err == nil || !errors.As(err, &ke) || !ke.Temporary() || !b.Wait(p.ctx) {
			return err
		}
	}
}

func (p *podFinder) pod(name string) (*Pod, error) {
	var pod *Pod
	err := p.retry(func() (err error) {
		pod, err = p.k.Pod(p.ctx, p.k.Namespace, name)
		return err
	})
	return pod, err
}

// lookup reads the pod ref names in the namespace (--container).
func (p *podFinder) lookup(ref string) (*Container, error) {
	pod, err := p.pod(ref)
	if errors.Is(err, ErrKubeNotFound) {
		return nil, &NotFoundError{Ref: ref, why: fmt.Sprintf("no pod %q in namespace %q (GET /api/v1/namespaces/%s/pods/%s answered 404); check the name given to --container (kubectl get pods -n %s lists them)", ref, p.k.Namespace, p.k.Namespace, ref, p.k.Namespace)}
	}
	if err != nil {
		return nil, err
	}
	return p.take(pod), nil
}

func (p *podFinder) take(pod *Pod) *Container {
	c := podContainer(p.ctx, pod, p.k)
	p.pods[c] = pod
	return c
}

// identify reads the pod POD_NAME or the hostname names, and takes it
// only when one of its addresses is an address of this process.
func (p *podFinder) identify() (*Container, error) {
	if c := p.byToken(); c != nil {
		return c, nil
	}
	method, name := "POD_NAME", p.opt.Getenv("POD_NAME")
	if name == "" {
		method = "hostname"
		hostname := os.Hostname
		if p.opt.Hostname != nil {
			hostname = p.opt.Hostname
		}
		h, err := hostname()
		if err != nil || h == "" {
			return nil, p.fail(method, errors.New("POD_NAME is not set and this host has no name, so no pod can be named; set POD_NAME from the downward API (env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}])"))
		}
		name = h
	}
	pod, err := p.waitForIP(name)
	if errors.Is(err, ErrKubeNotFound) {
		return nil, p.fail(method, fmt.Errorf("no pod %q in namespace %q (named by %s; GET /api/v1/namespaces/%s/pods/%s answered 404); %s", name, p.k.Namespace, namedBy(method), p.k.Namespace, name, setPodName))
	}
	if err != nil {
		return nil, p.fail(method, err)
	}
	c := p.take(pod)
	if err := p.confirm(method, c, pod); err != nil {
		return nil, err
	}
	return c, nil
}

// byToken takes the pod the service account token mounted here is bound
// to, when the pod the API names so has the token's uid: only this pod
// has that token, so no address needs to confirm it, and no wait for the
// pod's status is needed.
func (p *podFinder) byToken() *Container {
	name, uid := p.k.boundPod()
	if name == "" || uid == "" {
		return nil // a token not bound to a pod: the name and the address tell
	}
	pod, err := p.pod(name)
	switch {
	case err != nil:
		p.note("token", false, "the service account token is bound to pod %s (uid %s), which cannot be read: %s", name, uid, oneLine(err))
		return nil
	case pod.Metadata.UID != uid:
		p.note("token", false, "the service account token is bound to pod %s of uid %s, but the pod of that name has uid %s", name, uid, pod.Metadata.UID)
		return nil
	}
	c := p.take(pod)
	p.note("token", true, "pod %s/%s, to which the service account token mounted here is bound (uid %s)", pod.Metadata.Namespace, name, uid)
	return c
}

const setPodName = "set POD_NAME from the downward API (env: [{name: POD_NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}])"

func namedBy(method string) string {
	if method == "hostname" {
		return "this host's name (POD_NAME is not set)"
	}
	return "POD_NAME"
}

// waitForIP reads the pod until its status has an address: the kubelet
// writes the status a moment after the sandbox starts, and an init
// container may ask before that.
func (p *podFinder) waitForIP(name string) (*Pod, error) {
	b := backoff.Backoff{First: 25 * time.Millisecond, Max: time.Second}
	for {
		pod, err := p.pod(name)
		if err != nil || len(podAddresses(pod)) > 0 || !b.Wait(p.ctx) {
			return pod, err
		}
	}
}

// confirm accepts the pod when one of its addresses (with hostNetwork,
// the node's) is an address of this process: any pod may carry another's
// name as its hostname, and POD_NAME may be mistyped.
func (p *podFinder) confirm(method string, c *Container, pod *Pod) error {
	localIPs := p.opt.LocalIPs
	if localIPs == nil {
		localIPs = interfaceIPs
	}
	local, err := localIPs()
	own := podAddresses(pod)
	for _, a := range own {
		if err == nil && slices.Contains(local, a) {
			p.note(method, true, "pod %s/%s has this process's address %s", pod.Metadata.Namespace, pod.Metadata.Name, a)
			return nil
		}
	}
	what := "its address"
	if pod.Spec.HostNetwork {
		what = "its node's address (hostNetwork)"
	}
	why := fmt.Sprintf("%s %s is not an address of this process (%s)", what, strings.Join(own, ", "), shortList(local, 4))
	switch {
	case err != nil:
		why = "this process's addresses cannot be read: " + oneLine(err)
	case len(own) == 0:
		why = "its status has no address yet (status.podIP) to compare with this process's"
	}
	return p.fail(method, fmt.Errorf("cannot tell which pod this is: pod %s/%s, named by %s, is not confirmed: %s; portenv never reports another pod's values: %s", pod.Metadata.Namespace, pod.Metadata.Name, namedBy(method), why, setPodName))
}

// podAddresses are the pod's addresses, and with hostNetwork the node's,
// which are then the same.
func podAddresses(pod *Pod) []string {
	var out []string
	add := func(ip string) {
		if ip != "" && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	add(pod.Status.PodIP)
	for _, ip := range pod.Status.PodIPs {
		add(ip.IP)
	}
	if pod.Spec.HostNetwork {
		for _, ip := range nodeIPs(pod) {
			add(ip)
		}
	}
	return out
}

// nodeIPs are the node's addresses from the pod's status, one per family
// in a dual-stack cluster, IPv4 first.
func nodeIPs(pod *Pod) []string {
	var out []string
	for _, ip := range pod.Status.HostIPs {
		if ip.IP != "" && !slices.Contains(out, ip.IP) {
			out = append(out, ip.IP)
		}
	}
	if len(out) == 0 && pod.Status.HostIP != "" {
		out = append(out, pod.Status.HostIP)
	}
	slices.SortStableFunc(out, func(a, b string) int {
		return boolInt(strings.Contains(a, ":")) - boolInt(strings.Contains(b, ":"))
	})
	return out
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// podContainer maps a pod to the model shared with the engine: ID is the
// pod's uid, Name and Hostname its name (or spec.hostname), Labels its
// labels, Image the image of its only container ("" with several, as
// which of them runs portenv is not known), Networks one network named
// "pod" with the pod's addresses, Exposed every declared container port,
// Ports the declared hostPorts on the node's addresses. Services add
// their ports later.
func podContainer(ctx context.Context, pod *Pod, k *Kube) *Container {
	m := pod.Metadata
	c := &Container{ID: m.UID, Name: m.Name, Hostname: m.Name, Labels: m.Labels}
	if pod.Spec.Hostname != "" {
		c.Hostname = pod.Spec.Hostname
	}
	if len(pod.Spec.Containers) == 1 {
		c.Image = pod.Spec.Containers[0].Image
	}
	var n Network
	for _, ip := range podAddresses(pod) {
		if strings.Contains(ip, ":") && n.IPv6 == "" {
			n.IPv6 = ip
		} else if !strings.Contains(ip, ":") && n.IP == "" {
			n.IP = ip
		}
	}
	c.Networks = map[string]Network{"pod": n}
	c.Pod = &PodInfo{Name: m.Name, Namespace: m.Namespace, Ordinal: -1, NodeName: pod.Spec.NodeName,
		NodeAddress: pod.Status.HostIP, HostNetwork: pod.Spec.HostNetwork, Cluster: k.Endpoint}
	c.Pod.StatefulSet, c.Pod.Ordinal = ordinal(m)
	if name := pod.Spec.NodeName; name != "" {
		c.Pod.ReadNode = func() (*Node, error) { return k.Node(ctx, name) }
	}
	for _, ctr := range pod.Spec.Containers {
		for _, cp := range ctr.Ports {
			port := Port{Num: cp.ContainerPort, Proto: protocol(cp.Protocol)}
			if !slices.Contains(c.Exposed, port) {
				c.Exposed = append(c.Exposed, port)
			}
			if cp.HostPort == 0 {
				continue
			}
			ips := nodeIPs(pod)
			if cp.HostIP != "" {
				ips = []string{cp.HostIP}
			}
			for _, ip := range ips {
				c.Ports = append(c.Ports, Binding{Port: port, HostIP: ip, HostPort: cp.HostPort})
			}
		}
	}
	sortPorts(c.Exposed)
	sortBindings(c.Ports)
	return c
}

// ordinal is the StatefulSet and ordinal of a pod it owns, named
// <statefulset>-<ordinal>; "" and -1 for any other pod.
func ordinal(m ObjectMeta) (string, int) {
	for _, o := range m.OwnerReferences {
		if o.Kind != "StatefulSet" {
			continue
		}
		n, ok := strings.CutPrefix(m.Name, o.Name+"-")
		if i, err := strconv.Atoi(n); ok && err == nil && i >= 0 && strconv.Itoa(i) == n {
			return o.Name, i
		}
	}
	return "", -1
}

// protocol is the API's TCP, UDP or SCTP as Docker writes it; the API
// server fills in TCP when a manifest leaves it out.
func protocol(p string) string {
	if p == "" {
		return "tcp"
	}
	return strings.ToLower(p)
}
