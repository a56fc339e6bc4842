package pbopt

import gs "github.com/flakeresolve/flakeresolve/internal/gophersat/solver"

// improver looks for models cheaper than the best one on one level by
// linear search: it demands "cost at most the best's minus one" and solves,
// again and again. Core-guided search alone finds a model only once every
// stratum's literals can be false together, which on a level of equal
// weights (trees) is the optimum itself: until its proof ends, its answer
// stays the seed. Linear search improves the answer step by step but
// cannot prove low bounds; the two share the best model and take turns
// (see level.minimise), and whichever ends the level's search first wins.
//
// It keeps a solver of its own, because its bounds are permanent: once no
// cheaper model exists that solver has no model at all, which proves the
// best optimal on this level; the core-guided solver then only learns the
// bound (level.fix) and goes on to the next level. The bound is stated over
// the level's own literals: stated over the cores' reformulation (its
// totalizer outputs) it found fewer improvements on the layered generator.
type improver struct {
	o *optimiser
	l int
	s *gs.Solver // nil until a turn builds it
}

// build makes the linear search's solver: the problem and the levels
// before l fixed to the best model's costs (their optima: they are
// proven). Its first search is not steered towards the best model, which
// is the seed (greedy newest) at first: from gophersat's default of trying
// false first it lands on far fewer trees (387 against the seed's 656 on
// the layered generator's 2,000 flakes, request 0).
func (im *improver) build() {
	o := im.o
	im.s = gs.New(gs.ParseSliceNb(nil, o.p.NumVars))
	im.s.Stop = o.stop
	for i := range o.p.Constraints {
		if o.poll() {
			return // the search stops: improve returns at once
		}
		c, _ := o.nz.constraint(&o.p.Constraints[i]) // each held for the seed
		if c != nil {
			im.s.AppendClause(c)
		}
	}
	for before := range im.l {
		addAtMost(o, im.s, before, o.bestCost[before])
	}
}

func (im *improver) steer() {
	for v, val := range im.o.best {
		im.s.SetPolarity(gs.Var(v), val)
	}
}

// improve runs the linear search for at most slice units of work. It
// returns true when it proved that no model is cheaper than the best.
func (im *improver) improve(slice int64) bool {
	if im.s == nil {
		im.build()
	}
	end := im.s.Work() + slice
	for {
		if !addAtMost(im.o, im.s, im.l, im.o.bestCost[im.l]-1) {
			return true // below every model's cost
		}
		switch im.o.solveIn(im.s, nil, end) {
		case gs.Unsat:
			return true
		case gs.Indet:
			return false
		}
		im.o.offer(im.l, im.s.Model()[:im.o.p.NumVars])
		im.steer()
	}
}

// addAtMost adds "cost of level l at most bound" to s, over the level's
// own literals; false when no model can meet it.
func addAtMost(o *optimiser, s *gs.Solver, l int, bound int64) bool {
	obj := &o.p.Levels[l]
	c := Constraint{Lits: obj.Lits, Weights: make([]int, len(obj.Lits)), AtLeast: int(-bound)}
	for i := range obj.Lits {
		c.Weights[i] = int(-obj.weight(i))
	}
	gc, ok := o.nz.constraint(&c)
	if ok && gc != nil {
		s.AppendClause(gc)
	}
	return ok
}
