package pbopt

import gs "github.com/flakeresolve/flakeresolve/internal/gophersat/solver"

// normaliser rewrites a weighted sum of literals as gophersat and the
// core-guided search want it: a constant plus one positive weight per
// variable, on whichever literal of it carries weight (repeated variables
// merged, negative weights moved to the negated literal: w·¬x = w - w·x).
// Its scratch space, indexed by variable, spares a map per sum.
type normaliser struct {
	coef  []int64 // variable -> weight of its positive literal so far
	seen  []bool
	order []int // variables met, in order
	// weights is where terms writes its weights: every caller reads
	// them before the next call, and a clause keeps none.
	weights []int64
	// cm makes the literals terms returns, which clauses keep.
	cm *clauseMaker
}

func newNormaliser(nVars int, cm *clauseMaker) *normaliser {
	return &normaliser{coef: make([]int64, nVars+1), seen: make([]bool, nVars+1), cm: cm}
}

// clauseMaker makes clauses and their literals from blocks: a solve gives
// the solver thousands of short clauses, which it keeps to the end.
type clauseMaker struct {
	clauses gs.Clauses
	spare   []gs.Lit
}

// literals returns an empty slice with room for n literals.
func (cm *clauseMaker) literals(n int) []gs.Lit {
	if len(cm.spare) < n {
		cm.spare = make([]gs.Lit, max(n, 1024))
	}
	lits := cm.spare[:0:n]
	cm.spare = cm.spare[n:]
	return lits
}

// terms rewrites sum(weight(i)·lits[i]) as offset + sum(weights[i]·out[i]),
// every weight positive, the literals in order of first appearance. The
// weights live in nz until its next call.
func (nz *normaliser) terms(lits []int, weight func(i int) int64) (offset int64, out []gs.Lit, weights []int64) {
	nz.order = nz.order[:0]
	for i, l := range lits {
		w := weight(i)
		if l < 0 {
			l, w, offset = -l, -w, offset+w
		}
		if !nz.seen[l] {
			nz.seen[l] = true
			nz.order = append(nz.order, l)
		}
		nz.coef[l] += w
	}
	out = nz.cm.literals(len(nz.order))
	weights = nz.weights[:0]
	for _, v := range nz.order {
		w := nz.coef[v]
		nz.coef[v], nz.seen[v] = 0, false
		switch {
		case w > 0:
			out = append(out, gs.IntToLit(int32(v)))
			weights = append(weights, w)
		case w < 0: // w·x = w + (-w)·¬x
			offset += w
			out = append(out, gs.IntToLit(int32(-v)))
			weights = append(weights, -w)
		}
	}
	nz.weights = weights
	return offset, out, weights
}

// objective returns o as offset + sum(weights[i]·lits[i]); the weights
// live in nz until its next call.
func (nz *normaliser) objective(o *Objective) (offset int64, lits []gs.Lit, weights []int64) {
	return nz.terms(o.Lits, o.weight)
}

// constraint returns c as gophersat's clause, cardinality or PB constraint,
// nil when c always holds; ok is false when it never does. Weights above
// the bound count as the bound. Clauses and cardinality constraints are
// given as such: gophersat watches those, but propagates a PB constraint by
// summing all its weights, which a long clause cannot afford.
func (nz *normaliser) constraint(c *Constraint) (gc *gs.Clause, ok bool) {
	offset, lits, ws := nz.terms(c.Lits, func(i int) int64 { return int64(c.weight(i)) })
	atLeast := int64(c.AtLeast) - offset
	if atLeast <= 0 {
		return nil, true
	}
	var sum int64
	uniform := true
	for _, w := range ws {
		w = min(w, atLeast)
		sum += w
		uniform = uniform && w == min(ws[0], atLeast)
	}
	switch {
	case sum < atLeast:
		return nil, false
	case !uniform:
		weights := make([]int, len(ws))
		for i, w := range ws {
			weights[i] = int(min(w, atLeast))
		}
		return gs.NewPBClause(lits, weights, int(atLeast)), true
	}
	// All weights w: at least ceil(atLeast/w) literals.
	w := int(min(ws[0], atLeast))
	if k := (int(atLeast) + w - 1) / w; k > 1 {
		return nz.cm.clauses.NewCard(lits, k), true
	}
	return nz.cm.clauses.New(lits), true
}
