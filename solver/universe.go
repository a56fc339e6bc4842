package solver

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"
	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// candidate is one lockable tree of a flake as one declaration reaches
// it: a version, a ref head, a rev, or the pin of a lock file. Candidates of
// one tree share its node, which is what deduplication counts.
type candidate struct {
	// flake is the flake of the index the tree belongs to, or for a tree
	// no index has, a stand-in named by its source.
	flake   *index.Flake
	version *index.Version // the version the tree is, if any
	ref     string         // for a ref head: the ref
	// locked is what a lock records for the pin; original, for a pin
	// taken from a lock, is the lock node's original (nil: the
	// declaration's reference is the original).
	locked, original *pb.Source
	inputs           map[string]*pb.Input
	origin           Origin // for a pin taken from a lock: which lock
	// lockNode, for a pin taken from a lock, is its node: the pins of the
	// tree's own unversioned inputs are beneath it. own is, for any other
	// tree, the tree's own committed flake.lock.
	lockNode, own *lockfile.Node
	// fake marks a tree known only from a lock node: its inputs are the
	// node's, and their follows paths start at the lock's root.
	fake bool
	node *node
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
	src      *pb.Source   // the reference, parsed
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
	src, err := flakeref.Parse(url)
	if owner, repo, req, ok := flakeref.FlakeHub(url); ok {
		t.src = src
		t.flake = r.layers.LookupSource(&pb.Source{Type: "github", Owner: owner, Repo: repo})
		t.urlReq = req
		return t
	}
	if err != nil {
		t.err = err
		return t
	}
	t.src, t.ref, t.rev = src, src.Ref, src.Rev
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
	c := &candidate{flake: f, version: v, locked: v.Locked, inputs: v.Inputs, own: v.Lock()}
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
	c := &candidate{flake: f, ref: name, locked: ref.Locked, inputs: ref.Inputs, own: ref.Lock()}
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

// byRevision finds the version or ref of f locked to rev.
func (r *resolver) byRevision(f *index.Flake, rev string) *candidate {
	if v := treeVersion(f, &pb.Source{Rev: rev}); v != nil {
		return r.versionCand(v, f)
	}
	if name := treeRef(f, &pb.Source{Rev: rev}); name != "" {
		return r.refCand(f, name)
	}
	return nil
}

// sameTree says whether two locked sources are one tree: the same narHash,
// or, where either lacks one, the same rev.
func sameTree(a, b *pb.Source) bool {
	if a.NarHash != "" && b.NarHash != "" {
		return a.NarHash == b.NarHash
	}
	return a.Rev != "" && a.Rev == b.Rev
}

// treeVersion is the newest version of f whose tree locked is, or nil.
func treeVersion(f *index.Flake, locked *pb.Source) *index.Version {
	for i := len(f.Versions) - 1; i >= 0; i-- {
		if sameTree(f.Versions[i].Locked, locked) {
			return f.Versions[i]
		}
	}
	return nil
}

// treeRef is the first ref (by name) of f whose head locked is, or "".
func treeRef(f *index.Flake, locked *pb.Source) string {
	for _, name := range slices.Sorted(maps.Keys(f.Refs)) {
		if sameTree(f.Refs[name].Locked, locked) {
			return name
		}
	}
	return ""
}

// tagVersion is the version of f published under tag: the tag its locked
// source records, else "vVERSION" or "VERSION".
func tagVersion(f *index.Flake, tag string) *index.Version {
	for i := len(f.Versions) - 1; i >= 0; i-- {
		v := f.Versions[i]
		if v.Locked.Ref == tag || v.String() == tag || "v"+v.String() == tag {
			return v
		}
	}
	return nil
}

// lockCand is the pin a lock node holds, as the candidate of an input that
// locks through that lock. A tree the index knows is that version or ref
// head; any other tree is known only from the node. As in Nix's
// computeLocks, the inputs of a pin kept from the existing lock are the
// node's own (the lock is trusted, so a lock Nix wrote stays as it is)
// unless the caller updates a path beneath it, and those of a pin from a
// dependency's lock are the tree's declared inputs where the index has
// them.
func (r *resolver) lockCand(n *lockfile.Node, origin Origin, path string) *candidate {
	trusted := origin == OriginExistingLock && !r.updatedBeneath(path)
	key := lockKey{n, trusted}
	if c := r.byLockNode[key]; c != nil {
		return c
	}
	c := &candidate{locked: n.Locked, original: n.Original, origin: origin, lockNode: n}
	c.flake = r.flakeOfSource(n.Original)
	if c.flake == nil {
		c.flake = r.flakeOfSource(n.Locked)
	}
	if c.flake != nil {
		if v := treeVersion(c.flake, n.Locked); v != nil {
			c.version, c.inputs = v, v.Inputs
		} else if name := treeRef(c.flake, n.Locked); name != "" {
			c.ref, c.inputs = name, c.flake.Refs[name].Inputs
		}
	} else {
		c.flake = r.standIn(n.Locked)
	}
	if trusted || (c.version == nil && c.ref == "") {
		c.fake, c.inputs = true, lockInputs(n)
	}
	r.byLockNode[key] = c
	r.nodeOf(c)
	return c
}

// lockKey caches lock pins: one candidate per node, and per whether its
// inputs are the node's.
type lockKey struct {
	node    *lockfile.Node
	trusted bool
}

// updatedBeneath says whether the caller updates a path strictly beneath
// path, which makes Nix fetch the flake at path to lock it afresh.
func (r *resolver) updatedBeneath(path string) bool {
	for _, u := range r.req.Update {
		if strings.HasPrefix(u, path+"/") {
			return true
		}
	}
	return false
}

// flakeOfSource is the flake of the indexes a reference points at.
func (r *resolver) flakeOfSource(s *pb.Source) *index.Flake {
	if s == nil {
		return nil
	}
	if s.Type == "indirect" {
		f, _ := r.layers.Lookup(s.Id)
		return f
	}
	return r.layers.LookupSource(s)
}

// standIn is a flake named by the source of a tree no index has, so that
// the trees of one repository count as one flake's.
func (r *resolver) standIn(locked *pb.Source) *index.Flake {
	loc := proto.Clone(locked).(*pb.Source)
	loc.Ref, loc.Rev, loc.NarHash, loc.LastModified, loc.RevCount = "", "", "", 0, 0
	name := flakeref.String(loc)
	if f := r.standIns[name]; f != nil {
		return f
	}
	f := &index.Flake{Name: name, Source: loc}
	r.standIns[name] = f
	return f
}

// lockInputs are the inputs of a tree known only from a lock node: each
// child node's original, or the follows path the lock records.
func lockInputs(n *lockfile.Node) map[string]*pb.Input {
	out := make(map[string]*pb.Input, len(n.Inputs))
	for name, e := range n.Inputs {
		if e.Node == nil {
			out[name] = &pb.Input{Follows: proto.String(strings.Join(e.Follows, "/"))}
			continue
		}
		in := &pb.Input{Url: flakeref.String(e.Node.Original)}
		if e.Node.NotFlake {
			in.Flake = proto.Bool(false)
		}
		out[name] = in
	}
	return out
}

// lockEntry is the pin the lock an instance locks through holds for its
// input name, when the declaration in force is the one the pin was locked
// from (Nix compares the lock's original with the declaration) and the
// caller has not asked to update the path.
func (r *resolver) lockEntry(in *instance, s *slot, declared *pb.Source) *lockfile.Node {
	if in.lock.node == nil || (in.lock.existing && r.updated(s.path)) {
		return nil
	}
	e := in.lock.node.Inputs[s.name]
	if e == nil || e.Node == nil || e.Node.Locked == nil {
		return nil
	}
	if in.cand != nil && in.cand.fake {
		// The input is the node's own child, whatever its spelling.
		return e.Node
	}
	if declared == nil || !flakeref.Equal(declared, e.Node.Original) {
		return nil
	}
	return e.Node
}

// updated says whether the caller released path's pins in the existing
// lock.
func (r *resolver) updated(path string) bool {
	for _, u := range r.req.Update {
		if path == u || strings.HasPrefix(path, u+"/") {
			return true
		}
	}
	return false
}

// candidates lists what a slot may lock to, newest first, and says why the
// list is empty when it is. An unversioned input locks as Nix locks it: to
// the pin of the lock its flake locks through, else to the rev or ref head
// its reference names. A versioned one may take any version its
// requirement admits, and keeps the existing lock's pin when that still
// satisfies it.
func (r *resolver) candidates(in *instance, s *slot, t *target) ([]*candidate, string) {
	req := s.req
	entry := r.lockEntry(in, s, t.src)
	origin := OriginDependencyLock
	if in.lock.existing {
		origin = OriginExistingLock
	}
	if req == nil && r.req.UnversionedAny && t.flake != nil && t.rev == "" {
		req = anyVersion
	}
	if req == nil {
		if entry != nil {
			return []*candidate{r.lockCand(entry, origin, s.path)}, ""
		}
		if t.flake == nil {
			return nil, ""
		}
		return r.fixedCands(t)
	}
	if t.flake == nil {
		return nil, ""
	}
	if t.rev != "" {
		cs, why := r.fixedCands(t)
		if len(cs) == 1 && (cs[0].version == nil || !req.Matches(cs[0].version.SemVer)) {
			return nil, fmt.Sprintf("%s at rev %s is not a version matching %s", t.flake.Name, t.rev, req)
		}
		return cs, why
	}
	vs := t.flake.Select(req)
	var out []*candidate
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		if entry != nil && in.lock.existing && sameTree(v.Locked, entry.Locked) {
			// The existing lock's pin still satisfies the requirement:
			// it stays, as Cargo keeps Cargo.lock's.
			return []*candidate{r.lockCand(entry, origin, s.path)}, ""
		}
		if r.allowed != nil && !r.allowed[v] {
			continue
		}
		out = append(out, r.versionCand(v, t.flake))
	}
	if len(out) == 0 {
		return nil, noMatch(t.flake, req)
	}
	return out, ""
}

// fixedCands is the one tree an unversioned reference names: the tree of
// its rev, or the head of its ref (the default branch when it names none).
func (r *resolver) fixedCands(t *target) ([]*candidate, string) {
	f := t.flake
	if t.rev != "" {
		c := r.byRevision(f, t.rev)
		if c == nil {
			return nil, fmt.Sprintf("%s has no version or ref at rev %s in the index", f.Name, t.rev)
		}
		return []*candidate{c}, ""
	}
	name := t.ref
	if name == "" {
		name = f.DefaultRef
	}
	if tag, ok := strings.CutPrefix(name, "refs/tags/"); ok {
		if v := tagVersion(f, tag); v != nil {
			return []*candidate{r.versionCand(v, f)}, ""
		}
	} else if c := r.refCand(f, strings.TrimPrefix(name, "refs/heads/")); c != nil {
		return []*candidate{c}, ""
	} else if v := tagVersion(f, name); name != "" && v != nil {
		// A ref that names no branch head may name a version's tag, as
		// ?ref=v1.2.0 does.
		return []*candidate{r.versionCand(v, f)}, ""
	}
	if name == "" {
		return nil, fmt.Sprintf("the index records no default branch for %s, and the input is unversioned", f.Name)
	}
	return nil, fmt.Sprintf("the index records no head for ref %q of %s", name, f.Name)
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
		seenRefs: map[*candidate]bool{}, seenLocks: map[*lockfile.Node]bool{}, expanded: map[expansion]bool{}, targets: map[*index.Flake]bool{}}
	w.visit(r.req.Inputs)
	w.visitLock(r.req.Lock, OriginExistingLock)
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
			w.reachCand(w.r.versionCand(v, f))
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
