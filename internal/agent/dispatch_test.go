package agent

import (
	"slices"
	"sync"
	"testing"
	"time"
)

// Changes of one container are applied in order, one at a time, those
// that wait by one reading; a slow change of one container does not hold
// back another's; a mark waits for every change received before it, and
// no longer.
func TestDispatcher(t *testing.T) {
	var mu sync.Mutex
	var applied []string
	release := make(chan struct{})
	d := newDispatcher(2, func(id, action string) {
		if id == "slow" {
			<-release
		}
		mu.Lock()
		applied = append(applied, id+":"+action)
		mu.Unlock()
	})
	d.add("slow", "start")
	d.add("a", "start")
	d.add("a", "die")    // waits for a:start
	d.add("a", "rename") // read once with a:die
	d.add("b", "start")  // waits: two workers, one held by slow
	t0 := time.Unix(100, 0)
	d.markAt(t0)
	for range 3 { // a:start, a:rename, b:start
		d.finished(<-d.done)
	}
	if _, ok := d.markable(); ok {
		t.Error("marked while slow:start, received before the mark, is not applied")
	}
	d.add("slow", "die")     // after the mark: not waited for,
	d.add("slow", "destroy") // and read once with slow:die, as final
	close(release)
	for range 2 {
		c := <-d.done
		d.finished(c)
	}
	d.wait()
	if at, ok := d.markable(); !ok || !at.Equal(t0) {
		t.Errorf("markable() = %v, %v; want %v once every change before it is applied", at, ok, t0)
	}
	mu.Lock()
	defer mu.Unlock()
	order := func(id string) []string {
		var out []string
		for _, s := range applied {
			if len(s) > len(id) && s[:len(id)+1] == id+":" {
				out = append(out, s)
			}
		}
		return out
	}
	if got := order("a"); !slices.Equal(got, []string{"a:start", "a:rename"}) {
		t.Errorf("container a's changes applied as %v", got)
	}
	if got := order("slow"); !slices.Equal(got, []string{"slow:start", "slow:destroy"}) {
		t.Errorf("container slow's changes applied as %v", got)
	}
	if i, j := slices.Index(applied, "b:start"), slices.Index(applied, "slow:start"); i < 0 || j < 0 || i > j {
		t.Errorf("applied %v: b waited for slow", applied)
	}
}
