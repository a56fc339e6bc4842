package solver

import (
	"github.com/flakeresolve/flakeresolve/internal/gophersat/solver"
)

type satSolver struct {
	s     *solver.Solver
	calls *int
}

// newSAT builds a gophersat solver over the constraints that keep(c)
// admits, for the satisfiability questions of explanations. stop
// interrupts it (see internal/gophersat: the patched copy this module uses
// is safe to run in parallel and can be interrupted).
func newSAT(nvars int, cons []constraint, keep func(*constraint) bool, calls *int, stop func() bool) *satSolver {
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
