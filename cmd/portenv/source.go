package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/portenv/portenv/discover"
)

// The sources portenv reads its container from (PORTENV_SOURCE, --source);
// --from names a third, the records of portenv agent.
const (
	sourceAuto       = "auto"
	sourceDocker     = "docker"
	sourceKubernetes = "kubernetes"
)

var sources = []string{sourceAuto, sourceDocker, sourceKubernetes}

// where holds the places a pod's facts are read from; tests point them at
// their own fixtures.
var where = struct {
	serviceAccount string
	dockerSocket   string
	hostname       func() (string, error)
	localIPs       func() ([]string, error) // nil: this process's interfaces
}{
	serviceAccount: discover.DefaultServiceAccountDir,
	dockerSocket:   strings.TrimPrefix(discover.DefaultHost, "unix://"),
	hostname:       os.Hostname,
}

// checkSource refuses a source no run can use; from names it as given.
func checkSource(source, records string, from func(flagName, variable string) string) error {
	switch {
	case source != sourceAuto && source != sourceDocker && source != sourceKubernetes:
		return usagef("%s%q: use one of %s", from("source", "SOURCE"), source, strings.Join(sources, ", "))
	case source == sourceKubernetes && records != "":
		return usagef("%skubernetes and --from %s contradict each other: --from reads the records of portenv agent, which runs beside a Docker engine; give one", from("source", "SOURCE"), records)
	}
	return nil
}

// source decides where the container is read from, and says why: --from
// names the agent's records; PORTENV_SOURCE=docker or kubernetes forces
// one; otherwise DOCKER_HOST or the Docker socket means the engine, and a
// pod's environment (KUBERNETES_SERVICE_HOST) without either means the
// cluster's API. Anything else is the engine, whose error says what is
// missing.
func (t target) sourceOf(env environ) (source, why string) {
	switch {
	case t.from != "":
		return "records", "--from"
	case t.source == sourceDocker || t.source == sourceKubernetes:
		return t.source, "PORTENV_SOURCE=" + t.source
	case env.get("DOCKER_HOST") != "":
		return sourceDocker, "DOCKER_HOST is set"
	}
	if _, err := os.Lstat(where.dockerSocket); err == nil {
		return sourceDocker, where.dockerSocket + " exists"
	}
	if discover.InCluster(env.get) {
		return sourceKubernetes, "no Docker socket and no DOCKER_HOST"
	}
	return sourceDocker, "the default"
}

// fromCluster finds this pod through the Kubernetes API, as its service
// account.
func (s *session) fromCluster(ctx context.Context, t target, env environ, log logSink) (*discover.Container, error) {
	k, err := discover.ConnectKube(env.get, where.serviceAccount)
	if err != nil {
		return nil, err
	}
	s.kube, s.close = k, k.Close
	log.Debugf("Kubernetes API at %s, namespace %s", k.Endpoint, k.Namespace)
	c, tried, err := discover.FromCluster(ctx, discover.ClusterOptions{Kube: k, Container: t.container, Getenv: env.get,
		Hostname: where.hostname, LocalIPs: where.localIPs, Infof: log.Infof, Timeout: t.timeout})
	s.tried = tried
	if err != nil {
		return nil, err
	}
	// A pod's host is its node: .Host.Name is the node's name.
	s.info = func() (string, string, error) { return c.Pod.NodeName, "", nil }
	return c, nil
}

// clusterLine is doctor's first line with this source.
func clusterLine(s *session, env environ, why string) string {
	if k := s.kube; k != nil {
		return fmt.Sprintf("Cluster: https://%s (in a pod, namespace %s; %s)", k.Endpoint, k.Namespace, why)
	}
	host, port := env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
	return fmt.Sprintf("Cluster: https://%s (KUBERNETES_SERVICE_HOST and _PORT; %s)", net.JoinHostPort(host, port), why)
}
