package pbopt

import gs "github.com/flakeresolve/flakeresolve/internal/gophersat/solver"

// totalizer counts how many of its inputs are true: output k (1-based)
// is implied true once at least k inputs are. Only that direction is
// encoded, which is all that assuming an output false needs (it then caps
// the count below k). Outputs are built on demand up to a bound, as the
// core-guided search raises it one at a time, so a sum over thousands of
// literals costs clauses in proportion to the bound, not to its square.
type totalizer struct {
	inputs []gs.Lit
	root   *totNode
}

type totNode struct {
	left, right *totNode
	leaf        gs.Lit   // for a leaf: its input
	size        int      // inputs below
	outs        []gs.Lit // outs[k-1]: at least k inputs below are true
}

// newTotalizer builds the tree over inputs (at least two) with no
// outputs yet.
func newTotalizer(inputs []gs.Lit) *totalizer {
	var build func(in []gs.Lit) *totNode
	build = func(in []gs.Lit) *totNode {
		if len(in) == 1 {
			return &totNode{leaf: in[0], size: 1, outs: []gs.Lit{in[0]}}
		}
		mid := len(in) / 2
		return &totNode{left: build(in[:mid]), right: build(in[mid:]), size: len(in)}
	}
	return &totalizer{inputs: inputs, root: build(inputs)}
}

// output returns the literal "at least k inputs are true" (2 <= k <= number
// of inputs), adding the variables and clauses it needs through o; ok is
// false when the search had to stop before it was built.
func (t *totalizer) output(o *optimiser, k int) (out gs.Lit, ok bool) {
	t.root.extend(o, k)
	if len(t.root.outs) < k {
		return 0, false
	}
	return t.root.outs[k-1], true
}

// extend builds the node's outputs up to k (or its size). When the search
// must stop it may leave them short: no solve follows then.
func (n *totNode) extend(o *optimiser, k int) {
	k = min(k, n.size)
	if n.left == nil || len(n.outs) >= k {
		return
	}
	n.left.extend(o, k)
	n.right.extend(o, k)
	for m := len(n.outs) + 1; m <= k && !o.stopped; m++ {
		r := o.newVar()
		n.outs = append(n.outs, r)
		// i inputs true on the left and m-i on the right give m here.
		for i := max(0, m-len(n.right.outs)); i <= min(m, len(n.left.outs)); i++ {
			cl := append(o.cm.literals(3), r)
			if i > 0 {
				cl = append(cl, n.left.outs[i-1].Negation())
			}
			if j := m - i; j > 0 {
				cl = append(cl, n.right.outs[j-1].Negation())
			}
			o.addClause(cl)
		}
	}
}
