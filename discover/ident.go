package discover

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// The mounts a container engine sets up from files it keeps in a
// per-container directory: their source path carries the container's id.
var identityMounts = map[string]bool{
	"/etc/hostname":      true,
	"/etc/hosts":         true,
	"/etc/resolv.conf":   true,
	"/run/.containerenv": true,
}

// AmbiguousError says that one source named more than one container.
// portenv never guesses between them.
type ambiguousError struct {
	Source string
	IDs    []string
}

func (e *ambiguousError) Error() string {
	return fmt.Sprintf("%s names %d different containers (%s); pass --container ID to say which one is this container",
		e.Source, len(e.IDs), strings.Join(shortIDs(e.IDs), ", "))
}

func shortIDs(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = ShortID(id)
	}
	return out
}

// idFromMountinfo returns the container id found in the sources of the
// mounts on /etc/hostname, /etc/hosts, /etc/resolv.conf and
// /run/.containerenv, as /proc/self/mountinfo lists them. It returns "" when
// none holds one. A Kubernetes pod's sandbox id (a parent directory named
// "sandboxes") is not the container's and is skipped.
func idFromMountinfo(r io.Reader) (string, error) {
	return idByLine(r, "/proc/self/mountinfo", func(line string) string {
		// 36 35 98:0 /root /mountpoint options... - fstype source super
		f := strings.Fields(line)
		if len(f) < 5 || !identityMounts[f[4]] {
			return ""
		}
		return idInPath(f[3])
	})
}

// idByLine reads the ids that idOf finds in the lines of source, which
// must agree on one.
func idByLine(r io.Reader, source string, idOf func(line string) string) (string, error) {
	var ids []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if id := idOf(sc.Text()); id != "" {
			ids = appendNew(ids, id)
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return one(source, ids)
}

// idInPath finds the last path element that is a container id, skipping
// those under a "sandboxes" directory.
func idInPath(p string) string {
	parts := strings.Split(p, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		if isID(parts[i]) && (i == 0 || parts[i-1] != "sandboxes") {
			return parts[i]
		}
	}
	return ""
}

// idFromCgroup returns the container id in /proc/self/cgroup, for cgroup v1
// and v2 paths as Docker, containerd and Podman name them: "/docker/<id>",
// "/system.slice/docker-<id>.scope", "/machine.slice/libpod-<id>.scope",
// "/kubepods/.../<id>". It returns "" when no path holds one, as with a
// private cgroup namespace ("0::/").
func idFromCgroup(r io.Reader) (string, error) {
	return idByLine(r, "/proc/self/cgroup", func(line string) string {
		// hierarchy-id:controllers:path
		_, rest, ok := strings.Cut(line, ":")
		if !ok {
			return ""
		}
		_, path, ok := strings.Cut(rest, ":")
		if !ok {
			return ""
		}
		return lastIDInCgroupPath(path)
	})
}

// lastIDInCgroupPath takes the innermost id, so that a container nested in
// another (Docker in Docker without a cgroup namespace) names itself.
func lastIDInCgroupPath(p string) string {
	parts := strings.Split(p, "/")
	for i := len(parts) - 1; i >= 0; i-- {
		s := strings.TrimSuffix(parts[i], ".scope")
		if j := strings.LastIndexAny(s, "-:"); j >= 0 {
			s = s[j+1:]
		}
		if isID(s) {
			return s
		}
	}
	return ""
}

// idFromContainerenv returns the id= value of Podman's /run/.containerenv.
func idFromContainerenv(r io.Reader) (string, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "id="); ok {
			v = strings.Trim(v, `"`)
			if isID(v) {
				return v, nil
			}
		}
	}
	return "", sc.Err()
}

func one(source string, ids []string) (string, error) {
	switch len(ids) {
	case 0:
		return "", nil
	case 1:
		return ids[0], nil
	}
	return "", &ambiguousError{Source: source, IDs: ids}
}

func appendNew(ids []string, id string) []string {
	if slices.Contains(ids, id) {
		return ids
	}
	return append(ids, id)
}

// isID reports whether s is a full container id: 64 lower-case hex digits.
func isID(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
