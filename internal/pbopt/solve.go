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
	// Stop, when set, is polled during the search (every few thousand
	// propagations); when it returns true the search ends, as when ctx is
	// done.
	Stop func() bool
	// Work, when positive, bounds the search effort in units of solver
	// work (propagations and conflicts). A search cut by it ends at the
	// same point, with the same result, on every run.
	Work int64
}

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
	p       *Problem
	s       *gs.Solver
	stop    func() bool
	nVars   int // variables in the solver: the problem's, then auxiliaries
	unsat   bool
	best    []bool
	levels  []Bounds
	stopped bool
	polls   int
}

func newOptimiser(ctx context.Context, p *Problem, o Options) *optimiser {
	opt := &optimiser{p: p, nVars: p.NumVars, best: slices.Clone(o.Seed)}
	opt.stop = func() bool { return ctx.Err() != nil || o.Stop != nil && o.Stop() }
	opt.s = gs.New(gs.ParseSliceNb(nil, p.NumVars))
	opt.s.Stop = opt.stop
	opt.s.WorkLimit = o.Work
	opt.levels = make([]Bounds, len(p.Levels))
	for l := range p.Levels {
		offset, _, _ := p.Levels[l].normalised()
		opt.levels[l] = Bounds{Lower: offset, Upper: math.MaxInt64}
	}
	nz := newNormaliser(p.NumVars)
	for _, c := range p.Constraints {
		if opt.poll() {
			return opt
		}
		n, ok := nz.normalise(c)
		if !ok {
			opt.unsat = true
			return opt
		}
		if n.AtLeast > 0 {
			opt.s.AppendClause(gsClause(n))
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

// gsClause makes n a clause or a cardinality constraint when it is one:
// gophersat watches those as such, but propagates every PB constraint by
// summing all its weights, which a long clause cannot afford.
func gsClause(n gs.PBConstr) *gs.Clause {
	lits := make([]gs.Lit, len(n.Lits))
	for i, l := range n.Lits {
		lits[i] = gs.IntToLit(int32(l))
	}
	w := n.Weights[0]
	for _, wi := range n.Weights {
		if wi != w {
			return gs.NewPBClause(lits, n.Weights, n.AtLeast)
		}
	}
	if k := (n.AtLeast + w - 1) / w; k > 1 {
		return gs.NewCardClause(lits, k)
	}
	return gs.NewClause(lits)
}

// normaliser rewrites constraints with one positive weight per variable
// (merging repeated variables, moving negative weights to the negated
// literal), none above AtLeast, as gophersat expects. Its scratch space,
// indexed by variable, spares a map per constraint.
type normaliser struct {
	coef  []int // variable -> weight of its positive literal so far
	seen  []bool
	order []int
}

func newNormaliser(nVars int) *normaliser {
	return &normaliser{coef: make([]int, nVars+1), seen: make([]bool, nVars+1)}
}

// normalise returns c rewritten; ok is false when c cannot hold.
func (nz *normaliser) normalise(c Constraint) (n gs.PBConstr, ok bool) {
	atLeast := c.AtLeast
	nz.order = nz.order[:0]
	for i, l := range c.Lits {
		w := c.weight(i)
		v := l
		if l < 0 { // w·¬x = w - w·x
			v, atLeast, w = -l, atLeast-w, -w
		}
		if !nz.seen[v] {
			nz.seen[v] = true
			nz.order = append(nz.order, v)
		}
		nz.coef[v] += w
	}
	n = gs.PBConstr{AtLeast: atLeast, Lits: make([]int, 0, len(nz.order)), Weights: make([]int, 0, len(nz.order))}
	for _, v := range nz.order {
		w := nz.coef[v]
		nz.coef[v], nz.seen[v] = 0, false
		switch {
		case w > 0:
			n.Lits = append(n.Lits, v)
			n.Weights = append(n.Weights, w)
		case w < 0: // w·x = w + (-w)·¬x
			n.Lits = append(n.Lits, -v)
			n.Weights = append(n.Weights, -w)
			n.AtLeast -= w
		}
	}
	if n.AtLeast <= 0 {
		return n, true
	}
	sum := 0
	for i, w := range n.Weights {
		// A weight above AtLeast counts no more than AtLeast.
		n.Weights[i] = min(w, n.AtLeast)
		sum += n.Weights[i]
	}
	return n, sum >= n.AtLeast
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func (o *optimiser) newVar() gs.Lit {
	o.nVars++
	return gs.IntToLit(int32(o.nVars))
}

func (o *optimiser) addClause(lits []gs.Lit) {
	o.poll()
	o.s.AppendClause(gs.NewClause(lits))
}

// cost is the value of level l in model m.
func (o *optimiser) cost(l int, m []bool) int64 {
	return o.p.Levels[l].Cost(m)
}

// solve runs the SAT solver under assumptions; a model found is offered as
// the new best when better.
func (o *optimiser) solve(assumptions []gs.Lit) gs.Status {
	if o.stopped || o.stop() {
		o.stopped = true
		return gs.Indet
	}
	st := o.s.SolveAssuming(assumptions)
	if st == gs.Indet {
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
		if c, b := o.cost(i, m), o.cost(i, o.best); c != b {
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
	o.best = slices.Clone(m)
	o.steer()
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
		b.Upper = o.cost(l, o.best)
		b.Proven = b.Lower == b.Upper
		if !b.Proven {
			r.Status = Feasible
		}
	}
	return r
}
