package backoff

import (
	"context"
	"testing"
	"time"
)

func TestWaitsDouble(t *testing.T) {
	b := Backoff{First: time.Millisecond, Max: 5 * time.Millisecond}
	var got []time.Duration
	for range 5 {
		got = append(got, b.Next())
		if !b.Wait(context.Background()) {
			t.Fatal("Wait reported an ended context")
		}
	}
	want := []time.Duration{1, 2, 4, 5, 5}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v; want 1ms, 2ms, 4ms, 5ms, 5ms", got)
		}
	}
	b.Reset()
	if n := b.Next(); n != time.Millisecond {
		t.Errorf("after Reset the next wait is %v; want 1ms", n)
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Backoff{First: time.Hour, Max: time.Hour}
	if b.Wait(ctx) {
		t.Error("Wait on an ended context reported true")
	}
	if n := b.Next(); n != time.Hour {
		t.Errorf("an ended wait changed the next one to %v", n)
	}
}
