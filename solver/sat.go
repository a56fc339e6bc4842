package solver

import (
	"sync"

	"github.com/crillab/gophersat/solver"
)

// gophersat v1.4.0 learns clauses into one package-level buffer that every
// Solver shares, so two solves at once corrupt each other's answers. Every
// call into it holds this lock; the rest of a resolution (reaching,
// shrinking, encoding, decoding) runs in parallel.
var gophersatMu sync.Mutex

type satSolver struct {
	s     *solver.Solver
	calls *int
}

// newSAT builds a gophersat solver over the constraints that keep(c) admits.
// The cost literals only steer its first choices towards small models.
func newSAT(nvars int, cons []constraint, keep func(*constraint) bool, cost []int, calls *int) *satSolver {
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
	gophersatMu.Lock()
	defer gophersatMu.Unlock()
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
	return &satSolver{s: solver.New(p), calls: calls}
}

// solve returns a model, or nil when the constraints are unsatisfiable.
func (s *satSolver) solve() []bool {
	gophersatMu.Lock()
	defer gophersatMu.Unlock()
	*s.calls++
	if s.s.Solve() != solver.Sat {
		return nil
	}
	return s.s.Model()
}

// atMost adds sum(w[i]*lits[i]) <= k.
func (s *satSolver) atMost(lits, w []int, k int) {
	c := solver.LtEq(append([]int(nil), lits...), append([]int(nil), w...), k)
	gophersatMu.Lock()
	defer gophersatMu.Unlock()
	if c.AtLeast <= 0 {
		return
	}
	s.s.AppendClause(c.Clause())
}

// optimize finds the answer with the fewest trees, then the newest versions,
// by descending search. It returns nil when no answer exists. When the
// deadline passes after a first answer, it returns the best so far, and the
// stats say what was proven.
func (r *resolver) optimize() ([]bool, error) {
	xs := make([]int, len(r.xs))
	ones := make([]int, len(r.xs))
	for i, n := range r.xs {
		xs[i], ones[i] = n.x, 1
	}
	s := newSAT(r.nvars, r.cons, nil, xs, &r.stats.SATCalls)
	best := s.solve()
	if best == nil {
		return nil, nil
	}
	count := countTrue(best, xs, ones)
	for {
		if r.ctx.Err() != nil {
			return best, nil
		}
		if count == 0 {
			break
		}
		s.atMost(xs, ones, count-1)
		m := s.solve()
		if m == nil {
			break
		}
		best, count = m, countTrue(m, xs, ones)
	}
	r.stats.ProvenMinimal = true

	var ranked, ranks []int
	for _, n := range r.xs {
		if n.rank > 0 {
			ranked = append(ranked, n.x)
			ranks = append(ranks, n.rank)
		}
	}
	age := countTrue(best, ranked, ranks)
	if age > 0 {
		s = newSAT(r.nvars, r.cons, nil, xs, &r.stats.SATCalls)
		s.atMost(xs, ones, count)
		for age > 0 {
			if r.ctx.Err() != nil {
				return best, nil
			}
			s.atMost(ranked, ranks, age-1)
			m := s.solve()
			if m == nil {
				break
			}
			best, age = m, countTrue(m, ranked, ranks)
		}
	}
	r.stats.ProvenNewest = true
	return best, nil
}

func countTrue(model []bool, lits, w []int) int {
	n := 0
	for i, v := range lits {
		if v <= len(model) && model[v-1] {
			n += w[i]
		}
	}
	return n
}
