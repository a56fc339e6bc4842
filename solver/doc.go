// Package solver turns the inputs of a flake into pins: for every input
// path, the flake version, ref head, rev or lock pin it locks to, chosen so
// that every requirement holds and the answer is the best under a policy
// (by default: what the user asked for at its newest, then the fewest
// duplicate trees, then the newest beneath, then the fewest trees).
//
// # Model
//
// Nix locks one node per input path, and two paths are deduplicated when
// they pin the same tree. The solver therefore counts distinct trees
// (nodes: a flake version, a ref head, or a tree a lock pins, identified by
// its narHash) and lets paths share them. Paths that nothing tells apart
// share one choice: an input of a version is chosen once for every path
// that reaches that version (an instance), which makes the problem the
// size of the package graph rather than of the path tree. Two things tell
// paths apart, and give a version several instances:
//
//   - overrides (inputs.A.inputs.B.follows or .url, one level deep, as
//     Nix registers them), keyed by path beneath the declaring flake; and
//   - the lock an instance's unversioned inputs take their pins from (Nix's
//     computeLocks): the root's existing flake.lock for the root, a
//     dependency's own committed flake.lock for a version chosen afresh, and
//     for a pin taken from a lock, the nodes beneath it there.
//
// A follows replaces the input whole, requirement included; a version
// written on the follows itself is checked against whatever it leads to;
// follows = "" names the declaring flake.
//
// # Encoding
//
// Before encoding, the reachable versions are shrunk: two versions of a
// flake that every reachable requirement treats alike, that no lock pins
// and that declare the same inputs are interchangeable, and where the
// policy says a newer version is never worse, only the newest is kept.
// The walk that finds the reachable versions reads, for every input set of
// the index, the same declarations, targets, requirements and selections
// whatever the request (unless it brings registries of its own): those are
// worked out once per loaded index.Layers and shared by every resolution
// against it (index.Layers.Derived; one entry per input set reached, so
// their memory is proportional to the index, not to the requests served).
//
// Variables: x(n) for each node n (the tree is in the answer); a(i) for
// each instance i (its inputs must be locked), a(root) = true; y(s,k) for
// the k-th candidate c(s,k) of slot s (the choice of one input of one
// instance). Where an instance is its node's only one, a(i) = x(n); where
// a choice leads to such an instance and no follows is conditioned on it,
// y(s,k) = x(node(c(s,k))). So the common case has one variable per
// (flake, version).
//
// Constraints, with the declaration each stands for (its group):
//
//	choice     a(owner(s)) → OR_k y(s,k)                  [the input's requirement]
//	           y(s,k) → x(node(c(s,k))),  y(s,k) → a(child(s,k))
//	unpinned   a(owner(s)) → false, when s requires a version of a flake no index has
//	follows    a(owner(s)) ∧ conds(alt) → false, for an alternative path that
//	           does not exist, or leads to a tree the follows' version refuses
//	strategy   sum over n of flake f: ¬x(n) ≥ |N_f| − 1   (at most one tree;
//	           per compatible range for cargo; per flake for single)
//
// conds(alt) are the choices y(s,k) under which a follows path takes that
// alternative. The decoder reads a model by taking, at each slot, the
// newest candidate whose y is true: that candidate's instance is active, so
// its own constraints hold, and the answer is valid whatever else the model
// sets true.
//
// Objective (Policy.Objective, minimised in order, each a weighted sum):
//
//	root staleness  sum over root slots s, candidates k: y(s,k)·newer(c(s,k))
//	duplicates      sum over flakes f with several nodes: sum x(n) + ¬u(f) − 1,
//	                u(f) → OR x(n) of f
//	staleness       sum over nodes: x(n)·newer(n)
//	trees           sum over nodes: x(n)
//
// where newer(v) counts the versions of its flake newer than v (0 for a
// tree that is no version). Reported values are computed from the decoded
// answer, which may use fewer trees than the model sets true.
//
// # Optimisation
//
// internal/pbopt minimises the levels with core-guided search over
// assumptions: it proves lower bounds from below while improving the answer
// from above, and reports both per level, so "proven" is exact and the gap
// is known when it is not. The search starts from the greedy answer (every
// input at its newest candidate) when that is valid; the effort budget
// (time) and the work budget (propagations and conflicts, reproducible)
// bound it, and the deadline stops every stage.
//
// # Conflicts
//
// When no answer exists, the constraint groups are reduced to a minimal set
// that cannot hold together (by deletion, the declarations nearest the
// root kept), reported as typed causes with every chain of inputs that
// reaches each declarer, and hints: changes to the request that lift the
// conflict, each tried by resolving again with it.
package solver
