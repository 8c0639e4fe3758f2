package discover

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

const (
	idA = "86788f7eddd0306d068120b4ce367879a240f93728c20935e8f85dcc3a8449c3"
	idB = "5e2a0c2b6f1d4c6d9a3b1c7f0e8d2a4b6c8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a"
	idP = "3f9c1e0d8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d"
	idK = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

// Each fixture is a directory laid out as the container sees its files.
func TestParsersOnFixtures(t *testing.T) {
	for _, tc := range []struct {
		dir                             string
		mountinfo, cgroup, containerenv string
	}{
		{"docker-cgroup-v1", idA, idA, ""},
		{"docker-cgroup-v2-private", idB, "", ""},
		{"docker-systemd-driver", "", idB, ""},
		{"podman", idP, idP, idP},
		{"docker-desktop", idA, "", ""},
		{"kubernetes-sandbox", "", idK, ""},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			root := filepath.Join("testdata", tc.dir)
			check := func(file, want string, parse func(*os.File) (string, error)) {
				t.Helper()
				f, err := os.Open(filepath.Join(root, file))
				if errors.Is(err, os.ErrNotExist) && want == "" {
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				got, err := parse(f)
				if err != nil || got != want {
					t.Errorf("%s: got %q, %v; want %q", file, got, err, want)
				}
			}
			check("proc/self/mountinfo", tc.mountinfo, func(f *os.File) (string, error) { return idFromMountinfo(f) })
			check("proc/self/cgroup", tc.cgroup, func(f *os.File) (string, error) { return idFromCgroup(f) })
			check("run/.containerenv", tc.containerenv, func(f *os.File) (string, error) { return idFromContainerenv(f) })
		})
	}
}

func TestAmbiguousIsAnError(t *testing.T) {
	for _, file := range []string{"mountinfo", "cgroup"} {
		f, err := os.Open(filepath.Join("testdata/ambiguous/proc/self", file))
		if err != nil {
			t.Fatal(err)
		}
		parse := idFromMountinfo
		if file == "cgroup" {
			parse = idFromCgroup
		}
		id, err := parse(f)
		f.Close()
		var amb *ambiguousError
		if !errors.As(err, &amb) || id != "" {
			t.Fatalf("%s: got %q, %v; want an AmbiguousError", file, id, err)
		}
		want := "/proc/self/" + file + " names 2 different containers (86788f7eddd0, 5e2a0c2b6f1d); pass --container ID to say which one is this container"
		if err.Error() != want {
			t.Errorf("%s:\n got %q\nwant %q", file, err, want)
		}
	}
}

func TestCgroupPaths(t *testing.T) {
	for path, want := range map[string]string{
		"/docker/" + idA:                                    idA,
		"/system.slice/docker-" + idA + ".scope":            idA,
		"/machine.slice/libpod-" + idA + ".scope/container": idA,
		"/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/cri-containerd-" + idA + ".scope": idA,
		"/docker/" + idB + "/docker/" + idA: idA, // nested: the innermost is this one
		"/":                                 "",
		"/user.slice/user-1000.slice":       "",
		"/docker/" + idA[:63]:               "", // not a whole id
	} {
		if got := lastIDInCgroupPath(path); got != want {
			t.Errorf("%s: got %q, want %q", path, got, want)
		}
	}
}

func TestParsePort(t *testing.T) {
	for in, want := range map[string]string{
		"9092": "9092/tcp", "9092/tcp": "9092/tcp", "53/udp": "53/udp", "53/UDP": "53/udp", "2905/sctp": "2905/sctp",
		"0": "", "65536": "", "09092": "", "9092/icmp": "", "x": "", "": "", "-1": "", "+80": "",
	} {
		p, err := ParsePort(in)
		got := ""
		if err == nil {
			got = p.String()
		} else if msg := fmt.Sprintf("%q is not a container port; write it as 9092 or 53/udp", in); err.Error() != msg {
			t.Errorf("ParsePort(%q): %v, want %s", in, err, msg)
		}
		if got != want {
			t.Errorf("ParsePort(%q) = %q, want %q", in, got, want)
		}
	}
}
