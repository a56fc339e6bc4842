package solver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// randConstr draws a clause, cardinality or PB constraint over distinct
// variables among 1..nVars.
func randConstr(rng *rand.Rand, nVars int) PBConstr {
	n := 1 + rng.IntN(min(nVars, 5))
	vars := rng.Perm(nVars)[:n]
	c := PBConstr{Lits: make([]int, n)}
	for i, v := range vars {
		c.Lits[i] = v + 1
		if rng.IntN(2) == 0 {
			c.Lits[i] = -c.Lits[i]
		}
	}
	sum := n
	switch rng.IntN(3) {
	case 0: // clause
		c.AtLeast = 1
		return c
	case 1: // PB
		c.Weights = make([]int, n)
		sum = 0
		for i := range c.Weights {
			c.Weights[i] = 1 + rng.IntN(4)
			sum += c.Weights[i]
		}
	}
	c.AtLeast = 1 + rng.IntN(sum)
	return c
}

func holds(c PBConstr, m []bool) bool {
	sum := 0
	for i, l := range c.Lits {
		if (l > 0) == m[abs(l)-1] {
			if c.Weights == nil {
				sum++
			} else {
				sum += c.Weights[i]
			}
		}
	}
	return sum >= c.AtLeast
}

// satisfiable enumerates the assignments of nVars variables.
func satisfiable(nVars int, cs []PBConstr, assumed []int) bool {
	m := make([]bool, nVars)
	for bits := 0; bits < 1<<nVars; bits++ {
		for i := range m {
			m[i] = bits&(1<<i) != 0
		}
		if modelHolds(m, cs, assumed) {
			return true
		}
	}
	return false
}

func modelHolds(m []bool, cs []PBConstr, assumed []int) bool {
	for _, c := range cs {
		if !holds(c, m) {
			return false
		}
	}
	for _, a := range assumed {
		if (a > 0) != m[abs(a)-1] {
			return false
		}
	}
	return true
}

// TestSolveAssumingBruteForce runs random sessions on one solver: solves
// under random assumptions, with constraints (some on new variables)
// appended in between, each answer checked against enumeration. A model
// must satisfy the constraints and the assumptions; a final conflict must
// be a subset of the assumptions that is unsatisfiable with the
// constraints; an empty one only when the constraints alone are.
func TestSolveAssumingBruteForce(t *testing.T) {
	for seed := range uint64(5000) {
		checkSession(t, seed)
	}
}

func checkSession(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 7))
	nVars := 3 + rng.IntN(6)
	var cs []PBConstr
	for range 1 + rng.IntN(3*nVars) {
		cs = append(cs, randConstr(rng, nVars))
	}
	// The solver takes ownership of constraints: give it copies.
	own := func(c PBConstr) PBConstr {
		return PBConstr{Lits: slices.Clone(c.Lits), Weights: slices.Clone(c.Weights), AtLeast: c.AtLeast}
	}
	var initial []PBConstr
	for _, c := range cs {
		initial = append(initial, own(c))
	}
	// Name every variable, so the solver knows them all.
	all := make([]int, nVars)
	for i := range all {
		all[i] = i + 1
	}
	s := New(ParsePBConstrs(append(initial, PBConstr{Lits: all, AtLeast: 0})))
	for step := range 6 {
		if step > 0 && rng.IntN(2) == 0 {
			c := randConstr(rng, nVars)
			if rng.IntN(3) == 0 && nVars < 10 {
				nVars++ // a new variable, in the new constraint
				c.Lits[0] = nVars
			}
			cs = append(cs, c)
			s.AppendClause(own(c).Clause())
		}
		var assumed []int
		var lits []Lit
		for v := 1; v <= nVars; v++ {
			if rng.IntN(3) == 0 {
				a := v
				if rng.IntN(2) == 0 {
					a = -v
				}
				assumed = append(assumed, a)
				lits = append(lits, IntToLit(int32(a)))
			}
		}
		want := satisfiable(nVars, cs, assumed)
		got := s.SolveAssuming(lits)
		where := fmt.Sprintf("seed %d step %d: %d vars, constraints %v, assumptions %v", seed, step, nVars, cs, assumed)
		switch {
		case got == Sat && !want, got == Unsat && want, got == Indet:
			t.Fatalf("%s: got %v, want satisfiable=%v", where, got, want)
		case got == Sat:
			if m := s.Model(); len(m) < nVars || !modelHolds(m[:nVars], cs, assumed) {
				t.Fatalf("%s: model %v violates them", where, m)
			}
		default:
			var core []int
			for _, l := range s.Conflict() {
				core = append(core, int(l.Int()))
			}
			for _, l := range core {
				if !slices.Contains(assumed, l) {
					t.Fatalf("%s: conflict %v holds %d, not an assumption", where, core, l)
				}
			}
			if satisfiable(nVars, cs, core) {
				t.Fatalf("%s: conflict %v is satisfiable with the constraints", where, core)
			}
		}
	}
}

// chain builds x1 → x2 → … → xn: deciding x1 propagates n-1 literals
// without a single conflict.
func chain(n int) *Problem {
	var cs []PBConstr
	for i := 1; i < n; i++ {
		cs = append(cs, PropClause(-i, i+1))
	}
	return ParsePBConstrs(cs)
}

// TestStopBetweenPropagations: Stop is polled while literals propagate,
// not only at conflicts, so a solve that propagates for long without
// conflicting still stops within pollEvery units of work.
func TestStopBetweenPropagations(t *testing.T) {
	s := New(chain(100_000))
	calls := 0
	s.Stop = func() bool { calls++; return true }
	if st := s.SolveAssuming([]Lit{IntToLit(1)}); st != Indet {
		t.Fatalf("got %v, want Indet", st)
	}
	if calls != 1 || s.Work() != pollEvery || s.Stats.NbConflicts != 0 {
		t.Fatalf("Stop called %d times, work %d, %d conflicts; want once, at work %d, with no conflict",
			calls, s.Work(), s.Stats.NbConflicts, pollEvery)
	}
	// Not stopped, the same solver finds the model.
	s.Stop = nil
	if st := s.SolveAssuming([]Lit{IntToLit(1)}); st != Sat || !s.Model()[99_999] {
		t.Fatalf("got %v, want Sat with x100000", st)
	}
}

// pigeons: n+1 pigeons in n holes, unsatisfiable after many conflicts.
func pigeons(n int) *Problem {
	var cs []PBConstr
	v := func(p, h int) int { return p*n + h + 1 }
	for p := 0; p <= n; p++ {
		var lits []int
		for h := range n {
			lits = append(lits, v(p, h))
		}
		cs = append(cs, PropClause(lits...))
	}
	for h := range n {
		for p := 0; p <= n; p++ {
			for q := p + 1; q <= n; q++ {
				cs = append(cs, PropClause(-v(p, h), -v(q, h)))
			}
		}
	}
	return ParsePBConstrs(cs)
}

// TestWorkLimitDeterministic: a solve cut by WorkLimit stops at that work,
// and two runs cut at the same limit end in the same state.
func TestWorkLimitDeterministic(t *testing.T) {
	run := func() (Status, int64, Stats) {
		s := New(pigeons(8))
		s.WorkLimit = 20_000
		st := s.SolveAssuming(nil)
		return st, s.Work(), s.Stats
	}
	st1, w1, stats1 := run()
	st2, w2, stats2 := run()
	if st1 != Indet || w1 != 20_000 {
		t.Fatalf("got %v at work %d, want Indet at 20000", st1, w1)
	}
	if st1 != st2 || w1 != w2 || stats1 != stats2 {
		t.Fatalf("two runs differ: %v %d %+v, then %v %d %+v", st1, w1, stats1, st2, w2, stats2)
	}
}

// TestParallelSolvers runs many solvers at once (go test -race): solvers
// share no state.
func TestParallelSolvers(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for range 50 {
				nVars := 8
				var cs []PBConstr
				for range 20 {
					cs = append(cs, randConstr(rng, nVars))
				}
				want := satisfiable(nVars, cs, nil)
				s := New(ParsePBConstrs(slices.Clone(cs)))
				if got := s.SolveAssuming(nil); (got == Sat) != want {
					errs <- fmt.Errorf("goroutine %d: got %v, want satisfiable=%v for %v", g, got, want, cs)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestResumeAfterWorkLimit: a solve cut short by WorkLimit, at any point,
// leaves the solver able to solve again: the next solve's answer agrees
// with enumeration, and its model satisfies every constraint. (A conflict
// met at the top level just as the limit was reached used to be dropped,
// its assignments kept, and the next solve returned a model breaking a
// clause.)
func TestResumeAfterWorkLimit(t *testing.T) {
	resumed := 0
	for seed := range uint64(3000) {
		// Short clauses, twice as many as variables: many problems are
		// unsatisfiable, which the search proves at the top level.
		rng := rand.New(rand.NewPCG(seed, 3))
		nVars := 3 + rng.IntN(8)
		var cs []PBConstr
		for range 2 * nVars {
			vars := rng.Perm(nVars)[:1+rng.IntN(3)]
			c := PBConstr{AtLeast: 1}
			for _, v := range vars {
				if rng.IntN(2) == 0 {
					c.Lits = append(c.Lits, -(v + 1))
				} else {
					c.Lits = append(c.Lits, v+1)
				}
			}
			cs = append(cs, c)
		}
		want := satisfiable(nVars, cs, nil)
		for limit := int64(1); limit < 30; limit++ {
			s := New(ParseSliceNb(nil, nVars))
			for _, c := range cs {
				s.AppendClause(PBConstr{Lits: slices.Clone(c.Lits), AtLeast: 1}.Clause())
			}
			s.WorkLimit = limit
			if s.SolveAssuming(nil) != Indet {
				continue
			}
			resumed++
			s.WorkLimit = 0
			st := s.SolveAssuming(nil)
			if (st == Sat) != want {
				t.Fatalf("seed %d, limit %d: resumed solve says %v, enumeration says satisfiable=%v", seed, limit, st, want)
			}
			if st == Sat && !modelHolds(s.Model()[:nVars], cs, nil) {
				t.Fatalf("seed %d, limit %d: resumed solve's model %v breaks the constraints %v", seed, limit, s.Model(), cs)
			}
		}
	}
	if resumed < 1500 {
		t.Fatalf("only %d solves were cut short; want limits small enough to cut many", resumed)
	}
}
