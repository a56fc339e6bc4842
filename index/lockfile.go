package index

import (
	"fmt"
	"iter"
	"maps"
	"slices"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// A version's or ref's own flake.lock (lock_file) is what Nix reads as the
// old lock of that flake's inputs, so it is checked as Nix 2.8 checks a lock
// file it reads, and no further: what was committed is recorded as
// committed, including pins that only later Nix writes (a "file" node, a
// FlakeHub tarball's rev). A lock file passes when its version is one Nix
// reads (5 to 7), its root exists and carries no pin, every node key an
// edge names exists, follows paths are lists of input names, and every
// other node has an original and a locked reference of a type the table
// knows, with its location, locked the way Nix's isLocked says (a rev or
// a narHash), and a well-formed rev and narHash; and no node key leads
// back to itself.

// validateLockFiles checks the lock files of a flake's versions, refs and
// revs.
func validateLockFiles(fname string, f *pb.Flake) []Problem {
	c := &lockChecker{hashes: map[string]bool{}}
	var probs []Problem
	for i, v := range f.Versions {
		vname := v.Version
		if vname == "" {
			vname = fmt.Sprintf("#%d", i)
		}
		for _, p := range c.check(v.LockFile) {
			p.Flake, p.Version = fname, vname
			probs = append(probs, p)
		}
	}
	for _, nt := range namedTrees(f) {
		for _, p := range c.check(nt.ref.LockFile) {
			p.Flake, p.Field = fname, nt.field+"."+p.Field
			probs = append(probs, p)
		}
	}
	return probs
}

// CheckLockFile returns the problems of a recorded flake.lock, with fields
// from the lock file ("lockFile.nodes.nixpkgs.locked.narHash"); nil for
// no lock file, which is allowed (the tree has none).
func CheckLockFile(lf *pb.LockFile) []Problem {
	return (&lockChecker{hashes: map[string]bool{}}).check(lf)
}

// lockChecker checks the lock files of one flake. They are most of what a
// large index holds, and a flake's versions pin the same trees again and
// again, so each narHash is parsed once; and nodes are visited in map
// order, sorted only to report problems in a stable order.
type lockChecker struct {
	hashes map[string]bool // narHash -> well formed
}

func (c *lockChecker) check(lf *pb.LockFile) []Problem {
	if lf == nil {
		return nil
	}
	if probs := c.checkIn(lf, false); len(probs) > 0 {
		return c.checkIn(lf, true)
	}
	return nil
}

// inOrder ranges over a map's keys, sorted when sorted is set.
func inOrder[V any](m map[string]V, sorted bool) iter.Seq[string] {
	if sorted {
		return slices.Values(slices.Sorted(maps.Keys(m)))
	}
	return maps.Keys(m)
}

func (c *lockChecker) checkIn(lf *pb.LockFile, sorted bool) []Problem {
	var probs []Problem
	add := func(field, format string, args ...any) {
		probs = append(probs, Problem{Field: "lockFile." + field, Msg: fmt.Sprintf(format, args...)})
	}
	if lf.Version < 5 || lf.Version > 7 {
		add("version", "%d is not a lock file version Nix reads (5 to 7)", lf.Version)
	}
	switch {
	case lf.Root == "":
		add("root", "missing, expected the key of the root node")
	case lf.Nodes[lf.Root] == nil:
		add("root", "%q names no node of the lock file", lf.Root)
	}
	for key := range inOrder(lf.Nodes, sorted) {
		n := lf.Nodes[key]
		at := func(field string) func(string, string, ...any) {
			return func(sub, format string, args ...any) {
				add("nodes."+key+"."+field+"."+sub, format, args...)
			}
		}
		if n == nil {
			add("nodes."+key, "empty node")
			continue
		}
		if key == lf.Root {
			if n.Original != nil || n.Locked != nil {
				add("nodes."+key, "the root node is the flake itself and has only inputs")
			}
		} else {
			c.checkLockedNode(n, key, add, at)
		}
		for name := range inOrder(n.Inputs, sorted) {
			field := "nodes." + key + ".inputs." + name
			switch e := n.Inputs[name].GetTarget().(type) {
			case *pb.LockInput_Node:
				if lf.Nodes[e.Node] == nil {
					add(field, "names node %q, which the lock file lacks", e.Node)
				}
			case *pb.LockInput_Follows:
				if slices.Contains(e.Follows.GetNames(), "") {
					add(field, "follows path %q has an empty input name", e.Follows.GetNames())
				}
			default:
				add(field, "neither a node key nor a follows path")
			}
		}
	}
	if len(probs) == 0 {
		// What remains is what only the graph shows: a cycle of node
		// keys, which Nix allows only through follows. With it ruled
		// out, the resolver's lockfile.FromProto builds every lock file
		// that passes.
		if key := cycle(lf); key != "" {
			add("nodes", "node %q is its own input (a cycle of node keys; Nix allows cycles only through follows)", key)
		}
	}
	return probs
}

// cycle returns a node key that leads back to itself through node keys
// from the root, or "". It assumes every key an edge names exists.
func cycle(lf *pb.LockFile) string {
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var visit func(key string) string
	visit = func(key string) string {
		switch state[key] {
		case onPath:
			return key
		case done:
			return ""
		}
		state[key] = onPath
		for _, in := range lf.Nodes[key].GetInputs() {
			if child, ok := in.GetTarget().(*pb.LockInput_Node); ok {
				if k := visit(child.Node); k != "" {
					return k
				}
			}
		}
		state[key] = done
		return ""
	}
	return visit(lf.Root)
}

// checkLockedNode checks the original and locked references of a node
// other than the root.
func (c *lockChecker) checkLockedNode(n *pb.LockNode, key string, add func(string, string, ...any), at func(string) func(string, string, ...any)) {
	if n.Original == nil {
		add("nodes."+key+".original", "missing, expected the input as declared")
	} else if t := sourceType(n.Original, at("original")); t != nil {
		checkLocation(t, n.Original, at("original"))
	}
	if n.Locked == nil {
		add("nodes."+key+".locked", "missing, expected the tree the input is locked to")
		return
	}
	t := sourceType(n.Locked, at("locked"))
	if t == nil {
		return
	}
	checkLocation(t, n.Locked, at("locked"))
	switch {
	case len(t.Pin) == 0:
		at("locked")("type", "%s references cannot be locked", t.Name)
	case n.Locked.Rev == "" && n.Locked.NarHash == "":
		// Nix 2.8's fixupInput: a rev or a narHash makes an input locked,
		// and a lock file with an unlocked input is refused.
		at("locked")("narHash", "missing, and no rev either: Nix refuses a lock file with an unlocked input")
	}
	checkRev(n.Locked.Rev, at("locked"))
	if h := n.Locked.NarHash; !c.hashes[h] {
		c.hashes[h] = checkNarHash(h, at("locked"))
	}
}
