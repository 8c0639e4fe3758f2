package discover

import (
	"encoding/json"
	"strconv"
)

// The Kubernetes API's objects, decoded into only the fields portenv
// reads: the full types would link k8s.io/api and its generated code, and
// decoding a Pod would fill hundreds of fields no template asks for. The
// JSON names are the API's (core/v1).

// ObjectMeta is the part of an object's metadata portenv reads.
type ObjectMeta struct {
	Name            string            `json:"name"`
	Namespace       string            `json:"namespace"`
	UID             string            `json:"uid"`
	Labels          map[string]string `json:"labels"`
	OwnerReferences []OwnerReference  `json:"ownerReferences"`
}

// OwnerReference names what created an object: a pod's ReplicaSet,
// StatefulSet, DaemonSet or Job.
type OwnerReference struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
}

// Pod is GET /api/v1/namespaces/{namespace}/pods/{name}.
type Pod struct {
	Metadata ObjectMeta `json:"metadata"`
	Spec     PodSpec    `json:"spec"`
	Status   PodStatus  `json:"status"`
}

// PodSpec is where a pod runs and the ports its containers declare.
type PodSpec struct {
	NodeName    string         `json:"nodeName"`
	HostNetwork bool           `json:"hostNetwork"`
	Hostname    string         `json:"hostname"`
	Containers  []PodContainer `json:"containers"`
}

// PodContainer is one container of a pod. Its name tells which of a
// pod's containers declared a port.
type PodContainer struct {
	Name  string          `json:"name"`
	Image string          `json:"image"`
	Ports []ContainerPort `json:"ports"`
}

// ContainerPort is a port a container declares; HostPort, when not 0, is
// published on the node's HostIP (all of its addresses when "").
type ContainerPort struct {
	Name          string `json:"name"`
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort"`
	HostIP        string `json:"hostIP"`
	Protocol      string `json:"protocol"` // TCP, UDP or SCTP
}

// PodStatus is where the pod is reachable, once scheduled and started.
type PodStatus struct {
	Phase   string  `json:"phase"`
	PodIP   string  `json:"podIP"`
	PodIPs  []PodIP `json:"podIPs"`
	HostIP  string  `json:"hostIP"`
	HostIPs []PodIP `json:"hostIPs"`
}

// PodIP is one address of a pod or of its node, as podIPs and hostIPs
// list them (one per family in a dual-stack cluster).
type PodIP struct {
	IP string `json:"ip"`
}

// ServiceList is GET /api/v1/namespaces/{namespace}/services.
type ServiceList struct {
	Items []Service `json:"items"`
}

// Service is one Service: the pods its selector matches are reached
// through its ports.
type Service struct {
	Metadata ObjectMeta    `json:"metadata"`
	Spec     ServiceSpec   `json:"spec"`
	Status   ServiceStatus `json:"status"`
}

// ServiceSpec is a Service's kind, selector and ports.
type ServiceSpec struct {
	Type     string            `json:"type"` // ClusterIP, NodePort, LoadBalancer or ExternalName
	Selector map[string]string `json:"selector"`
	Ports    []ServicePort     `json:"ports"`
}

// ServicePort maps the Service's Port (and NodePort, on every node, for
// NodePort and LoadBalancer Services) to TargetPort of the pods.
type ServicePort struct {
	Name       string      `json:"name"`
	Port       int         `json:"port"`
	TargetPort IntOrString `json:"targetPort"`
	NodePort   int         `json:"nodePort"`
	Protocol   string      `json:"protocol"`
}

// IntOrString is a port given by its number or by the name of a
// container's port, as a Service's targetPort is. The API server fills in
// targetPort (as the port's number) when a Service leaves it out.
type IntOrString struct {
	Int int
	Str string // the container port's name; "" when Int holds the number
}

// UnmarshalJSON takes 8080 or "http".
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		v.Int = 0
		return json.Unmarshal(b, &v.Str)
	}
	v.Str = ""
	return json.Unmarshal(b, &v.Int)
}

func (v IntOrString) String() string {
	if v.Str != "" {
		return v.Str
	}
	return strconv.Itoa(v.Int)
}

// ServiceStatus holds the addresses a load balancer gave a Service.
type ServiceStatus struct {
	LoadBalancer LoadBalancerStatus `json:"loadBalancer"`
}

// LoadBalancerStatus lists a load balancer's addresses.
type LoadBalancerStatus struct {
	Ingress []LoadBalancerIngress `json:"ingress"`
}

// LoadBalancerIngress is one address of a load balancer: an IP, a
// hostname (as cloud load balancers give), or both.
type LoadBalancerIngress struct {
	IP       string `json:"ip"`
	Hostname string `json:"hostname"`
}

// Node is GET /api/v1/nodes/{name}.
type Node struct {
	Metadata ObjectMeta `json:"metadata"`
	Status   NodeStatus `json:"status"`
}

// NodeStatus lists a node's addresses.
type NodeStatus struct {
	Addresses []NodeAddress `json:"addresses"`
}

// NodeAddress is one address of a node.
type NodeAddress struct {
	Type    string `json:"type"` // InternalIP, ExternalIP, Hostname, InternalDNS or ExternalDNS
	Address string `json:"address"`
}
