package solver

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// candidate is one lockable tree of a flake: a version, or a ref head.
type candidate struct {
	flake   *index.Flake
	version *index.Version // nil for a ref head
	ref     string
	locked  *pb.Source
	inputs  map[string]*pb.Input
	node    *node
}

func (c *candidate) semver() *semver.Version {
	if c.version == nil {
		return nil
	}
	return c.version.SemVer
}

// node is a distinct tree: candidates with the same narHash are one node,
// which is what lets a ref head and a version share a lock entry.
type node struct {
	flake *index.Flake
	cand  *candidate // names the node: a version if any candidate is one
	rank  int        // 0 for the newest kept version of its flake
	x     int        // variable: the tree is in the answer
}

// target is what an input's reference points at.
type target struct {
	flake    *index.Flake // nil: not in any index
	ref, rev string
	urlReq   string // a requirement the URL spells (FlakeHub)
	err      error
}

// target resolves a reference through the layered indexes: registry ids by
// name, FlakeHub URLs by the repository they publish, anything else by
// source.
func (r *resolver) target(url string) *target {
	if t, ok := r.targets[url]; ok {
		return t
	}
	t := &target{}
	r.targets[url] = t
	if owner, repo, req, ok := flakeref.FlakeHub(url); ok {
		t.flake = r.layers.LookupSource(&pb.Source{Type: "github", Owner: owner, Repo: repo})
		t.urlReq = req
		return t
	}
	src, err := flakeref.Parse(url)
	if err != nil {
		t.err = err
		return t
	}
	t.ref, t.rev = src.Ref, src.Rev
	if src.Type == "indirect" {
		t.flake, _ = r.layers.Lookup(src.Id)
		return t
	}
	t.flake = r.layers.LookupSource(src)
	return t
}

// requirement parses a requirement once per resolution.
func (r *resolver) requirement(text string) (*versionreq.Req, error) {
	if q, ok := r.reqs[text]; ok {
		return q, nil
	}
	q, err := versionreq.Parse(text)
	if err != nil {
		return nil, err
	}
	r.reqs[text] = q
	return q, nil
}

// declReq is the requirement text of a declaration: its version, else the
// one its URL spells.
func (r *resolver) declReq(d *pb.Input) string {
	if d.Version != "" {
		return d.Version
	}
	if d.Url != "" {
		return r.target(d.Url).urlReq
	}
	return ""
}

func (r *resolver) versionCand(v *index.Version, f *index.Flake) *candidate {
	if c := r.byVersion[v]; c != nil {
		return c
	}
	c := &candidate{flake: f, version: v, locked: v.Locked, inputs: v.Inputs}
	r.byVersion[v] = c
	r.nodeOf(c)
	return c
}

func (r *resolver) refCand(f *index.Flake, name string) *candidate {
	ref := f.Refs[name]
	if ref == nil {
		return nil
	}
	if c := r.byRef[ref]; c != nil {
		return c
	}
	c := &candidate{flake: f, ref: name, locked: ref.Locked, inputs: ref.Inputs}
	r.byRef[ref] = c
	r.nodeOf(c)
	return c
}

func (r *resolver) nodeOf(c *candidate) {
	key := c.flake.Name + "\x00" + c.locked.NarHash + "\x00" + c.locked.Rev
	n := r.nodes[key]
	if n == nil {
		n = &node{flake: c.flake, cand: c}
		r.nodes[key] = n
	}
	if n.cand.version == nil && c.version != nil {
		// A ref head that is also a version's tree is that version: it
		// must rank as one, whichever declaration reached it first.
		n.cand = c
	}
	c.node = n
}

// byRev finds the version or ref of f locked to rev.
func (r *resolver) byRevision(f *index.Flake, rev string) *candidate {
	for i := len(f.Versions) - 1; i >= 0; i-- {
		if f.Versions[i].Locked.Rev == rev {
			return r.versionCand(f.Versions[i], f)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.Refs)) {
		if f.Refs[name].Locked.Rev == rev {
			return r.refCand(f, name)
		}
	}
	return nil
}

// candidates lists what a declaration may lock to, newest first, and says
// why the list is empty when it is. allowed restricts versions (nil: all).
func (r *resolver) candidates(t *target, req *versionreq.Req, path string, allowed map[*index.Version]bool) ([]*candidate, string) {
	f := t.flake
	if t.rev != "" {
		c := r.byRevision(f, t.rev)
		if c == nil {
			return nil, fmt.Sprintf("%s has no version or ref at rev %s in the index", f.Name, t.rev)
		}
		if req != nil && (c.version == nil || !req.Matches(c.version.SemVer)) {
			return nil, fmt.Sprintf("%s at rev %s is not a version matching %s", f.Name, t.rev, req)
		}
		return []*candidate{c}, ""
	}
	if req == nil && r.req.UnversionedAny {
		req = anyVersion
	}
	if req == nil {
		if c := r.pinnedAt(path, f); c != nil {
			return []*candidate{c}, ""
		}
		name := t.ref
		if name == "" {
			name = f.DefaultRef
		}
		if c := r.refCand(f, name); c != nil {
			return []*candidate{c}, ""
		}
		if name == "" {
			return nil, fmt.Sprintf("the index records no default branch for %s, and the input is unversioned", f.Name)
		}
		return nil, fmt.Sprintf("the index records no head for ref %q of %s", name, f.Name)
	}
	vs := f.Select(req)
	var out, pinned []*candidate
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		if allowed != nil && !allowed[v] {
			continue
		}
		c := r.versionCand(v, f)
		out = append(out, c)
		if r.isPinned(c.locked) {
			pinned = append(pinned, c)
		}
	}
	if len(pinned) > 0 {
		return pinned, ""
	}
	if len(out) == 0 {
		return nil, noMatch(f, req)
	}
	return out, ""
}

// noMatch says that no version of f matches req, and what there is.
func noMatch(f *index.Flake, req *versionreq.Req) string {
	if len(f.Versions) == 0 {
		return fmt.Sprintf("%s has no versions in the index", f.Name)
	}
	return fmt.Sprintf("no version of %s matches %s (the index has %s)", f.Name, req, versionList(f.Versions))
}

func versionList(vs []*index.Version) string {
	switch n := len(vs); {
	case n == 1:
		return vs[0].String()
	case n <= 4:
		s := make([]string, n)
		for i, v := range vs {
			s[i] = v.String()
		}
		return strings.Join(s, ", ")
	default:
		return fmt.Sprintf("%d versions, %s to %s", n, vs[0], vs[n-1])
	}
}

// pinnedAt is the existing pin of an unversioned input at path, if the
// index knows its tree.
func (r *resolver) pinnedAt(path string, f *index.Flake) *candidate {
	p, ok := r.pinByPath[path]
	if !ok {
		return nil
	}
	for _, v := range f.Versions {
		if samePin(v.Locked, p) {
			return r.versionCand(v, f)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(f.Refs)) {
		if samePin(f.Refs[name].Locked, p) {
			return r.refCand(f, name)
		}
	}
	return nil
}

// isPinned says whether the existing lock, less the inputs being updated,
// pins a tree somewhere.
func (r *resolver) isPinned(locked *pb.Source) bool {
	return r.pinned[locked.NarHash] || r.pinned["rev:"+locked.Rev]
}

func samePin(s *pb.Source, p Pin) bool {
	if p.NarHash != "" {
		return s.NarHash == p.NarHash
	}
	return p.Rev != "" && s.Rev == p.Rev
}

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
				return r.limit("candidates", len(keep), r.lim.MaxCandidates)
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
		seenRefs: map[*candidate]bool{}, expanded: map[expansion]bool{}, targets: map[*index.Flake]bool{}}
	w.visit(r.req.Inputs)
	for {
		w.drain()
		if len(w.reach) > r.lim.MaxReachable {
			r.stats.Reachable = len(w.reach)
			return nil, nil, r.limit("reachable versions", len(w.reach), r.lim.MaxReachable)
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
	expanded map[expansion]bool
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
			w.reach[v] = f
			w.visit(v.Inputs)
			grew = true
		}
	}
	return grew
}

// drain walks the queued declarations, expanding what each can lock to.
func (w *reachWalk) drain() {
	for len(w.queue) > 0 {
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
			if t.rev != "" || (req == nil && !w.r.req.UnversionedAny) {
				// One tree, whichever path reaches it: the path only matters
				// for pins of unversioned inputs, which keep their tree.
				cs, _ := w.r.candidates(t, req, "", w.allowed)
				for _, c := range cs {
					if c.version != nil {
						if _, ok := w.reach[c.version]; !ok {
							w.reach[c.version] = c.flake
							w.visit(c.inputs)
						}
					} else if !w.seenRefs[c] {
						w.seenRefs[c] = true
						w.visit(c.inputs)
					}
				}
				for _, c := range w.r.pinnedOf(t.flake) {
					if !w.seenRefs[c] {
						w.seenRefs[c] = true
						w.visit(c.inputs)
					}
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

// anyVersion is "*", the requirement of unversioned inputs under
// UnversionedAny.
var anyVersion = versionreq.MustParse("*")

type expansion struct {
	flake *index.Flake
	req   string
}

// pinnedOf lists the existing pins of unversioned inputs of f, which
// candidates() may return for some path.
func (r *resolver) pinnedOf(f *index.Flake) []*candidate {
	var out []*candidate
	for _, p := range r.req.Pins {
		if _, ok := r.pinByPath[p.Path]; !ok {
			continue
		}
		if c := r.pinnedAt(p.Path, f); c != nil {
			out = append(out, c)
		}
	}
	return out
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
	if r.isPinned(v.Locked) {
		sig += "|pinned:" + v.Locked.NarHash + v.Locked.Rev
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
