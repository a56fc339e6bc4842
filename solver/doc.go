// Package solver turns the inputs of a flake into pins: for every input
// path, the flake version (or ref head) it locks to, chosen so that every
// requirement holds, the fewest distinct trees are used, and, among those
// answers, the versions are the newest.
//
// # Model
//
// Nix locks one node per input path, and two paths are deduplicated when
// they pin the same tree. The solver therefore counts distinct trees
// (a flake version, or a ref head, identified by its narHash) and lets
// paths share them. Paths that no follows can tell apart share one choice:
// an input of a version is chosen once for every path that reaches that
// version, which makes the problem the size of the package graph rather than
// of the path tree. Follows (at the root or nested in a flake) make paths
// differ; the solver keys each reached version by the overrides that apply
// beneath it, exactly as Nix's computeLocks collects them, so such paths get
// choices of their own only where they must.
//
// A follows replaces the input whole, as in Nix, requirement included: the
// flake that declares it takes responsibility for what the followed input
// gets (real flakes point a dependency's nixpkgs at their own, whatever the
// dependency's branch says). A version written on the follows declaration
// itself is checked against the tree it leads to.
//
// # Encoding
//
// Before encoding, the reachable versions are shrunk: two versions of a
// flake that every reachable requirement treats alike and that declare the
// same inputs are interchangeable, and the newer one is never worse, so only
// the newest of each such class is kept. Nixpkgs-like flakes with thousands
// of versions collapse to a handful.
//
// The problem is then a pseudo-boolean one for gophersat: a variable per
// (choice, candidate), per reached (version, overrides) and per tree;
// implications tie them together, and strategy rules are cardinality
// constraints. The first model is a valid answer. It is then improved by
// descending search: demand one tree fewer, repeat until unsatisfiable
// (proving the count minimal), then the same on the sum of each tree's
// distance from its flake's newest version. Proofs can take long on large
// problems, so improvement stops when an effort budget is spent and the
// answer says what was proven; the deadline stops everything. This relies
// on two patches to gophersat (internal/gophersat): solvers that can run in
// parallel, and a solve that can be interrupted.
//
// When no answer exists, the clauses are grouped by the declaration they come
// from (a root input, a flake's input, a follows, a strategy rule) and a
// minimal unsatisfiable set of groups is extracted by deletion. Each group
// prints as the requirement it stands for, with the chain of inputs that
// brought it in, and the root requirements in it are offered as what to
// relax.
package solver
