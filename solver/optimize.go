package solver

import (
	"time"

	"github.com/flakeresolve/flakeresolve/internal/pbopt"
)

// optimize finds the best answer under the policy's objective, criterion
// after criterion, with the core-guided optimiser of internal/pbopt. It
// returns nil when no answer exists.
//
// The search starts from a valid answer: the greedy one, where every input
// takes its newest candidate, when that holds (it does unless follows,
// single flakes or strategy limits forbid it); else the first model a plain
// solve finds, bounded by the deadline only. From there the optimiser
// improves the answer and proves lower bounds until the effort budget (a
// time, and a work budget that makes a cut-short search reproducible) is
// spent; stats say, per criterion, what was proven.
func (r *resolver) optimize() ([]bool, error) {
	p := &pbopt.Problem{NumVars: r.nvars, Constraints: make([]pbopt.Constraint, len(r.cons))}
	for i, c := range r.cons {
		p.Constraints[i] = pbopt.Constraint{Lits: c.lits, Weights: c.weights, AtLeast: c.atLeast}
	}
	seed := r.greedy()
	if seed == nil {
		// A first answer, whatever it costs: no objective, no effort bound.
		r.stats.SATCalls++
		first, err := pbopt.Solve(r.ctx, p, pbopt.Options{Work: r.lim.Work})
		if err != nil {
			return nil, err
		}
		r.stats.Work += first.Work
		switch first.Status {
		case pbopt.Unsat:
			return nil, nil
		case pbopt.Unknown:
			if err := r.ctx.Err(); err != nil {
				return nil, err
			}
			return nil, &LimitError{Limit: LimitWork, Value: int(first.Work), Max: int(r.lim.Work), Stats: r.stats}
		}
		seed = first.Model
	}
	r.stats.FirstAnswer = time.Since(r.start)

	for _, o := range r.objective {
		ws := make([]int64, len(o.weights))
		for i, w := range o.weights {
			ws[i] = int64(w)
		}
		p.Levels = append(p.Levels, pbopt.Objective{Lits: o.lits, Weights: ws})
	}
	effort := time.Now().Add(r.lim.Effort)
	opts := pbopt.Options{Seed: seed, Stop: func() bool { return time.Now().After(effort) }}
	if r.lim.Work > 0 {
		opts.Work = max(1, r.lim.Work-r.stats.Work)
	}
	r.stats.SATCalls++
	res, err := pbopt.Solve(r.ctx, p, opts)
	if err != nil {
		return nil, err
	}
	r.stats.Work += res.Work
	for i, o := range r.objective {
		b := Bound{Criterion: o.criterion}
		if res.Levels != nil {
			b.Lower, b.Proven = int(res.Levels[i].Lower)+o.offset, res.Levels[i].Proven
		}
		r.stats.Objective = append(r.stats.Objective, b)
	}
	if res.Model == nil {
		return seed, nil
	}
	return res.Model, nil
}

// greedy is the answer where every input takes its newest candidate, as a
// model, or nil when that is no answer. It is the peers' answer too (libsolv
// takes the newest version of each requirement), so the optimiser's first
// answer is never worse than theirs.
func (r *resolver) greedy() []bool {
	m := make([]bool, r.nvars)
	set := func(v int) {
		if v != 0 {
			m[v-1] = true
		}
	}
	seen := map[*instance]bool{r.root: true}
	queue := []*instance{r.root}
	for len(queue) > 0 {
		in := queue[0]
		queue = queue[1:]
		set(in.active)
		for _, s := range in.slots {
			if s.kind != choose || len(s.cands) == 0 {
				continue
			}
			set(s.vars[0])
			set(r.xOf(s.cands[0].node))
			if child := s.children[0]; !seen[child] {
				seen[child] = true
				queue = append(queue, child)
			}
		}
	}
	for i := range r.cons {
		if !holds(m, &r.cons[i]) {
			return nil
		}
	}
	return m
}

// holds says whether a model satisfies a constraint.
func holds(m []bool, c *constraint) bool {
	w := func(i int) int {
		if c.weights == nil {
			return 1
		}
		return c.weights[i]
	}
	sum := 0
	for i, l := range c.lits {
		if v := abs(l); m[v-1] == (l > 0) {
			sum += w(i)
		}
	}
	return sum >= c.atLeast
}

func abs(l int) int {
	if l < 0 {
		return -l
	}
	return l
}
