package service

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/flakeresolve/flakeresolve/solver"
)

// recorder is an Observer that keeps the last state reported.
type recorder struct {
	nopObserver
	running, waiting int
}

func (r *recorder) AdmissionState(running, waiting int) { r.running, r.waiting = running, waiting }

// TestAdmission: places are taken up to the bound; further calls queue up
// to the queue's bound and are refused beyond it; a queued call whose
// deadline passes leaves the queue with a deadline error; a released place
// goes to the first call waiting.
func TestAdmission(t *testing.T) {
	obs := &recorder{}
	a := newAdmission(1, 2, obs)
	ctx := context.Background()
	release, err := a.acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		release func()
		err     error
	}
	first, second := make(chan result, 1), make(chan result, 1)
	go func() { r, err := a.acquire(ctx); first <- result{r, err} }()
	waitFor(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return len(a.queue) == 1 })
	go func() { r, err := a.acquire(ctx); second <- result{r, err} }()
	waitFor(t, func() bool { a.mu.Lock(); defer a.mu.Unlock(); return len(a.queue) == 2 })
	if obs.running != 1 || obs.waiting != 2 {
		t.Errorf("reported %d running, %d waiting; want 1 and 2", obs.running, obs.waiting)
	}

	_, err = a.acquire(ctx)
	var le *solver.LimitError
	if !errors.As(err, &le) || le.Limit != solver.LimitConcurrency || le.Value != 2 || le.Max != 2 {
		t.Errorf("a call finding the queue full: %v", err)
	}

	release()
	r := <-first
	if r.err != nil {
		t.Fatalf("the first call waiting: %v", r.err)
	}
	select {
	case r := <-second:
		t.Fatalf("the second call got a place while the first holds the only one: %v", r.err)
	default:
	}
	r.release()
	if r := <-second; r.err != nil {
		t.Fatalf("the second call waiting: %v", r.err)
	} else {
		r.release()
	}
	if obs.running != 0 || obs.waiting != 0 {
		t.Errorf("after every release: %d running, %d waiting", obs.running, obs.waiting)
	}

	// A call that waits past its deadline leaves the queue.
	hold, _ := a.acquire(ctx)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	_, err = a.acquire(short)
	if !errors.As(err, &le) || le.Limit != solver.LimitDeadline || le.Canceled {
		t.Errorf("a call whose deadline passed in the queue: %v", err)
	}
	gone, cancel2 := context.WithCancel(ctx)
	cancel2()
	_, err = a.acquire(gone)
	if !errors.As(err, &le) || le.Limit != solver.LimitDeadline || !le.Canceled {
		t.Errorf("a call cancelled in the queue: %v", err)
	}
	hold()
	if obs.running != 0 || obs.waiting != 0 || len(a.queue) != 0 {
		t.Errorf("after the deadlines: %d running, %d waiting", obs.running, obs.waiting)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for range 5000 {
		if cond() {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the condition never held")
}
