package discover

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// processStart returns when process pid of this process's view of /proc
// (under root) was created, on the wall clock, rounded down: the kernel
// keeps the start as clock ticks since boot, so the true start lies
// within one tick (10 ms) after the time returned. now and boottime read
// the wall clock and the time since boot, back to back.
func processStart(root string, pid int, now func() time.Time, boottime func() (time.Duration, error)) (time.Time, error) {
	file := filepath.Join(root, "/proc", strconv.Itoa(pid), "stat")
	data, err := os.ReadFile(file)
	if err != nil {
		return time.Time{}, err
	}
	ticks, err := startTicks(string(data))
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: %v", file, err)
	}
	up, err := boottime()
	if err != nil {
		return time.Time{}, fmt.Errorf("cannot read the time since boot: %v", err)
	}
	wall := now()
	hz := clockTicks()
	since := time.Duration(ticks/hz)*time.Second + time.Duration(ticks%hz)*time.Second/time.Duration(hz)
	return wall.Add(since - up), nil
}

// startTicks reads field 22, starttime, of a /proc/<pid>/stat line. The
// second field, the command in parentheses, may hold spaces and
// parentheses itself, so fields are counted after its last ")".
func startTicks(stat string) (uint64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("not a process status line")
	}
	// After ")": state (field 3) ... starttime (field 22) is the 20th.
	f := strings.Fields(stat[i+1:])
	if len(f) < 20 {
		return 0, errors.New("the status line is cut short")
	}
	t, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("start time %q is not a number", f[19])
	}
	return t, nil
}

// bootClock is the time since boot, sleep included (CLOCK_BOOTTIME), the
// clock that process start times count on.
func bootClock() (time.Duration, error) {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts); err != nil {
		return 0, err
	}
	return time.Duration(ts.Nano()), nil
}

// clockTicks is the kernel's USER_HZ, the unit of process start times: the
// AT_CLKTCK entry of this process's auxiliary vector, 100 where it cannot
// be read (its value on every common architecture).
var clockTicks = sync.OnceValue(func() uint64 {
	const atClkTck = 17
	data, err := os.ReadFile("/proc/self/auxv")
	if err != nil {
		return 100
	}
	// Pairs of machine words: type, value.
	word := func(b []byte) uint64 {
		if strconv.IntSize == 32 {
			return uint64(binary.NativeEndian.Uint32(b))
		}
		return binary.NativeEndian.Uint64(b)
	}
	w := strconv.IntSize / 8
	for i := 0; i+2*w <= len(data); i += 2 * w {
		k, v := word(data[i:]), word(data[i+w:])
		if k == atClkTck && v > 0 {
			return v
		}
		if k == 0 {
			break
		}
	}
	return 100
})
