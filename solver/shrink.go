package solver

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// shrink keeps, of the versions the request can reach, only those that can
// be part of an optimal answer. Two versions of a flake are
// interchangeable when every requirement that can reach the flake admits
// both or neither, they fall in the same compatibility range (for the cargo
// strategy), neither is pinned, and they declare identical inputs: any
// answer using the older can use the newer instead with no more trees and
// newer versions. Dropping versions drops their requirements, which can
// merge more versions, so shrinking repeats until nothing changes.
func (r *resolver) shrink() error {
	var allowed map[*index.Version]bool
	for {
		cuts, reach, err := r.reach(allowed)
		if err != nil {
			return err
		}
		if allowed == nil {
			r.stats.Reachable = len(reach)
			r.stats.Memory += reachedBytes * int64(len(reach))
			if err := r.checkMemory(); err != nil {
				return err
			}
		}
		keep := map[*index.Version]bool{}
		flakes := map[*index.Flake]bool{}
		for _, f := range reach {
			flakes[f] = true
		}
		for f := range flakes {
			// The flake's versions are sorted; keep the reached ones in order.
			var vs []*index.Version
			for _, v := range f.Versions {
				if _, ok := reach[v]; ok {
					vs = append(vs, v)
				}
			}
			region := regions(vs, cuts[f])
			seen := map[string]bool{}
			for k := len(vs) - 1; k >= 0; k-- {
				if sig := r.signature(vs[k], region[k]); !seen[sig] {
					seen[sig] = true
					keep[vs[k]] = true
				}
			}
		}
		if allowed != nil && len(keep) == len(allowed) {
			r.allowed = keep
			r.stats.Candidates = len(keep)
			if len(keep) > r.lim.MaxCandidates {
				return r.limit(LimitCandidates, len(keep), r.lim.MaxCandidates)
			}
			return nil
		}
		allowed = keep
		if err := r.ctx.Err(); err != nil {
			return err
		}
	}
}

// reach walks every declaration the request can reach through allowed
// versions. It returns, per flake, the requirements that reach it (the
// cuts that split its versions into interchangeable classes) and the
// reached versions.
func (r *resolver) reach(allowed map[*index.Version]bool) (map[*index.Flake][]*versionreq.Req, map[*index.Version]*index.Flake, error) {
	w := &reachWalk{r: r, allowed: allowed, cutText: map[*index.Flake]map[string]*versionreq.Req{}, reach: map[*index.Version]*index.Flake{},
		seenRefs: map[*candidate]bool{}, seenLocks: map[*lockfile.Node]bool{}, expanded: map[expansion]bool{}, targets: map[*index.Flake]bool{}}
	w.visit(r.req.Inputs)
	w.visitLock(r.req.Lock, OriginExistingLock)
	for {
		w.drain()
		if err := r.ctx.Err(); err != nil {
			return nil, nil, err
		}
		if len(w.reach) > r.lim.MaxReachable {
			r.stats.Reachable = len(w.reach)
			return nil, nil, r.limit(LimitReachable, len(w.reach), r.lim.MaxReachable)
		}
		// A version-only override (floating) may retarget any edge to a
		// flake the walk reached, so its versions are reachable too.
		grew := false
		for _, f := range slices.SortedFunc(maps.Keys(w.targets), func(a, b *index.Flake) int { return strings.Compare(a.Name, b.Name) }) {
			for _, q := range w.floating {
				grew = w.expand(f, q) || grew
			}
		}
		if !grew {
			break
		}
	}
	cuts := map[*index.Flake][]*versionreq.Req{}
	for f, m := range w.cutText {
		for _, k := range slices.Sorted(maps.Keys(m)) {
			cuts[f] = append(cuts[f], m[k])
		}
		cuts[f] = append(cuts[f], w.floating...)
	}
	return cuts, w.reach, nil
}

// reachWalk is the state of one walk over the declarations.
type reachWalk struct {
	r        *resolver
	allowed  map[*index.Version]bool
	cutText  map[*index.Flake]map[string]*versionreq.Req
	reach    map[*index.Version]*index.Flake
	seenRefs map[*candidate]bool
	// seenLocks are the lock nodes walked, each once.
	seenLocks map[*lockfile.Node]bool
	expanded  map[expansion]bool
	// floating are the requirements of version-only overrides; targets
	// are the flakes declarations point at.
	floating []*versionreq.Req
	targets  map[*index.Flake]bool
	queue    []map[string]*pb.Input
}

func (w *reachWalk) visit(decls map[string]*pb.Input) { w.queue = append(w.queue, decls) }

// expand reaches the versions of f that q selects, once per (f, q), and
// reports whether any was new.
func (w *reachWalk) expand(f *index.Flake, q *versionreq.Req) bool {
	key := expansion{f, q.String()}
	if w.expanded[key] {
		return false
	}
	w.expanded[key] = true
	grew := false
	for _, v := range f.Select(q) {
		if w.allowed != nil && !w.allowed[v] {
			continue
		}
		if _, ok := w.reach[v]; !ok {
			// Most reached versions are never chosen: no candidate is
			// made for them here.
			w.reach[v] = f
			w.visit(v.Inputs())
			w.visitLock(v.Lock(), OriginDependencyLock)
			grew = true
		}
	}
	return grew
}

// drain walks the queued declarations, expanding what each can lock to.
func (w *reachWalk) drain() {
	for n := 0; len(w.queue) > 0; n++ {
		if n%256 == 0 && w.r.ctx.Err() != nil {
			return // the caller reports the deadline
		}
		decls := w.queue[0]
		w.queue = w.queue[1:]
		for _, d := range flattenDecls(decls) {
			text := w.r.declReq(d)
			var req *versionreq.Req
			if text != "" {
				q, err := w.r.requirement(text)
				if err != nil {
					continue // reported where the declaration is encoded
				}
				req = q
			}
			if d.Url == "" {
				if req != nil {
					w.floating = append(w.floating, req)
				}
				continue
			}
			t := w.r.target(d.Url)
			if t.flake == nil {
				continue
			}
			w.targets[t.flake] = true
			if req != nil {
				if w.cutText[t.flake] == nil {
					w.cutText[t.flake] = map[string]*versionreq.Req{}
				}
				w.cutText[t.flake][req.String()] = req
			}
			if t.rev != "" || t.version != nil || (req == nil && !w.r.req.UnversionedAny) {
				// One tree, whichever path reaches it. Pins that locks hold
				// instead are reached through the locks themselves.
				cs, _ := w.r.fixedCands(t)
				for _, c := range cs {
					w.reachCand(c)
				}
				continue
			}
			if req == nil {
				req = anyVersion
			}
			w.expand(t.flake, req)
		}
		if len(w.reach) > w.r.lim.MaxReachable {
			return
		}
	}
}

// reachCand reaches a fixed tree: its declared inputs and its own lock.
func (w *reachWalk) reachCand(c *candidate) {
	if c.version != nil {
		if _, ok := w.reach[c.version]; ok {
			return
		}
		w.reach[c.version] = c.flake
	} else {
		if w.seenRefs[c] {
			return
		}
		w.seenRefs[c] = true
	}
	w.visit(c.inputs)
	w.visitLock(c.own, OriginDependencyLock)
}

// visitLock reaches every tree a lock pins, since unversioned inputs may
// lock to any of them; the versions among them are kept whole by
// shrinking, as a pin names one tree.
func (w *reachWalk) visitLock(root *lockfile.Node, origin Origin) {
	if root == nil || w.seenLocks[root] {
		return
	}
	w.seenLocks[root] = true
	for _, e := range root.Inputs {
		if e.Node == nil {
			continue
		}
		if e.Node.Locked != nil {
			c := w.r.lockCand(e.Node, origin, "")
			switch {
			case c.version != nil:
				w.r.lockPinned[c.version] = true
				w.reachCand(w.r.versionCand(c.version, c.flake))
			case !c.fake:
				w.reachCand(w.r.refCand(c.flake, c.ref))
			}
		}
		w.visitLock(e.Node, origin)
	}
}

// anyVersion is "*", the requirement of unversioned inputs under
// UnversionedAny.
var anyVersion = versionreq.MustParse("*")

type expansion struct {
	flake *index.Flake
	req   string
}

// flattenDecls lists declarations and every nested override in them.
func flattenDecls(decls map[string]*pb.Input) []*pb.Input {
	var out []*pb.Input
	for _, name := range slices.Sorted(maps.Keys(decls)) {
		d := decls[name]
		out = append(out, d)
		out = append(out, flattenDecls(d.Inputs)...)
	}
	return out
}

// regions numbers the versions (ascending) so that versions with equal
// numbers lie inside or outside every cut alike: each cut's span of
// releases is two boundaries in the sorted list, and a region is a run
// between boundaries. Prereleases, which cuts admit one triple at a time,
// get a region each.
func regions(vs []*index.Version, cuts []*versionreq.Req) []int {
	var rel []int // indexes of releases in vs
	for k, v := range vs {
		if v.SemVer.Prerelease() == "" {
			rel = append(rel, k)
		}
	}
	boundary := make([]bool, len(rel)+1)
	for _, q := range cuts {
		i, j := q.Releases().Search(len(rel), func(k int) *semver.Version { return vs[rel[k]].SemVer })
		boundary[i], boundary[j] = true, true
	}
	region := make([]int, len(vs))
	for k := range region {
		region[k] = -1 - k // prereleases: a region each
	}
	id := 0
	for k, at := range rel {
		if boundary[k] {
			id++
		}
		region[at] = id
	}
	return region
}

// signature is what makes two versions of a flake interchangeable.
func (r *resolver) signature(v *index.Version, region int) string {
	sig := fmt.Sprintf("%d|%s", region, v.InputsKey())
	if r.req.Strategy == Cargo {
		sig += "|" + compatClass(v.SemVer)
	}
	if r.lockPinned[v] {
		// A lock pins this very tree: it cannot stand in for another.
		sig += "|pinned:" + v.NarHash() + v.Rev()
	}
	return sig
}

// compatClass is Cargo's semver-compatible range of a version: 1.x.y, 0.2.x
// or 0.0.3.
func compatClass(v *semver.Version) string {
	switch {
	case v.Major() > 0:
		return fmt.Sprintf("%d.x.y", v.Major())
	case v.Minor() > 0:
		return fmt.Sprintf("0.%d.x", v.Minor())
	}
	return fmt.Sprintf("0.0.%d", v.Patch())
}
