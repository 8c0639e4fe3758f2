package discover

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// permissionError names what a user needs to fix a refused socket: the
// socket's owner and mode, and this process's ids.
func (e *Engine) permissionError() error {
	p := e.socketPath()
	gids, _ := os.Getgroups()
	groups := make([]string, 0, len(gids)+1)
	groups = append(groups, strconv.Itoa(os.Getgid()))
	for _, g := range gids {
		if g != os.Getgid() {
			groups = append(groups, strconv.Itoa(g))
		}
	}
	var st syscall.Stat_t
	if p == "" || syscall.Stat(p, &st) != nil {
		return fmt.Errorf("permission denied connecting to the engine at %s; this process runs as uid %d with gids %s; give this user access to the engine's socket, or point DOCKER_HOST at one it may use",
			e.Endpoint, os.Getuid(), strings.Join(groups, ","))
	}
	return fmt.Errorf("permission denied connecting to the Docker socket %s (owner uid %d, group id %d, mode %04o); this process runs as uid %d with gids %s; start the container with --group-add %d (group_add: [\"%d\"] in Compose), or as a user of group %d",
		p, st.Uid, st.Gid, st.Mode&0o7777, os.Getuid(), strings.Join(groups, ","), st.Gid, st.Gid, st.Gid)
}
