// Package backoff is the one wait between tries of portenv: from a first
// wait, doubled after each try, up to a longest one.
package backoff

import (
	"context"
	"time"
)

// Backoff is a wait that doubles from First up to Max.
type Backoff struct {
	First, Max time.Duration
	next       time.Duration
}

// Next is the wait that Wait would take now.
func (b *Backoff) Next() time.Duration {
	if b.next == 0 {
		b.next = min(b.First, b.Max)
	}
	return b.next
}

// Reset makes the next wait the first again.
func (b *Backoff) Reset() { b.next = 0 }

// Wait waits the next wait, doubles it for the time after, and reports
// false when ctx ended first.
func (b *Backoff) Wait(ctx context.Context) bool {
	t := time.NewTimer(b.Next())
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	}
	b.next = min(2*b.next, b.Max)
	return true
}
