package solver

// Incremental solving under assumptions, and bounded solving.
//
// This file is not part of upstream gophersat. Core-guided optimisation
// solves the same formula many times under changing assumptions and needs,
// when they cannot all hold, the subset of them responsible (the final
// conflict). Upstream's Assume fixes its literals at the top level, so what
// the solver learns afterwards depends on them and cannot be kept once they
// change, and it gives no final conflict. SolveAssuming makes the
// assumptions the first decisions instead, as MiniSat does: learned clauses
// stay implied by the formula alone, and analyzeFinal walks the trail back
// from a falsified assumption to the assumptions that falsified it.
//
// Work counts the units of effort a solve spends (literals propagated above
// the top level, plus conflicts); it is the same from run to run, so a
// WorkLimit cuts a solve at the same point every time, which a clock cannot.

// pollEvery is how many propagations pass between two calls to Stop, which
// may read the clock: a propagation visits every clause watching the
// literal, and a literal in hundreds of long clauses takes tens of
// microseconds, so a few hundred of them may take ten milliseconds.
// Conflicts cost more (analysis walks the trail), so Stop is also polled at
// each one.
const pollEvery = 128

// SolveAssuming solves the problem under the given assumptions: literals
// that must hold in this solve only. It returns Sat (Model gives the model),
// Unsat, or Indet when Stop or WorkLimit interrupted it. After Unsat,
// Conflict tells which assumptions are to blame; an empty conflict means the
// problem has no model at all, and the solver stays Unsat from then on.
// Clauses may be appended (AppendClause) between two calls.
//
// Assumptions need clause learning: cutting-planes learning unassigns
// literals it leaves on the trail, which deciding assumptions cannot cope
// with, so SolveAssuming panics when CuttingPlanes is set and there are
// assumptions.
func (s *Solver) SolveAssuming(assumptions []Lit) Status {
	if s.CuttingPlanes && len(assumptions) > 0 {
		panic("gophersat: SolveAssuming with assumptions needs CuttingPlanes off")
	}
	if s.status == Unsat {
		s.conflict = s.conflict[:0]
		return Unsat
	}
	for _, a := range assumptions {
		s.newVar(a.Var())
	}
	s.cleanupBindings(1)
	s.assumps = assumptions
	s.assumpPtr = 0
	defer func() { s.assumps = nil }()
	return s.Solve()
}

// Conflict returns the assumptions of the last SolveAssuming that cannot
// all hold together, when it returned Unsat. It is empty when the problem
// itself has no model.
func (s *Solver) Conflict() []Lit {
	return append([]Lit(nil), s.conflict...)
}

// Work returns the units of work (propagations above the top level, and
// conflicts) this solver has spent since it was made.
func (s *Solver) Work() int64 { return s.work }

// SetPolarity sets the value the next decision on v tries first. Phase
// saving overrides it once the solver has assigned v and backtracked.
func (s *Solver) SetPolarity(v Var, positive bool) {
	s.newVar(v)
	s.polarity[v] = positive
}

// nextAssumption returns the first assumption that does not hold yet, to
// be decided at level lvl, or -1 when they all hold. When one is false, it
// records the final conflict, sets failed and returns -1.
func (s *Solver) nextAssumption(lvl decLevel) Lit {
	for s.assumpPtr < len(s.assumps) {
		a := s.assumps[s.assumpPtr]
		switch s.litStatus(a) {
		case Sat:
			s.assumpPtr++
			continue
		case Unsat:
			s.analyzeFinal(a)
			s.failed = true
			return -1
		}
		s.openLevel(lvl)
		s.assumpPtr++
		return a
	}
	return -1
}

// openLevel records, for decision level lvl, how many assumptions hold
// below it, so that backtracking below lvl decides them again from there.
func (s *Solver) openLevel(lvl decLevel) {
	for int(lvl) >= len(s.assumpAt) {
		s.assumpAt = append(s.assumpAt, 0)
	}
	s.assumpAt[lvl] = s.assumpPtr
}

// backtrackAssumptions is called when every level above lvl is undone.
// Lowering the pointer too far is harmless (assumptions that still hold
// are skipped again); leaving it too high would skip one that no longer
// holds.
func (s *Solver) backtrackAssumptions(lvl decLevel) {
	if l := int(lvl) + 1; l < len(s.assumpAt) && s.assumpAt[l] < s.assumpPtr {
		s.assumpPtr = s.assumpAt[l]
	}
}

// analyzeFinal sets the final conflict: the assumption a, found false, and
// the assumptions its negation was derived from. While assumptions remain
// to be decided, every decision on the trail is an assumption, so walking
// the trail back from ¬a through the reasons reaches exactly those.
func (s *Solver) analyzeFinal(a Lit) {
	s.conflict = append(s.conflict[:0], a)
	if abs(s.model[a.Var()]) <= 1 { // false whatever is assumed
		return
	}
	seen := make([]bool, s.nbVars)
	seen[a.Var()] = true
	for i := len(s.trail) - 1; i >= 0; i-- {
		lit := s.trail[i]
		v := lit.Var()
		if abs(s.model[v]) <= 1 { // the trail is ordered by level
			break
		}
		if !seen[v] {
			continue
		}
		reason := s.reason[v]
		if reason == nil {
			s.conflict = append(s.conflict, lit)
			continue
		}
		for j := 0; j < reason.Len(); j++ {
			// A PB reason may hold false literals assigned after v; they
			// come later in the trail, which the walk has passed already.
			if l := reason.Get(j); l.Var() != v && s.litStatus(l) == Unsat {
				seen[l.Var()] = true
			}
		}
	}
}

// tick spends one unit of work, a propagation or a conflict, and reports
// whether the solve must stop: the work limit is reached, or Stop, polled at
// conflicts and every pollEvery units, says so.
func (s *Solver) tick(conflict bool) bool {
	if s.halted {
		return true
	}
	s.work++
	if s.WorkLimit > 0 && s.work >= s.WorkLimit ||
		s.Stop != nil && (conflict || s.work%pollEvery == 0) && s.Stop() {
		s.halted = true
	}
	return s.halted
}
