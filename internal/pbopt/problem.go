package pbopt

import (
	"fmt"
	"math"
)

// Problem is a set of pseudo-boolean constraints over variables 1..NumVars
// and objectives to minimise in lexicographic order: Levels[0] first, then
// Levels[1] among the models optimal for Levels[0], and so on.
type Problem struct {
	NumVars     int
	Constraints []Constraint
	Levels      []Objective
}

// Constraint demands sum(Weights[i] * Lits[i]) >= AtLeast, a literal being
// 1 when true. Literals are DIMACS-style: v or -v for variable v. Weights
// nil means every weight is 1; weights may be negative.
type Constraint struct {
	Lits    []int
	Weights []int
	AtLeast int
}

// Objective is sum(Weights[i] * Lits[i]) over the true literals, to
// minimise. Weights nil means every weight is 1; weights may be negative.
type Objective struct {
	Lits    []int
	Weights []int64
}

// maxWeight bounds every weight and every sum of them, so that no sum the
// optimiser forms can overflow.
const maxWeight = math.MaxInt64 / 4

// check reports the first malformed part of p, naming it.
func (p *Problem) check() error {
	if p.NumVars < 0 {
		return fmt.Errorf("NumVars: %d, expected at least 0", p.NumVars)
	}
	for i, c := range p.Constraints {
		ws := make([]int64, len(c.Weights))
		for j, w := range c.Weights {
			ws[j] = int64(w)
		}
		if err := p.checkTerms(c.Lits, c.Weights != nil, ws, abs64(int64(c.AtLeast))); err != nil {
			return fmt.Errorf("Constraints[%d]%w", i, err)
		}
	}
	for i, o := range p.Levels {
		if err := p.checkTerms(o.Lits, o.Weights != nil, o.Weights, 0); err != nil {
			return fmt.Errorf("Levels[%d]%w", i, err)
		}
	}
	return nil
}

// checkTerms checks literals and their weights (when weighted), whose
// magnitudes plus extra must stay within maxWeight. Its errors start with
// the field within the constraint or objective.
func (p *Problem) checkTerms(lits []int, weighted bool, weights []int64, extra int64) error {
	if weighted && len(weights) != len(lits) {
		return fmt.Errorf(": %d weights for %d literals", len(weights), len(lits))
	}
	for j, l := range lits {
		if l == 0 || l > p.NumVars || -l > p.NumVars {
			return fmt.Errorf(".Lits[%d]: literal %d, expected ±1..±%d", j, l, p.NumVars)
		}
	}
	sum := extra
	for _, w := range weights {
		if w = abs64(w); w > maxWeight || sum > maxWeight-w {
			return fmt.Errorf(".Weights: magnitudes sum to more than %d", int64(maxWeight))
		}
		sum += w
	}
	return nil
}

func abs64(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}

// holds reports whether model m (m[v-1] is variable v) satisfies c.
func (c *Constraint) holds(m []bool) bool {
	sum := 0
	for i, l := range c.Lits {
		if isTrue(m, l) {
			sum += c.weight(i)
		}
	}
	return sum >= c.AtLeast
}

func (c *Constraint) weight(i int) int {
	if c.Weights == nil {
		return 1
	}
	return c.Weights[i]
}

// Cost is the value of o in model m (m[v-1] is variable v).
func (o *Objective) Cost(m []bool) int64 {
	var sum int64
	for i, l := range o.Lits {
		if isTrue(m, l) {
			sum += o.weight(i)
		}
	}
	return sum
}

func (o *Objective) weight(i int) int64 {
	if o.Weights == nil {
		return 1
	}
	return o.Weights[i]
}

func isTrue(m []bool, l int) bool {
	if l > 0 {
		return m[l-1]
	}
	return !m[-l-1]
}
