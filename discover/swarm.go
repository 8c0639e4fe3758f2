package discover

import (
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
