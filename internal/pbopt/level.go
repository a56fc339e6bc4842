package pbopt

import (
	"fmt"

	gs "github.com/flakeresolve/flakeresolve/internal/gophersat/solver"
)

// level minimises one objective, the levels before it fixed, by OLL
// (core-guided: each set of soft literals that cannot all be false raises
// the lower bound by its least weight and is replaced by a count of how
// many of them are true), stratified by weight, with every model found
// along the way offered as an upper bound.
type level struct {
	o      *optimiser
	l      int
	offset int64   // cost = offset + weights of the true softs, before relaxation
	softs  []*soft // in creation order, so that runs are deterministic
	bySoft []*soft // by literal: a slice, not a map, for thousands of them a level
	lower  int64   // proven: cost >= offset + lower
	// assumptions is the buffer each solve's assumptions are written in:
	// the solver keeps none past the call.
	assumptions []gs.Lit
	// spare are softs not yet handed out: a level's objective literals
	// come all at once, so their softs are cut from one block.
	spare []soft
}

// soft is a literal that costs weight when true.
type soft struct {
	lit    gs.Lit
	weight int64
	// For the output "at least k of sum's inputs": relaxing it in a core
	// brings in output k+1.
	sum *totalizer
	k   int
	// cored: the soft was in a core (or is a count over one).
	cored bool
}

func newLevel(o *optimiser, l int) *level {
	offset, lits, weights := o.nz.objective(&o.p.Levels[l])
	lv := &level{o: o, l: l, offset: offset, bySoft: make([]*soft, 2*(o.nVars+1)), softs: make([]*soft, 0, len(lits)), spare: make([]soft, len(lits))}
	for i, lit := range lits {
		lv.addSoft(lit, weights[i], nil, 0)
	}
	return lv
}

func (lv *level) addSoft(lit gs.Lit, w int64, sum *totalizer, k int) {
	if int(lit) >= len(lv.bySoft) { // an output of a count made since
		lv.bySoft = append(lv.bySoft, make([]*soft, int(lit)+1-len(lv.bySoft))...)
	}
	if s := lv.bySoft[lit]; s != nil {
		s.weight += w
		return
	}
	var s *soft
	if len(lv.spare) > 0 {
		s, lv.spare = &lv.spare[0], lv.spare[1:]
	} else {
		s = new(soft)
	}
	*s = soft{lit: lit, weight: w, sum: sum, k: k}
	lv.softs = append(lv.softs, s)
	lv.bySoft[lit] = s
}

func (lv *level) upper() int64 { return lv.o.bestCost[lv.l] - lv.offset }

// record publishes the bounds proven so far.
func (lv *level) record() {
	lv.o.levels[lv.l].Lower = lv.offset + lv.lower
}

// minimise runs until the level is proven optimal (true) or the search
// stops (false).
//
// The cores take turns with probe: after lv.o.turn units of work the
// solve in progress is cut short, probe spends as much, and the cores
// resume (what the solver learned kept), each turn twice the last. A level
// proven within the first turn, which is most, is never probed.
func (lv *level) minimise() bool {
	defer lv.record()
	stratum := lv.maxWeight()
	turn := lv.o.turn
	turnEnd := lv.o.s.Work() + turn
	for {
		if lv.lower >= lv.upper() {
			return true
		}
		lv.harden()
		assumptions := lv.assumptions[:0]
		all := true
		for _, s := range lv.softs {
			switch {
			case s.weight > 0 && s.weight >= stratum:
				assumptions = append(assumptions, s.lit.Negation())
			case s.weight > 0:
				all = false
			}
		}
		lv.assumptions = assumptions
		switch lv.o.solveUntil(assumptions, turnEnd) {
		case gs.Indet:
			if lv.o.stopped {
				return false
			}
			if lv.probe(turn); lv.o.stopped {
				return false
			}
			turn *= 2
			turnEnd = lv.o.s.Work() + turn
		case gs.Sat:
			m := lv.o.model()
			lv.o.offer(lv.l, m)
			if all {
				// Every soft literal false: the model costs exactly the
				// lower bound.
				if c := lv.o.cost(lv.l, m) - lv.offset; c != lv.lower {
					panic(fmt.Sprintf("pbopt: level %d: a model with every soft literal false costs %d, lower bound %d", lv.l, c, lv.lower))
				}
				return true
			}
			stratum = lv.nextStratum(stratum)
		case gs.Unsat:
			core := lv.o.s.Conflict()
			if len(core) == 0 {
				// The levels before were fixed to values a model has.
				panic(fmt.Sprintf("pbopt: level %d: constraints unsatisfiable after fixing the levels before", lv.l))
			}
			lv.relax(core)
			lv.record()
		}
	}
}

func (lv *level) maxWeight() int64 {
	var m int64
	for _, s := range lv.softs {
		m = max(m, s.weight)
	}
	return m
}

// nextStratum lowers the weight threshold: halving it keeps the number of
// strata logarithmic in the weights, however many distinct weights.
func (lv *level) nextStratum(stratum int64) int64 {
	next := stratum / 2
	// Skip thresholds that would bring in no new literal.
	var below int64
	for _, s := range lv.softs {
		if s.weight > 0 && s.weight < stratum {
			below = max(below, s.weight)
		}
	}
	return max(1, min(next, below))
}

// relax takes a core (assumptions ¬lit that cannot all hold): at least one
// of its soft literals is true, so the lower bound rises by their least
// weight w, each loses w, and the count of its true literals beyond the
// first is a new soft literal of weight w.
func (lv *level) relax(core []gs.Lit) {
	softs := make([]*soft, len(core))
	w := int64(-1)
	for i, a := range core {
		s := lv.bySoft[a.Negation()]
		softs[i] = s
		if w < 0 || s.weight < w {
			w = s.weight
		}
	}
	lv.lower += w
	lits := lv.o.cm.literals(len(softs))[:len(softs)]
	for i, s := range softs {
		s.cored = true
		s.weight -= w
		lits[i] = s.lit
		if s.sum != nil && s.k < len(s.sum.inputs) {
			// "At least k" is now paid for w: "at least k+1" costs w more.
			if out, ok := s.sum.output(lv.o, s.k+1); ok {
				lv.addSoft(out, w, s.sum, s.k+1)
			}
		}
	}
	lv.o.addClause(lits)
	if len(lits) > 1 {
		t := newTotalizer(lits)
		if out, ok := t.output(lv.o, 2); ok {
			lv.addSoft(out, w, t, 2)
		}
	}
}

// probe looks for cheap models among the literals the cores have named:
// every soft literal that no core holds is assumed false, the others are
// free. The optimum seldom needs a tree no core has named, so such a model
// is often far cheaper than the best (on a level of equal weights, where
// the cores alone meet no model before the optimum); when there is none,
// the final conflict is one more core. From a model, the counts' outputs
// ("at least k of this core") are assumed false too, as many as still
// leave a model, each model offered. It spends at most a turn's work.
func (lv *level) probe(turn int64) {
	end := lv.o.s.Work() + turn
	assumptions := lv.assumptions[:0]
	var extra []gs.Lit
	for _, s := range lv.softs {
		switch {
		case s.weight > 0 && s.sum == nil && !s.cored:
			assumptions = append(assumptions, s.lit.Negation())
		case s.weight > 0 && s.sum != nil:
			extra = append(extra, s.lit.Negation())
		}
	}
	lv.assumptions = assumptions
	switch lv.o.solveUntil(assumptions, end) {
	case gs.Sat:
		lv.o.offer(lv.l, lv.o.model())
	case gs.Unsat:
		if core := lv.o.s.Conflict(); len(core) > 0 {
			lv.relax(core)
			lv.record()
		}
		return
	default:
		return
	}
	// Grow the assumptions by the counts' outputs, oldest core first, as
	// far as a model allows: a binary search for the longest prefix that
	// still has one, then past the output that broke it.
	for len(extra) > 0 {
		base := len(lv.assumptions)
		lo, hi := 0, len(extra)+1
		for hi-lo > 1 {
			mid := (lo + hi) / 2
			as := append(lv.assumptions[:base], extra[:mid]...)
			lv.assumptions = as
			switch lv.o.solveUntil(as, end) {
			case gs.Sat:
				lv.o.offer(lv.l, lv.o.model())
				lo = mid
			case gs.Unsat:
				hi = mid
			default:
				return
			}
		}
		lv.assumptions = append(lv.assumptions[:base], extra[:lo]...)
		if lo >= len(extra) {
			return
		}
		extra = extra[lo+1:]
	}
}

// harden forces false every soft literal whose weight alone would take a
// model past the best one: no model as good as the best has it true.
func (lv *level) harden() {
	gap := lv.upper() - lv.lower
	for _, s := range lv.softs {
		if s.weight > gap {
			lv.o.addClause(append(lv.o.cm.literals(1), s.lit.Negation()))
			s.weight = 0
		}
	}
}

// fix keeps the following levels to models optimal on this one: every soft
// literal left with a weight must be false, which is exactly "cost at most
// the optimum".
func (lv *level) fix() {
	for _, s := range lv.softs {
		if s.weight > 0 {
			lv.o.addClause(append(lv.o.cm.literals(1), s.lit.Negation()))
		}
	}
}
