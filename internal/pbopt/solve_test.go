package pbopt

import (
	"context"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
)

// ecoInstance is the request-th problem on the generated ecosystem of n flakes.
func ecoInstance(t testing.TB, n int, request uint64) *flakeInstance {
	t.Helper()
	e := ecosystem.Generate(n, 1)
	in, err := newFlakeInstance(e.Index, e.Request(20, request))
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// hubInstance has 200 libraries whose versions each need a range of a hub
// with 2,000 versions: seconds to prove optimal.
func hubInstance(t testing.TB) *flakeInstance {
	t.Helper()
	idx, req := hubIndex(rand.New(rand.NewPCG(1, 2)), 2000, 200, 10, 100)
	in, err := newFlakeInstance(idx, req)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// checkResult fails unless r is consistent: a model satisfying p, whose
// costs are the upper bounds, each at least its lower bound.
func checkResult(t *testing.T, p *Problem, r *Result) {
	t.Helper()
	if r.Model == nil {
		t.Fatalf("no model: %+v", r.Status)
	}
	if !satisfies(p, r.Model) {
		t.Fatal("the model violates the constraints")
	}
	for l, b := range r.Levels {
		if c := p.Levels[l].Cost(r.Model); b.Upper != c || b.Lower > b.Upper || b.Proven != (b.Lower == b.Upper) {
			t.Fatalf("level %d: bounds %+v for a model costing %d", l, b, c)
		}
	}
}

// TestWorkBudgetDeterministic: a solve cut by a work budget ends with the
// same result every run, within the budget.
func TestWorkBudgetDeterministic(t *testing.T) {
	in := ecoInstance(t, 100, 0)
	full, err := Solve(context.Background(), in.p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if full.Status != Optimal {
		t.Fatalf("unbounded solve: %v", full.Status)
	}
	for _, budget := range []int64{5_000, 40_000, 120_000} {
		var runs []*Result
		for range 2 {
			r, err := Solve(context.Background(), in.p, Options{Work: budget})
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, in.p, r)
			if r.Work > budget {
				t.Fatalf("budget %d: spent %d", budget, r.Work)
			}
			for l, b := range r.Levels {
				if opt := full.Levels[l].Upper; b.Lower > opt && allProven(r.Levels[:l]) {
					t.Fatalf("budget %d: level %d lower bound %d above the optimum %d", budget, l, b.Lower, opt)
				}
			}
			runs = append(runs, r)
		}
		if diff := cmp.Diff(runs[0], runs[1]); diff != "" {
			t.Fatalf("budget %d: two runs differ (-first +second):\n%s", budget, diff)
		}
		if runs[0].Status == Optimal {
			t.Fatalf("budget %d: proven optimal; want budgets that cut the search", budget)
		}
	}
}

func allProven(bs []Bounds) bool {
	for _, b := range bs {
		if !b.Proven {
			return false
		}
	}
	return true
}

// TestParallel solves problems in many goroutines at once (go test -race):
// each gets the result it gets alone.
func TestParallel(t *testing.T) {
	var ps []*Problem
	for seed := range uint64(64) {
		ps = append(ps, randCover(rand.New(rand.NewPCG(seed, 9))))
	}
	ps = append(ps, ecoInstance(t, 100, 1).p, ecoInstance(t, 100, 2).p)
	alone := make([]*Result, len(ps))
	for i, p := range ps {
		r, err := Solve(context.Background(), p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		alone[i] = r
	}
	together := make([]*Result, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			r, err := Solve(context.Background(), p, Options{})
			if err != nil {
				t.Error(err)
			}
			together[i] = r
		})
	}
	wg.Wait()
	if diff := cmp.Diff(alone, together); diff != "" {
		t.Fatalf("solved together, problems get other results (-alone +together):\n%s", diff)
	}
}

// TestCancelled covers the ways a search ends early.
func TestCancelled(t *testing.T) {
	in := hubInstance(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	t.Run("context done before the start", func(t *testing.T) {
		r, err := Solve(cancelled, in.p, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != Unknown || r.Model != nil || r.Work != 0 {
			t.Fatalf("got %v with work %d, want unknown and no work", r.Status, r.Work)
		}
	})
	t.Run("seed kept when stopped at once", func(t *testing.T) {
		first, err := Solve(context.Background(), in.p, Options{Work: 20_000})
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, in.p, first)
		r, err := Solve(cancelled, in.p, Options{Seed: first.Model})
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, in.p, r)
		if r.Status != Feasible || !cmp.Equal(r.Model, first.Model) {
			t.Fatalf("got %v, want the seed back, feasible", r.Status)
		}
	})
	t.Run("Stop during the search", func(t *testing.T) {
		var calls atomic.Int64
		r, err := Solve(context.Background(), in.p, Options{Stop: func() bool { return calls.Add(1) > 2_000 }})
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, in.p, r)
		if r.Status == Optimal {
			t.Fatal("proven optimal; want a search stopped before")
		}
	})
	t.Run("context cancelled during the search", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var calls atomic.Int64
		// The search polls Stop as often as the context: cancel from
		// another goroutine once it has run a while.
		go func() {
			for calls.Load() < 5_000 {
				runtime.Gosched()
			}
			cancel()
		}()
		r, err := Solve(ctx, in.p, Options{Stop: func() bool { calls.Add(1); return false }})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, in.p, r)
		if r.Status == Optimal {
			t.Fatal("proven optimal; want a search cancelled before")
		}
	})
}

// TestMalformed: errors name the field at fault.
func TestMalformed(t *testing.T) {
	for _, c := range []struct {
		p    Problem
		o    Options
		want string
	}{
		{Problem{NumVars: -1}, Options{}, "NumVars: -1"},
		{Problem{NumVars: 2, Constraints: []Constraint{{Lits: []int{1}, AtLeast: 1}, {Lits: []int{1, 3}, AtLeast: 1}}}, Options{}, "Constraints[1].Lits[1]: literal 3, expected ±1..±2"},
		{Problem{NumVars: 2, Constraints: []Constraint{{Lits: []int{1, -2}, Weights: []int{1}, AtLeast: 1}}}, Options{}, "Constraints[0]: 1 weights for 2 literals"},
		{Problem{NumVars: 2, Levels: []Objective{{Lits: []int{0}}}}, Options{}, "Levels[0].Lits[0]: literal 0"},
		{Problem{NumVars: 2, Levels: []Objective{{Lits: []int{1, 2}, Weights: []int64{1 << 62, 1 << 62}}}}, Options{}, "Levels[0].Weights: magnitudes sum to more than"},
		{Problem{NumVars: 2}, Options{Seed: []bool{true}}, "Seed: 1 values for 2 variables"},
		{Problem{NumVars: 2, Constraints: []Constraint{{Lits: []int{-1, -2}, AtLeast: 1}}}, Options{Seed: []bool{true, true}}, "Seed: violates Constraints[0]"},
	} {
		_, err := Solve(context.Background(), &c.p, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Solve(%+v, %+v): error %v, want one containing %q", c.p, c.o, err, c.want)
		}
	}
}
