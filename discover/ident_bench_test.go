package discover

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchID stands for a container's id in the inputs built below.
const benchID = "936e8a97b58900ad7bb65f91a4deabaf6e8d8ecb73dc35333dd973e8c43c073a"

// docker2010Mountinfo is /proc/self/mountinfo as a container of Docker
// Engine 20.10 on cgroup v1 sees it, with the socket mounted: the input of
// the common case, longer than the fixtures, which keep only the lines
// that matter to the parser.
var docker2010Mountinfo = strings.ReplaceAll(`156 78 0:61 / / rw,relatime master:4 - overlay overlay rw,lowerdir=/var/lib/docker/overlay2/l/3LDYYIL72GDOMSMNWEKNNBCMVJ:/var/lib/docker/overlay2/l/E4I4NCJQRKZO6QZLTLDS4RG3AC,upperdir=/var/lib/docker/overlay2/36547ea2f82e87c59977d00e4f3313316b878342b16c456a81ae495dc18c77c2/diff,workdir=/var/lib/docker/overlay2/36547ea2f82e87c59977d00e4f3313316b878342b16c456a81ae495dc18c77c2/work
157 156 0:64 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw
158 156 0:65 / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
159 158 0:66 / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666
160 156 0:67 / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro
161 160 0:68 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,mode=755
162 161 0:29 /docker/{id} /sys/fs/cgroup/cpu ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu
163 161 0:30 /docker/{id} /sys/fs/cgroup/cpuacct ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpuacct
164 161 0:31 /docker/{id} /sys/fs/cgroup/cpuset ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpuset
165 161 0:32 /docker/{id} /sys/fs/cgroup/memory ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory
166 161 0:33 /docker/{id} /sys/fs/cgroup/devices ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,devices
167 161 0:34 /docker/{id} /sys/fs/cgroup/freezer ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,freezer
168 161 0:35 /docker/{id} /sys/fs/cgroup/blkio ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,blkio
169 161 0:36 /docker/{id} /sys/fs/cgroup/pids ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,pids
170 161 0:37 /docker/{id} /sys/fs/cgroup/systemd ro,nosuid,nodev,noexec,relatime - cgroup cgroup rw,name=systemd
171 158 0:63 / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw
172 158 0:69 / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k
173 156 254:0 /var/lib/docker/containers/{id}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/vda rw,discard
174 156 254:0 /var/lib/docker/containers/{id}/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw,discard
175 156 254:0 /var/lib/docker/containers/{id}/hosts /etc/hosts rw,relatime - ext4 /dev/vda rw,discard
176 156 254:0 /run/docker.sock /var/run/docker.sock rw,relatime - ext4 /dev/vda rw,discard
79 157 0:64 /bus /proc/bus ro,nosuid,nodev,noexec,relatime - proc proc rw
80 157 0:64 /fs /proc/fs ro,nosuid,nodev,noexec,relatime - proc proc rw
81 157 0:64 /irq /proc/irq ro,nosuid,nodev,noexec,relatime - proc proc rw
82 157 0:64 /sys /proc/sys ro,nosuid,nodev,noexec,relatime - proc proc rw
83 157 0:70 / /proc/acpi ro,relatime - tmpfs tmpfs ro
84 157 0:65 /null /proc/keys rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
85 157 0:65 /null /proc/timer_list rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755
86 160 0:71 / /sys/firmware ro,relatime - tmpfs tmpfs ro
`, "{id}", benchID)

// docker2010Cgroup is the same container's /proc/self/cgroup.
var docker2010Cgroup = strings.ReplaceAll(`9:name=systemd:/docker/{id}
8:pids:/docker/{id}
7:blkio:/docker/{id}
6:freezer:/docker/{id}
5:devices:/docker/{id}
4:memory:/docker/{id}
3:cpuset:/docker/{id}
2:cpuacct:/docker/{id}
1:cpu:/docker/{id}
0::/docker/{id}
`, "{id}", benchID)

type benchInput struct {
	name string
	data []byte
}

// inputs returns the realistic input and every fixture's copy of file
// (as found under testdata/*/proc/self), skipping those whose mounts name
// two containers: that path is not the one run at every start.
func inputs(b *testing.B, realistic, file string) []benchInput {
	in := []benchInput{{"docker-20.10", []byte(realistic)}}
	dirs, _ := filepath.Glob(filepath.Join("testdata", "*", "proc", "self"))
	for _, d := range dirs {
		name := filepath.Base(filepath.Dir(filepath.Dir(d)))
		if name == "ambiguous" || name == "podman-pod" {
			continue
		}
		data, err := os.ReadFile(filepath.Join(d, file))
		if err != nil {
			b.Fatal(err)
		}
		in = append(in, benchInput{name, data})
	}
	return in
}

func BenchmarkMountinfo(b *testing.B) {
	for _, in := range inputs(b, docker2010Mountinfo, "mountinfo") {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if _, err := idFromMountinfo(bytes.NewReader(in.data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkCgroup(b *testing.B) {
	for _, in := range inputs(b, docker2010Cgroup, "cgroup") {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.data)))
			for b.Loop() {
				if _, err := idFromCgroup(bytes.NewReader(in.data)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// The parsers must find the id in the realistic inputs, or the benchmark
// above would time the "nothing found" path.
func TestBenchInputsHoldTheID(t *testing.T) {
	if id, err := idFromMountinfo(strings.NewReader(docker2010Mountinfo)); id != benchID || err != nil {
		t.Errorf("idFromMountinfo = %q, %v", id, err)
	}
	if id, err := idFromCgroup(strings.NewReader(docker2010Cgroup)); id != benchID || err != nil {
		t.Errorf("idFromCgroup = %q, %v", id, err)
	}
}
