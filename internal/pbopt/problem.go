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
	lit := func(field string, l int) error {
		if l == 0 || l > p.NumVars || -l > p.NumVars {
			return fmt.Errorf("%s: literal %d, expected ±1..±%d", field, l, p.NumVars)
		}
		return nil
	}
	for i, c := range p.Constraints {
		field := fmt.Sprintf("Constraints[%d]", i)
		if c.Weights != nil && len(c.Weights) != len(c.Lits) {
			return fmt.Errorf("%s: %d weights for %d literals", field, len(c.Weights), len(c.Lits))
		}
		var sum int64
		for j, l := range c.Lits {
			if err := lit(fmt.Sprintf("%s.Lits[%d]", field, j), l); err != nil {
				return err
			}
			if c.Weights != nil {
				sum += abs64(int64(c.Weights[j]))
			}
		}
		if sum+abs64(int64(c.AtLeast)) > maxWeight {
			return fmt.Errorf("%s: weights sum to more than %d", field, int64(maxWeight))
		}
	}
	for i, o := range p.Levels {
		field := fmt.Sprintf("Levels[%d]", i)
		if o.Weights != nil && len(o.Weights) != len(o.Lits) {
			return fmt.Errorf("%s: %d weights for %d literals", field, len(o.Weights), len(o.Lits))
		}
		var sum int64
		for j, l := range o.Lits {
			if err := lit(fmt.Sprintf("%s.Lits[%d]", field, j), l); err != nil {
				return err
			}
			if o.Weights != nil {
				if w := abs64(o.Weights[j]); w > maxWeight || sum+w > maxWeight {
					return fmt.Errorf("%s: weights sum to more than %d", field, int64(maxWeight))
				}
				sum += abs64(o.Weights[j])
			}
		}
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
