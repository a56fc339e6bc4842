package service

import (
	"context"
	"sync"
	"time"

	"github.com/flakeresolve/flakeresolve/solver"
)

// admission bounds the calls that resolve at once. A solve takes a core
// and the memory of its problem for up to its deadline, so without a
// bound a burst of hard requests shares the cores until every one of them
// overruns its deadline, and the calls that need no solve (a plain
// ListVersions) wait behind them. Calls beyond the bound wait in a queue
// of bounded length, in order, each until its own deadline; a call that
// finds the queue full is refused at once, so a client learns to back off
// instead of piling on.
type admission struct {
	mu      sync.Mutex
	running int
	max     int
	queue   []chan struct{} // the waiting calls, first first
	maxWait int
	obs     Observer
}

func newAdmission(max, maxQueue int, obs Observer) *admission {
	if max <= 0 {
		return nil
	}
	return &admission{max: max, maxWait: maxQueue, obs: obs}
}

// acquire waits for a place to solve, until ctx is done. It returns the
// function that gives the place back, or a *solver.LimitError: the queue
// was full (LimitConcurrency), or the call's deadline passed or it was
// cancelled while it waited (LimitDeadline).
func (a *admission) acquire(ctx context.Context) (func(), error) {
	if a == nil {
		return func() {}, nil
	}
	start := time.Now()
	a.mu.Lock()
	if a.running < a.max && len(a.queue) == 0 {
		a.running++
		a.report()
		a.mu.Unlock()
		a.obs.AdmissionWait(0, true)
		return a.release, nil
	}
	if len(a.queue) >= a.maxWait {
		waiting := len(a.queue)
		a.mu.Unlock()
		a.obs.AdmissionWait(0, false)
		return nil, &solver.LimitError{Limit: solver.LimitConcurrency, Value: waiting, Max: a.maxWait}
	}
	turn := make(chan struct{})
	a.queue = append(a.queue, turn)
	a.report()
	a.mu.Unlock()

	select {
	case <-turn:
		a.obs.AdmissionWait(time.Since(start), true)
		return a.release, nil
	case <-ctx.Done():
	}
	a.mu.Lock()
	for i, c := range a.queue {
		if c == turn {
			a.queue = append(a.queue[:i], a.queue[i+1:]...)
			a.report()
			a.mu.Unlock()
			a.obs.AdmissionWait(time.Since(start), false)
			return nil, &solver.LimitError{Limit: solver.LimitDeadline, Canceled: ctx.Err() == context.Canceled, Stats: solver.Stats{Duration: time.Since(start)}}
		}
	}
	// The place was handed over as the deadline passed: give it back.
	a.mu.Unlock()
	a.release()
	a.obs.AdmissionWait(time.Since(start), false)
	return nil, &solver.LimitError{Limit: solver.LimitDeadline, Canceled: ctx.Err() == context.Canceled, Stats: solver.Stats{Duration: time.Since(start)}}
}

// release hands the place to the first waiting call, or frees it.
func (a *admission) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.queue) > 0 {
		close(a.queue[0])
		a.queue = a.queue[1:]
	} else {
		a.running--
	}
	a.report()
}

// report tells the observer the state; a.mu is held.
func (a *admission) report() { a.obs.AdmissionState(a.running, len(a.queue)) }
