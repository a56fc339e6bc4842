package pbopt

import (
	"context"
	"fmt"
	"math"
	"slices"

	gs "github.com/flakeresolve/flakeresolve/internal/gophersat/solver"
)

// Options bound and steer a Solve.
type Options struct {
	// Seed, when set, is a model of the constraints (Seed[v-1] is variable
	// v): the first upper bound. The answer is never worse than it.
	Seed []bool
	// Stop, when set, is polled during the search (at each conflict, and
	// every few hundred propagations or clauses added); when it returns
	// true the search ends, as when ctx is done.
	Stop func() bool
	// Work, when positive, bounds the search effort in units of solver
	// work (propagations and conflicts). A search cut by it ends at the
	// same point, with the same result, on every run.
	Work int64
	// turn, when positive, replaces defaultTurn: tests make it small so
	// that the cores and probes alternate on small problems.
	turn int64
}

// defaultTurn is the work a level's core-guided search spends before a
// probe takes a turn (see level.minimise), doubling at each turn. About
// 30 ms: most levels are proven sooner.
const defaultTurn = 1 << 18

// Status says what a Result establishes.
type Status int

const (
	// Unknown: the search ended before finding a model (and no Seed was
	// given).
	Unknown Status = iota
	// Feasible: Model satisfies the constraints; some level is not proven
	// optimal.
	Feasible
	// Optimal: Model is lexicographically optimal.
	Optimal
	// Unsat: the constraints have no model.
	Unsat
)

func (s Status) String() string {
	switch s {
	case Feasible:
		return "feasible"
	case Optimal:
		return "optimal"
	case Unsat:
		return "unsat"
	}
	return "unknown"
}

// Bounds bracket the optimum of one level. Lower is proven: no model
// optimal on the levels before this one (or, when one of those is not
// proven, no model at most as costly as Model on each of them) costs less
// on this level. Upper is the cost of Model, math.MaxInt64 without one.
type Bounds struct {
	Lower, Upper int64
	Proven       bool // Lower == Upper: Model is optimal on this level
}

// Result is what a Solve found when it ended.
type Result struct {
	Status Status
	Model  []bool   // Model[v-1] is variable v; nil unless Feasible or Optimal
	Levels []Bounds // one per level of the problem; nil when Unsat
	Work   int64    // the units of work spent
}

// Solve minimises p's levels in lexicographic order. It ends when every
// level is proven optimal, the constraints are proven unsatisfiable, ctx
// is done, Stop returns true or the Work budget is spent; the Result then
// holds the best model found and the bounds proven so far. The error is
// for malformed input only.
func Solve(ctx context.Context, p *Problem, o Options) (*Result, error) {
	if err := p.check(); err != nil {
		return nil, err
	}
	if o.Seed != nil {
		if len(o.Seed) != p.NumVars {
			return nil, fmt.Errorf("Seed: %d values for %d variables", len(o.Seed), p.NumVars)
		}
		for i := range p.Constraints {
			if !p.Constraints[i].holds(o.Seed) {
				return nil, fmt.Errorf("Seed: violates Constraints[%d]", i)
			}
		}
	}
	opt := newOptimiser(ctx, p, o)
	return opt.run(), nil
}

// optimiser is the state of one Solve: a single incremental SAT solver
// that keeps what it learned from level to level.
type optimiser struct {
	p      *Problem
	s      *gs.Solver
	stop   func() bool
	budget int64 // Options.Work
	turn   int64
	nVars  int // variables in the solver: the problem's, then auxiliaries
	unsat  bool
	best   []bool
	// bestCost is the cost of best on each level, which every step of a
	// level's search compares with.
	bestCost []int64
	levels   []Bounds
	stopped  bool
	polls    int
	nz       *normaliser
	cm       clauseMaker
}

func newOptimiser(ctx context.Context, p *Problem, o Options) *optimiser {
	opt := &optimiser{p: p, nVars: p.NumVars, budget: o.Work, turn: o.turn}
	if opt.turn <= 0 {
		opt.turn = defaultTurn
	}
	if o.Seed != nil {
		opt.keep(o.Seed)
	}
	opt.stop = func() bool { return ctx.Err() != nil || o.Stop != nil && o.Stop() }
	opt.s = gs.New(gs.ParseSliceNb(nil, p.NumVars))
	opt.s.Stop = opt.stop
	opt.nz = newNormaliser(p.NumVars, &opt.cm)
	opt.levels = make([]Bounds, len(p.Levels))
	for l := range p.Levels {
		offset, _, _ := opt.nz.objective(&p.Levels[l])
		opt.levels[l] = Bounds{Lower: offset, Upper: math.MaxInt64}
	}
	for i := range p.Constraints {
		if opt.poll() {
			return opt
		}
		c, ok := opt.nz.constraint(&p.Constraints[i])
		if !ok {
			opt.unsat = true
			return opt
		}
		if c != nil {
			opt.s.AppendClause(c)
		}
	}
	return opt
}

// pollEvery is how many clauses the optimiser adds between two calls to
// stop: building a large problem or count takes long enough to miss a
// deadline otherwise.
const pollEvery = 64

// poll reports whether the search must stop, calling stop once every
// pollEvery calls.
func (o *optimiser) poll() bool {
	o.polls++
	if !o.stopped && o.polls%pollEvery == 0 && o.stop() {
		o.stopped = true
	}
	return o.stopped
}

func (o *optimiser) newVar() gs.Lit {
	o.nVars++
	return gs.IntToLit(int32(o.nVars))
}

func (o *optimiser) addClause(lits []gs.Lit) {
	o.poll()
	o.s.AppendClause(o.cm.clauses.New(lits))
}

// cost is the value of level l in model m.
func (o *optimiser) cost(l int, m []bool) int64 {
	return o.p.Levels[l].Cost(m)
}

// solve runs the SAT solver under assumptions. Indet means the
// search must stop: the context, Stop or the work budget ended it.
func (o *optimiser) solve(assumptions []gs.Lit) gs.Status {
	return o.solveUntil(assumptions, 0)
}

// solveUntil runs the solver under assumptions until it answers, the
// search must stop (o.stopped is then set), or its work reaches end (0: no
// end of its own), which ends a turn: Indet without stopping.
func (o *optimiser) solveUntil(assumptions []gs.Lit, end int64) gs.Status {
	if o.stopped || o.stop() {
		o.stopped = true
		return gs.Indet
	}
	o.s.WorkLimit = end
	if o.budget > 0 && (end == 0 || o.budget < end) {
		o.s.WorkLimit = o.budget
	}
	st := o.s.SolveAssuming(assumptions)
	if st == gs.Indet && (end == 0 || o.s.Work() < end || o.budget > 0 && o.s.Work() >= o.budget || o.stop()) {
		o.stopped = true
	}
	return st
}

// model returns the problem's variables in the solver's last model.
func (o *optimiser) model() []bool {
	return o.s.Model()[:o.p.NumVars]
}

// better reports whether m beats the best model on levels 0..l: earlier
// levels are fixed to their optimum (or the best's value) by then, so only
// level l can differ.
func (o *optimiser) better(l int, m []bool) bool {
	if o.best == nil {
		return true
	}
	for i := 0; i <= l && i < len(o.p.Levels); i++ {
		if c, b := o.cost(i, m), o.bestCost[i]; c != b {
			return c < b
		}
	}
	return false
}

// offer keeps m when it beats the best at level l, and steers later
// searches towards it.
func (o *optimiser) offer(l int, m []bool) {
	if !o.better(l, m) {
		return
	}
	o.keep(m)
	o.steer()
}

// keep makes m the best model.
func (o *optimiser) keep(m []bool) {
	o.best = slices.Clone(m)
	o.bestCost = o.bestCost[:0]
	for l := range o.p.Levels {
		o.bestCost = append(o.bestCost, o.cost(l, m))
	}
}

// steer makes the solver try the best model's values first.
func (o *optimiser) steer() {
	for v, val := range o.best {
		o.s.SetPolarity(gs.Var(v), val)
	}
}

func (o *optimiser) run() *Result {
	if o.unsat {
		return &Result{Status: Unsat}
	}
	if o.best == nil && !o.stopped {
		switch o.solve(nil) {
		case gs.Unsat:
			return &Result{Status: Unsat, Work: o.s.Work()}
		case gs.Sat:
			o.offer(0, o.model())
		}
	} else if !o.stopped {
		o.steer()
	}
	for l := range o.p.Levels {
		if o.best == nil || o.stopped {
			break
		}
		lv := newLevel(o, l)
		if !lv.minimise() {
			break
		}
		lv.fix()
	}
	return o.result()
}

func (o *optimiser) result() *Result {
	r := &Result{Status: Unknown, Levels: o.levels, Work: o.s.Work()}
	if o.best == nil {
		return r
	}
	r.Model = o.best
	r.Status = Optimal
	for l := range r.Levels {
		b := &r.Levels[l]
		b.Upper = o.bestCost[l]
		b.Proven = b.Lower == b.Upper
		if !b.Proven {
			r.Status = Feasible
		}
	}
	return r
}
