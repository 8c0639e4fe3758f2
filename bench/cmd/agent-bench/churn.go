package main

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"
)

// pool holds the run's started containers that the churn may remove or
// restart; one restarted is busy until the restart ends.
type pool struct {
	mu   sync.Mutex
	ids  []string
	busy map[string]bool
	rng  *rand.Rand
	min  int
	max  int
}

func newPool() *pool {
	return &pool{busy: map[string]bool{}, rng: rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0))}
}

func (p *pool) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ids = append(p.ids, id)
	p.max = max(p.max, len(p.ids))
}

func (p *pool) size() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ids)
}

// resetRange starts a new record of the pool's smallest and largest size.
func (p *pool) resetRange() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.min, p.max = len(p.ids), len(p.ids)
}

func (p *pool) sizeRange() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.min, p.max
}

// pick chooses a container that is not busy, at random.
func (p *pool) pick() (int, bool) {
	for range 8 {
		if len(p.ids) == 0 {
			return 0, false
		}
		i := p.rng.IntN(len(p.ids))
		if !p.busy[p.ids[i]] {
			return i, true
		}
	}
	return 0, false
}

// takeForRemoval takes a container out of the pool, unless that would
// leave fewer than floor.
func (p *pool) takeForRemoval(floor int) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.ids) <= floor {
		return "", false
	}
	i, ok := p.pick()
	if !ok {
		return "", false
	}
	id := p.ids[i]
	p.ids[i] = p.ids[len(p.ids)-1]
	p.ids = p.ids[:len(p.ids)-1]
	p.min = min(p.min, len(p.ids))
	return id, true
}

func (p *pool) takeForRestart() (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, ok := p.pick()
	if !ok {
		return "", false
	}
	p.busy[p.ids[i]] = true
	return p.ids[i], true
}

func (p *pool) release(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.busy, id)
}

// phaseResult is what one churn phase did.
type phaseResult struct {
	start, end                   time.Time
	starts, removals, restarts   int
	startErr, removeErr, restErr int
	dropped                      [3]int // ticks skipped: workers busy (or, for removals, the pool at its floor)
	lastErr                      string
	minRunning, maxRunning       int
	policyRestarts               int           // start events the engine made on its own
	caughtUp                     time.Duration // from the phase's end to the records of all its starts
	behind                       int           // starts still unrecorded when -settle ended the wait
	events                       int           // events the agent follows, of every container, from sample to sample
}

// churn runs one phase: starts and removals at -rate, restarts at
// -restarts, each kind by -parallel workers; a tick that finds its workers
// all busy is dropped, so that what the engine sustains is measured, not
// a backlog.
func (r *run) churn(ctx context.Context) phaseResult {
	var ph phaseResult
	var mu sync.Mutex
	note := func(count, errs *int, err error) {
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			*errs++
			ph.lastErr = err.Error()
			return
		}
		*count++
	}
	startsBefore := r.track.action("start")
	r.pool.resetRange()
	pctx, cancel := context.WithTimeout(ctx, r.s.churn)
	defer cancel()
	ph.start = time.Now()
	floor := r.s.containers - r.s.parallel
	kinds := []struct {
		rate float64
		op   func() (bool, error) // false: nothing to do
		ok   *int
		errs *int
	}{
		{r.s.rate, func() (bool, error) { return true, r.startOne(ctx) }, &ph.starts, &ph.startErr},
		{r.s.rate, func() (bool, error) {
			id, ok := r.pool.takeForRemoval(floor)
			if !ok {
				return false, nil
			}
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			return true, r.eng.remove(cctx, id)
		}, &ph.removals, &ph.removeErr},
		{r.s.restarts, func() (bool, error) {
			id, ok := r.pool.takeForRestart()
			if !ok {
				return false, nil
			}
			defer r.pool.release(id)
			cctx, cancel := context.WithTimeout(ctx, time.Minute)
			defer cancel()
			return true, r.eng.restart(cctx, id)
		}, &ph.restarts, &ph.restErr},
	}
	var wg sync.WaitGroup
	for k, kind := range kinds {
		if kind.rate <= 0 {
			continue
		}
		jobs := make(chan struct{}, r.s.parallel)
		for range r.s.parallel {
			wg.Go(func() {
				for range jobs {
					did, err := kind.op()
					if !did {
						mu.Lock()
						ph.dropped[k]++
						mu.Unlock()
						continue
					}
					note(kind.ok, kind.errs, err)
				}
			})
		}
		wg.Go(func() {
			defer close(jobs)
			t := time.NewTicker(time.Duration(float64(time.Second) / kind.rate))
			defer t.Stop()
			for {
				select {
				case <-pctx.Done():
					return
				case <-t.C:
					select {
					case jobs <- struct{}{}:
					default:
						mu.Lock()
						ph.dropped[k]++
						mu.Unlock()
					}
				}
			}
		})
	}
	wg.Wait()
	ph.end = time.Now()
	ph.minRunning, ph.maxRunning = r.pool.sizeRange()
	// Give the benchmark's own event stream a moment to catch up.
	time.Sleep(200 * time.Millisecond)
	ph.policyRestarts = r.track.action("start") - startsBefore - ph.starts - ph.restarts
	return ph
}
