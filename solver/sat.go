package solver

import (
	"time"

	"github.com/crillab/gophersat/solver"
)

type satSolver struct {
	s     *solver.Solver
	calls *int
}

// newSAT builds a gophersat solver over the constraints that keep(c) admits.
// The cost literals only steer its first choices towards small models.
// stop interrupts it (see internal/gophersat: the patched copy this module
// uses is safe to run in parallel and can be interrupted).
func newSAT(nvars int, cons []constraint, keep func(*constraint) bool, cost []int, calls *int, stop func() bool) *satSolver {
	pbs := make([]solver.PBConstr, 0, len(cons)+1)
	for i := range cons {
		c := &cons[i]
		if keep != nil && !keep(c) {
			continue
		}
		pbs = append(pbs, solver.PBConstr{Lits: c.lits, Weights: c.weights, AtLeast: c.atLeast})
	}
	// Name every variable, so the model covers them all.
	all := make([]int, nvars)
	for i := range all {
		all[i] = i + 1
	}
	pbs = append(pbs, solver.PBConstr{Lits: all, AtLeast: 0})
	p := solver.ParsePBConstrs(pbs)
	if p.Status != solver.Unsat && len(cost) > 0 {
		lits := make([]solver.Lit, len(cost))
		w := make([]int, len(cost))
		for i, v := range cost {
			lits[i] = solver.IntToLit(int32(v))
			w[i] = 1
		}
		p.SetCostFunc(lits, w)
	}
	gs := solver.New(p)
	gs.Stop = stop
	return &satSolver{s: gs, calls: calls}
}

type outcome int

const (
	sat outcome = iota
	unsat
	interrupted
)

// solve returns a model when the constraints are satisfiable.
func (s *satSolver) solve() ([]bool, outcome) {
	*s.calls++
	switch s.s.Solve() {
	case solver.Sat:
		return s.s.Model(), sat
	case solver.Unsat:
		return nil, unsat
	}
	return nil, interrupted
}

// provePB switches to cutting-planes learning, which learns cardinality
// constraints: proving "no answer with fewer trees" needs them, and clause
// learning alone stalls on it for minutes where this takes milliseconds.
// Finding a first answer is faster with clause learning, so the switch
// comes after it.
func (s *satSolver) provePB() { s.s.CuttingPlanes = true }

// atMost adds sum(w[i]*lits[i]) <= k.
func (s *satSolver) atMost(lits, w []int, k int) {
	c := solver.LtEq(append([]int(nil), lits...), append([]int(nil), w...), k)
	if c.AtLeast <= 0 {
		return
	}
	s.s.AppendClause(c.Clause())
}

// optimize finds the best answer under the policy's objective, one
// criterion after another, by descending search. It returns nil when no
// answer exists. The search stops improving when the effort budget is
// spent, and stops altogether at the deadline; stats say, per criterion,
// the value reached and whether it is proven.
func (r *resolver) optimize() ([]bool, error) {
	xs := make([]int, len(r.xs))
	for i, n := range r.xs {
		xs[i] = n.x
	}
	hard := func() bool { return r.ctx.Err() != nil }
	effort := time.Now().Add(r.lim.Effort)
	soft := func() bool { return hard() || time.Now().After(effort) }

	s := newSAT(r.nvars, r.cons, nil, xs, &r.stats.SATCalls, hard)
	best, out := s.solve()
	switch out {
	case unsat:
		return nil, nil
	case interrupted:
		return nil, r.ctx.Err()
	}
	r.stats.FirstAnswer = time.Since(r.start)
	proven := true
	for i, o := range r.objective {
		if proven && countTrue(best, o.lits, o.weights) > 0 {
			s = newSAT(r.nvars, r.cons, nil, xs, &r.stats.SATCalls, soft)
			s.provePB()
			for _, fixed := range r.objective[:i] {
				s.atMost(fixed.lits, fixed.weights, countTrue(best, fixed.lits, fixed.weights))
			}
			best, proven = s.descend(best, o.lits, o.weights, soft)
		}
		r.stats.Objective = append(r.stats.Objective, Bound{Criterion: o.criterion, Proven: proven})
	}
	return best, nil
}

// descend demands sum(w·lits) one lower than in best until that is
// unsatisfiable, which proves best optimal, or until stop.
func (s *satSolver) descend(best []bool, lits, w []int, stop func() bool) ([]bool, bool) {
	for cost := countTrue(best, lits, w); cost > 0; cost = countTrue(best, lits, w) {
		if stop() {
			return best, false
		}
		s.atMost(lits, w, cost-1)
		m, out := s.solve()
		switch out {
		case interrupted:
			return best, false
		case unsat:
			return best, true
		}
		best = m
	}
	return best, true
}

// countTrue is sum(w·lits) in a model; a negative literal is true when its
// variable is false.
func countTrue(model []bool, lits, w []int) int {
	n := 0
	for i, l := range lits {
		if v := abs(l); v <= len(model) && model[v-1] == (l > 0) {
			n += w[i]
		}
	}
	return n
}

func abs(l int) int {
	if l < 0 {
		return -l
	}
	return l
}
