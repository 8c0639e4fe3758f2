package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clientUID is the user the Kafka client runs as: the rule of restrict
// keeps it from the pods' own addresses, as a client outside the cluster
// is kept from them, while the node's address (NodePorts) stays open.
const clientUID = 40213

// restrictRule is the iptables rule, in the cluster's network namespace:
// a connection of clientUID whose original destination (before
// kube-proxy's translation) is a pod's address is refused; one to the
// node's address, translated to a pod by a NodePort, is not.
func restrictRule() []string {
	return []string{"OUTPUT", "-p", "tcp", "-m", "owner", "--uid-owner", strconv.Itoa(clientUID),
		"-m", "conntrack", "--ctorigdst", cl.podCIDR, "-m", "conntrack", "!", "--ctorigdst", cl.nodeIP + "/32",
		"-m", "comment", "--comment", "portenv-e2e-cluster", "-j", "REJECT", "--reject-with", "tcp-reset"}
}

// restrict puts the rule in place until the test ends.
func restrict(t *testing.T) {
	t.Helper()
	if cl.podCIDR == "" || cl.nodeIP == "" {
		t.Fatal("PORTENV_E2E_K8S_POD_CIDR or PORTENV_E2E_K8S_NODE_IP is not set: .ci/k8s.sh run sets them")
	}
	if out, err := exec.Command("iptables", append([]string{"-w", "-I"}, restrictRule()...)...).CombinedOutput(); err != nil {
		t.Fatalf("iptables -I %s: %v: %s", strings.Join(restrictRule(), " "), err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("iptables", append([]string{"-w", "-D"}, restrictRule()...)...).CombinedOutput(); err != nil {
			t.Errorf("iptables -D: %v: %s", err, out)
		}
	})
}

// runClient runs the Kafka example's client on the node: as clientUID
// (see restrict) unless asRoot. It bootstraps through bootstrap and
// checks that the brokers advertise brokers and serve there, or with
// fail that they advertise brokers and cannot be used. The check failing
// fails the test.
func runClient(t *testing.T, asRoot bool, bootstrap string, brokers map[int]string, fail bool) {
	t.Helper()
	var ids []int
	for id := range brokers {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	var bs []string
	for _, id := range ids {
		bs = append(bs, fmt.Sprintf("%d=%s", id, brokers[id]))
	}
	args := []string{"-bootstrap", bootstrap, "-brokers", strings.Join(bs, ",")}
	if fail {
		args = append(args, "-fail")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cl.client, args...)
	who := "root"
	if !asRoot {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: clientUID, Gid: clientUID}}
		who = fmt.Sprintf("uid %d (no pod address)", clientUID)
	}
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("client %s, as %s, %s:\n%s", strings.Join(args, " "), who, time.Since(t0).Round(100*time.Millisecond), strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("the client's check failed: %v", err)
	}
}
