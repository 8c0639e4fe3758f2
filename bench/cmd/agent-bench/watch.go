package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/portenv/portenv/discover"
)

// watcher notes when each record of the benchmark's containers first holds
// a given start: it follows the records' directory with inotify (the agent
// renames each record into place whole), and reads a record as soon as it
// is renamed.
type watcher struct {
	dir   string
	label string // the run's label key; its records only
	value string
	f     *os.File

	mu       sync.Mutex
	seen     map[string]map[string]time.Time // id -> startedAt -> first seen
	reads    int
	overflow int
	bad      int
	done     chan struct{}
}

func newWatcher(dir, label, value string) (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %v", err)
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_MOVED_TO); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("inotify on %s: %v", dir, err)
	}
	// A non-blocking descriptor is read through the runtime's poller, so
	// that Close ends the reading goroutine.
	w := &watcher{dir: dir, label: label, value: value, f: os.NewFile(uintptr(fd), "inotify"),
		seen: map[string]map[string]time.Time{}, done: make(chan struct{})}
	go w.loop()
	return w, nil
}

func (w *watcher) loop() {
	defer close(w.done)
	buf := make([]byte, 64<<10)
	for {
		n, err := w.f.Read(buf)
		if err != nil {
			return
		}
		at := time.Now()
		var names []string
		for off := 0; off+unix.SizeofInotifyEvent <= n; {
			ev := (*unix.InotifyEvent)(unsafe.Pointer(&buf[off]))
			nameBytes := buf[off+unix.SizeofInotifyEvent : off+unix.SizeofInotifyEvent+int(ev.Len)]
			off += unix.SizeofInotifyEvent + int(ev.Len)
			if ev.Mask&unix.IN_Q_OVERFLOW != 0 {
				w.mu.Lock()
				w.overflow++
				w.mu.Unlock()
				w.rescan(at)
				continue
			}
			name := string(bytes.TrimRight(nameBytes, "\x00"))
			if strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".") && name != discover.MarkerFile {
				names = append(names, name)
			}
		}
		for _, name := range names {
			w.read(name, at)
		}
	}
}

// rescan reads every record, after the kernel dropped notifications.
func (w *watcher) rescan(at time.Time) {
	entries, _ := os.ReadDir(w.dir)
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".json") && !strings.HasPrefix(name, ".") && name != discover.MarkerFile {
			w.read(name, at)
		}
	}
}

// read notes the start the record holds, if it is the first record seen
// of that start.
func (w *watcher) read(name string, at time.Time) {
	rec, err := readRecord(filepath.Join(w.dir, name))
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reads++
	if errors.Is(err, os.ErrNotExist) {
		return // removed since
	}
	if err != nil {
		w.bad++
		return
	}
	c := rec.Container
	if c.Labels[w.label] != w.value {
		return
	}
	starts := w.seen[c.ID]
	if starts == nil {
		starts = map[string]time.Time{}
		w.seen[c.ID] = starts
	}
	if _, ok := starts[c.StartedAt]; !ok {
		starts[c.StartedAt] = at
	}
}

func readRecord(path string) (*discover.Record, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return discover.DecodeRecord(bytes.NewReader(data))
}

// starts returns, for container id, when each start time was first seen in
// its record.
func (w *watcher) starts(id string) map[string]time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make(map[string]time.Time, len(w.seen[id]))
	for k, v := range w.seen[id] {
		out[k] = v
	}
	return out
}

func (w *watcher) stats() (reads, overflow, bad int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reads, w.overflow, w.bad
}

func (w *watcher) close() {
	w.f.Close()
	<-w.done
}
