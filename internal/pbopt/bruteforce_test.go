package pbopt

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randProblem draws a small problem: clauses, cardinality and PB
// constraints (weights of both signs, variables repeated), and one to three
// levels whose weights are unit, small or spread over orders of magnitude.
// One problem in three is a covering problem instead, whose optimum needs
// several true literals, so that cores overlap and their counts are raised.
func randProblem(rng *rand.Rand) *Problem {
	if rng.IntN(3) == 0 {
		return randCover(rng)
	}
	n := 1 + rng.IntN(10)
	p := &Problem{NumVars: n}
	lit := func() int {
		l := 1 + rng.IntN(n)
		if rng.IntN(2) == 0 {
			return -l
		}
		return l
	}
	for range rng.IntN(2 * n) {
		var c Constraint
		k := 1 + rng.IntN(min(n, 5))
		for range k {
			c.Lits = append(c.Lits, lit())
		}
		switch rng.IntN(4) {
		case 0, 1: // clause
			c.AtLeast = 1
		case 2: // cardinality
			c.AtLeast = 1 + rng.IntN(k)
		default: // PB
			for range k {
				c.Weights = append(c.Weights, rng.IntN(9)-3)
			}
			c.AtLeast = rng.IntN(8) - 2
		}
		p.Constraints = append(p.Constraints, c)
	}
	for range 1 + rng.IntN(3) {
		var ob Objective
		shape := rng.IntN(3)
		for range rng.IntN(2*n + 1) {
			ob.Lits = append(ob.Lits, lit())
			switch shape {
			case 1:
				ob.Weights = append(ob.Weights, int64(rng.IntN(7)-1))
			case 2:
				ob.Weights = append(ob.Weights, int64(1+rng.IntN(1000))*int64(1+rng.IntN(3)*rng.IntN(3)*50))
			}
		}
		if shape == 0 {
			ob.Weights = nil
		}
		p.Levels = append(p.Levels, ob)
	}
	return p
}

// randCover: positive clauses and at-least-k constraints over 12
// variables; minimise the number of true ones (unit or random weights),
// then another objective.
func randCover(rng *rand.Rand) *Problem {
	n := 12
	p := &Problem{NumVars: n}
	for range 4 + rng.IntN(10) {
		var c Constraint
		for _, v := range rng.Perm(n)[:2+rng.IntN(4)] {
			c.Lits = append(c.Lits, v+1)
		}
		c.AtLeast = 1 + rng.IntN(2)
		p.Constraints = append(p.Constraints, c)
	}
	var count, other Objective
	for v := 1; v <= n; v++ {
		count.Lits = append(count.Lits, v)
		other.Lits = append(other.Lits, -v)
		other.Weights = append(other.Weights, int64(rng.IntN(20)))
	}
	if rng.IntN(2) == 0 {
		for range n {
			count.Weights = append(count.Weights, int64(1+rng.IntN(4)))
		}
	}
	p.Levels = []Objective{count, other}
	return p
}

// models lists every model of p's constraints.
func models(p *Problem) [][]bool {
	var ms [][]bool
	for bits := range 1 << p.NumVars {
		m := make([]bool, p.NumVars)
		for i := range m {
			m[i] = bits&(1<<i) != 0
		}
		if satisfies(p, m) {
			ms = append(ms, m)
		}
	}
	return ms
}

func satisfies(p *Problem, m []bool) bool {
	for i := range p.Constraints {
		if !p.Constraints[i].holds(m) {
			return false
		}
	}
	return true
}

func costs(p *Problem, m []bool) []int64 {
	cs := make([]int64, len(p.Levels))
	for i := range p.Levels {
		cs[i] = p.Levels[i].Cost(m)
	}
	return cs
}

// lexMin is the lexicographically least cost vector among ms.
func lexMin(p *Problem, ms [][]bool) []int64 {
	var best []int64
	for _, m := range ms {
		if c := costs(p, m); best == nil || slices.Compare(c, best) < 0 {
			best = c
		}
	}
	return best
}

// solveDrawn draws problem number seed of a stream, with its models and,
// half the time, one of them as the seed, and solves it, with a work budget
// of 1 to maxWork when maxWork is positive. where describes the case for a
// failure message.
func solveDrawn(t *testing.T, seed, stream uint64, maxWork int64) (p *Problem, ms [][]bool, seedModel []bool, r *Result, where string) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, stream))
	p = randProblem(rng)
	ms = models(p)
	var o Options
	if maxWork > 0 {
		o.Work = 1 + rng.Int64N(maxWork)
	}
	if len(ms) > 0 && rng.IntN(2) == 0 {
		o.Seed = ms[rng.IntN(len(ms))]
	}
	if rng.IntN(2) == 0 {
		// Turns of a few units: core-guided and linear search alternate
		// many times, and either may end a level.
		o.turn = 1 + rng.Int64N(30)
	}
	r, err := Solve(context.Background(), p, o)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	return p, ms, o.Seed, r, fmt.Sprintf("seed %d: problem %+v, options %+v: result %+v", seed, p, o, r)
}

// TestBruteForce checks Solve against enumeration on thousands of small
// problems, some unsatisfiable, with and without a seed.
func TestBruteForce(t *testing.T) {
	unsat, optimal := 0, 0
	for seed := range uint64(6000) {
		p, ms, _, r, where := solveDrawn(t, seed, 3, 0)
		if len(ms) == 0 {
			if r.Status != Unsat || r.Model != nil {
				t.Fatalf("%s: want unsat", where)
			}
			unsat++
			continue
		}
		want := lexMin(p, ms)
		if r.Status != Optimal || !satisfies(p, r.Model) || !slices.Equal(costs(p, r.Model), want) {
			t.Fatalf("%s: want an optimal model costing %v", where, want)
		}
		for l, b := range r.Levels {
			if b.Lower != want[l] || b.Upper != want[l] || !b.Proven {
				t.Fatalf("%s: level %d bounds %+v, want %d proven", where, l, b, want[l])
			}
		}
		optimal++
	}
	t.Logf("%d optimal, %d unsatisfiable", optimal, unsat)
	if unsat < 300 || optimal < 3000 {
		t.Fatalf("the generator drew %d unsatisfiable and %d satisfiable problems; want both kinds in number", unsat, optimal)
	}
}

// TestBruteForceBudgets cuts Solve short with small work budgets and checks
// what it reports then: a valid model never worse than the seed, and
// bounds that hold: on each level, Upper is the model's cost and Lower is
// at most the least cost of any model that costs no more than the model on
// every level before.
func TestBruteForceBudgets(t *testing.T) {
	cut := 0
	for seed := range uint64(4000) {
		p, ms, seedModel, r, where := solveDrawn(t, seed, 5, 60)
		switch {
		case r.Status == Unsat:
			if len(ms) > 0 {
				t.Fatalf("%s: the problem has models", where)
			}
			continue
		case r.Status == Unknown:
			if r.Model != nil || seedModel != nil {
				t.Fatalf("%s: unknown with a model or a seed", where)
			}
			cut++
			continue
		case !satisfies(p, r.Model):
			t.Fatalf("%s: invalid model", where)
		case seedModel != nil && slices.Compare(costs(p, r.Model), costs(p, seedModel)) > 0:
			t.Fatalf("%s: worse than the seed", where)
		}
		got := costs(p, r.Model)
		allProven := true
		for l, b := range r.Levels {
			if b.Upper != got[l] || b.Proven != (b.Lower == b.Upper) || b.Lower > b.Upper {
				t.Fatalf("%s: level %d bounds %+v for a model costing %d", where, l, b, got[l])
			}
			allProven = allProven && b.Proven
			// The least cost on level l among models no costlier than
			// r.Model on the levels before.
			least := int64(math.MaxInt64)
			for _, m := range ms {
				c := costs(p, m)
				if lessEach(c[:l], got[:l]) {
					least = min(least, c[l])
				}
			}
			if b.Lower > least {
				t.Fatalf("%s: level %d lower bound %d above %d, a model's cost", where, l, b.Lower, least)
			}
		}
		if allProven != (r.Status == Optimal) {
			t.Fatalf("%s: status %v with every level proven: %v", where, r.Status, allProven)
		}
		if !allProven {
			cut++
		}
	}
	t.Logf("%d of 4000 solves cut short", cut)
	if cut < 500 {
		t.Fatalf("only %d solves were cut short; want budgets small enough to cut many", cut)
	}
}

// lessEach reports whether a[i] <= b[i] for every i.
func lessEach(a, b []int64) bool {
	for i := range a {
		if a[i] > b[i] {
			return false
		}
	}
	return true
}
