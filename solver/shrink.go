package solver

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"

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
	var allowed kept
	// Buffers every flake's classes are worked out in, in turn, round
	// after round.
	var vs []*index.Version
	var inputs []int32
	var rb regionBuf
	seen := map[signature]bool{}
	// Each round marks about as many versions as the one before, in the
	// blocks the last one is done with.
	var slabs [][]int32
	for {
		w, err := r.reach(allowed, slabs)
		if err != nil {
			return err
		}
		slabs = w.slabs
		if allowed == nil {
			r.stats.Reachable = w.reached
			r.stats.Memory += reachedBytes * int64(w.reached)
			if err := r.checkMemory(); err != nil {
				return err
			}
		}
		keep, n := kept{}, 0
		// last[id] is, for the inputs numbered id, the flake (by its
		// place in this loop) and region of the last release kept with
		// them: in the common case (no pins, no compatibility classes)
		// that alone is a release's signature, and a flake's releases
		// come region by region.
		last := make([]int64, len(w.inputs)+1)
		flakes := int64(0)
		for f, in := range w.reach {
			// The flake's versions are sorted; take the reached ones in order
			// (in buffers made once at the size of the largest flake rather
			// than grown to it).
			vs, inputs = slices.Grow(vs[:0], len(in)), slices.Grow(inputs[:0], len(in))
			for k, id := range in {
				if id != 0 {
					vs, inputs = append(vs, f.Versions[k]), append(inputs, id)
				}
			}
			pre := f.HasPrereleases()
			region := rb.regions(vs, pre, w.cuts[f])
			kv := &keptVersions{}
			flakes++
			if r.req.Strategy != Cargo && !r.anyPinned(vs) {
				for k := len(vs) - 1; k >= 0; k-- {
					if pre && vs[k].SemVer.Prerelease() != "" {
						// A region of its own: never like another.
						kv.prereleases = append(kv.prereleases, vs[k])
						continue
					}
					if stamp := flakes<<32 | int64(region[k]); last[inputs[k]] != stamp {
						last[inputs[k]] = stamp
						kv.releases = append(kv.releases, vs[k])
					}
				}
			} else {
				clear(seen)
				for k := len(vs) - 1; k >= 0; k-- {
					if sig := r.signature(vs[k], region[k], inputs[k]); !seen[sig] {
						seen[sig] = true
						if vs[k].SemVer.Prerelease() == "" {
							kv.releases = append(kv.releases, vs[k])
						} else {
							kv.prereleases = append(kv.prereleases, vs[k])
						}
					}
				}
			}
			slices.Reverse(kv.releases)
			slices.Reverse(kv.prereleases)
			keep[f] = kv
			n += len(kv.releases) + len(kv.prereleases)
		}
		if allowed != nil && n == allowed.count() {
			r.allowed = allowed
			r.stats.Candidates = n
			if n > r.lim.MaxCandidates {
				return r.limit(LimitCandidates, n, r.lim.MaxCandidates)
			}
			return nil
		}
		allowed = keep
		if err := r.ctx.Err(); err != nil {
			return err
		}
	}
}

// kept are the versions shrinking keeps, per flake, split as the index
// splits them so that a requirement selects from them as from the flake's
// own.
type kept map[*index.Flake]*keptVersions

type keptVersions struct {
	releases, prereleases []*index.Version
}

func (k kept) count() int {
	n := 0
	for _, kv := range k {
		n += len(kv.releases) + len(kv.prereleases)
	}
	return n
}

// selectVersions is f.Select(q) restricted to what shrinking kept (all of
// them when k is nil), ascending. span, when set, is where q's releases
// lie in f's Versions: then, for a flake with no prereleases, the kept
// versions in it are found by their places, without comparing versions.
func (k kept) selectVersions(f *index.Flake, q *versionreq.Req, span *[2]int) []*index.Version {
	if k == nil {
		return f.Select(q)
	}
	kv := k[f]
	if kv == nil {
		return nil
	}
	if span != nil && !f.HasPrereleases() {
		i, j := placed(kv.releases, span[0]), placed(kv.releases, span[1])
		return kv.releases[i:j:j]
	}
	return versionreq.Select(q, kv.releases, kv.prereleases, func(v *index.Version) *semver.Version { return v.SemVer })
}

// placed is how many of vs (ascending versions of one flake) are placed
// before place in the flake's Versions.
func placed(vs []*index.Version, place int) int {
	return sort.Search(len(vs), func(k int) bool { return vs[k].Index() >= place })
}

// reach walks every declaration the request can reach through allowed
// versions. The walk it returns holds, per flake, the requirements that
// reach it (cuts, which split its versions into interchangeable classes)
// and the reached versions. It marks versions in slabs (an earlier walk's,
// which it clears) before it makes any.
func (r *resolver) reach(allowed kept, slabs [][]int32) (*reachWalk, error) {
	w := &reachWalk{r: r, allowed: allowed, cuts: map[*index.Flake][]cut{}, cut: map[expansion]bool{}, reach: map[*index.Flake][]int32{},
		seenRefs: map[*candidate]bool{}, seenLocks: map[*lockfile.Node]bool{}, inputs: map[index.InputsID]int32{}, expanded: map[expansion]bool{},
		targets: map[*index.Flake]bool{}, spare: slabs}
	w.visit(r.req.Inputs)
	w.visitLock(r.req.Lock, OriginExistingLock)
	for {
		w.drain()
		if err := r.ctx.Err(); err != nil {
			return nil, err
		}
		if w.reached > r.lim.MaxReachable {
			r.stats.Reachable = w.reached
			return nil, r.limit(LimitReachable, w.reached, r.lim.MaxReachable)
		}
		// A version-only override (floating) may retarget any edge to a
		// flake the walk reached, so its versions are reachable too.
		if len(w.floating) == 0 {
			break
		}
		grew := false
		for _, f := range slices.SortedFunc(maps.Keys(w.targets), func(a, b *index.Flake) int { return strings.Compare(a.Name, b.Name) }) {
			for _, q := range w.floating {
				grew = w.expand(f, q, nil, nil) || grew
			}
		}
		if !grew {
			break
		}
	}
	for f := range w.cuts {
		for _, q := range w.floating {
			w.cuts[f] = append(w.cuts[f], cut{req: q})
		}
	}
	return w, nil
}

// reachWalk is the state of one walk over the declarations.
type reachWalk struct {
	r       *resolver
	allowed kept
	// cuts are the requirements on each flake, each once (a requirement
	// text is parsed once per resolution, so one text is one pointer).
	cuts map[*index.Flake][]cut
	cut  map[expansion]bool
	// reach marks the reached versions of each flake, by place in its
	// Versions, with the number inputs gives their input declarations
	// (0: not reached); reached counts them.
	reach map[*index.Flake][]int32
	// slab is where reachOf cuts marks from; slabs are the blocks it was
	// cut from, spare those an earlier walk left it.
	slab         []int32
	slabs, spare [][]int32
	// lastInputs is the input set mark numbered last, lastID its number.
	lastInputs index.InputsID
	lastID     int32
	inputs     map[index.InputsID]int32
	reached    int
	seenRefs   map[*candidate]bool
	// seenLocks are the lock nodes walked, each once.
	seenLocks map[*lockfile.Node]bool
	expanded  map[expansion]bool
	// floating are the requirements of version-only overrides; targets
	// are the flakes declarations point at.
	floating []*versionreq.Req
	targets  map[*index.Flake]bool
	// queue holds declarations to walk: each a plan, or a map drain
	// flattens into flat.
	queue []queued
	flat  []*pb.Input
}

// queued is one set of declarations to walk: a plan the layers share, or
// one the resolution works out itself (decls).
type queued struct {
	plan  []plannedDecl
	decls map[string]*pb.Input
}

func (w *reachWalk) visit(decls map[string]*pb.Input) {
	w.queue = append(w.queue, queued{decls: decls})
}

// visitVersion walks the input declarations of a version, by the layers'
// shared plan for them when the resolution reads references as every
// resolution does (no registries of its own).
func (w *reachWalk) visitVersion(v *index.Version) {
	if w.r.indirect != nil {
		w.visit(v.Inputs())
		return
	}
	w.queue = append(w.queue, queued{plan: w.r.walkPlan(v).decls})
}

// expand reaches the versions of f that q selects, once per (f, q), and
// reports whether any was new. sel, when set, is f.Select(q), worked out
// before; span, when set, is where q's releases lie in f's Versions.
func (w *reachWalk) expand(f *index.Flake, q *versionreq.Req, sel []*index.Version, span *[2]int) bool {
	key := expansion{f, q}
	if w.expanded[key] {
		return false
	}
	w.expanded[key] = true
	grew := false
	in := w.reachOf(f)
	if sel == nil || w.allowed != nil {
		sel = w.allowed.selectVersions(f, q, span)
	}
	for _, v := range sel {
		if reached, newInputs := w.mark(in, v); reached {
			// Most reached versions are never chosen: no candidate is
			// made for them here.
			if newInputs {
				w.visitVersion(v)
			}
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
		q := w.queue[0]
		w.queue = w.queue[1:]
		plan := q.plan
		if plan == nil && q.decls != nil {
			w.flat = appendDecls(w.flat[:0], q.decls)
			plan = w.r.planOf(w.flat, w.r.declTarget)
		}
		for i := range plan {
			dt := &plan[i]
			if dt.bad {
				continue // reported where the declaration is encoded
			}
			req := dt.req
			if dt.t == nil {
				// No URL: an override of the version alone.
				if req != nil && !slices.Contains(w.floating, req) {
					w.floating = append(w.floating, req)
				}
				continue
			}
			t := dt.t
			if t.flake == nil {
				continue
			}
			w.targets[t.flake] = true
			if key := (expansion{t.flake, req}); req != nil && !w.cut[key] {
				w.cut[key] = true
				w.cuts[t.flake] = append(w.cuts[t.flake], cut{req: req, span: dt.span})
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
			w.expand(t.flake, req, dt.sel, dt.span)
		}
		if w.reached > w.r.lim.MaxReachable {
			return
		}
	}
}

// reachOf is where the walk marks the versions of f.
func (w *reachWalk) reachOf(f *index.Flake) []int32 {
	in := w.reach[f]
	if in == nil {
		// Most flakes have a few versions: their marks are cut from one
		// block.
		n := len(f.Versions)
		if len(w.slab) < n {
			if k := len(w.spare) - 1; k >= 0 && len(w.spare[k]) >= n {
				w.slab, w.spare = w.spare[k], w.spare[:k]
				clear(w.slab)
			} else {
				w.slab = make([]int32, max(n, 4096))
			}
			w.slabs = append(w.slabs, w.slab)
		}
		in, w.slab = w.slab[:n:n], w.slab[n:]
		w.reach[f] = in
	}
	return in
}

// mark reaches version v (in is its flake's reachOf), and says whether it
// was new and whether its input declarations were: versions that declare
// the same inputs reach the same versions, so those are walked once.
func (w *reachWalk) mark(in []int32, v *index.Version) (reached, newInputs bool) {
	if in[v.Index()] != 0 {
		return false, false
	}
	key := v.InputsID()
	// Consecutive versions mostly declare the same inputs: the last set's
	// number spares a lookup.
	id, seen := w.lastID, w.lastID != 0 && key == w.lastInputs
	if !seen {
		id, seen = w.inputs[key]
		if !seen {
			id = int32(len(w.inputs)) + 1
			w.inputs[key] = id
		}
		w.lastInputs, w.lastID = key, id
	}
	in[v.Index()] = id
	w.reached++
	return true, !seen
}

// reachCand reaches a fixed tree: its declared inputs and its own lock.
func (w *reachWalk) reachCand(c *candidate) {
	if c.version != nil {
		if reached, _ := w.mark(w.reachOf(c.flake), c.version); !reached {
			return
		}
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
	req   *versionreq.Req
}

// declTarget is what the walk reads of a declaration, worked out once per
// resolution (each shrinking round walks the same declarations again): its
// requirement's text (see declReq) and the requirement (nil: none; bad:
// one that does not parse) and, when it has a URL, its target (nil: none).
type declTarget struct {
	text string
	req  *versionreq.Req
	bad  bool
	t    *target
}

func (r *resolver) declTarget(d *pb.Input) *declTarget {
	if dt := r.declTargets[d]; dt != nil {
		return dt
	}
	dt := newDeclTarget(d, r.target, r.requirement)
	r.declTargets[d] = dt
	return dt
}

// newDeclTarget reads a declaration with the given ways to resolve a
// reference and parse a requirement.
func newDeclTarget(d *pb.Input, target func(url string) *target, parse func(text string) (*versionreq.Req, error)) *declTarget {
	dt := &declTarget{}
	if d.Url != "" {
		dt.t = target(d.Url)
	}
	dt.text = d.Version
	if dt.text == "" && dt.t != nil {
		dt.text = dt.t.urlReq
	}
	if dt.text != "" {
		dt.req, _ = parse(dt.text)
		dt.bad = dt.req == nil
	}
	return dt
}

// plannedDecl is a declaration as the walk reads it, and in the layers'
// plans, the versions of its target's flake its requirement selects (sel;
// nil when not worked out).
type plannedDecl struct {
	declTarget
	sel []*index.Version
	// span is where req's releases start and end in its target flake's
	// Versions, for a flake with no prereleases (else nil).
	span *[2]int
}

// cut is a requirement on a flake, and, when known, where its releases
// start and end in the flake's Versions (see plannedDecl).
type cut struct {
	req  *versionreq.Req
	span *[2]int
}

// planOf is the plan of flattened declarations, in r's reusable buffer.
func (r *resolver) planOf(flat []*pb.Input, read func(*pb.Input) *declTarget) []plannedDecl {
	r.planBuf = r.planBuf[:0]
	for _, d := range flat {
		r.planBuf = append(r.planBuf, plannedDecl{declTarget: *read(d)})
	}
	return r.planBuf
}

// walkPlans are, per set of input declarations of the layers' versions,
// the declarations the walk reads with their requirements and targets:
// the same for every resolution that reads references without registries
// of its own, and reached by nearly every one (a request's closure covers
// most of an ecosystem), so worked out once per layers. One entry per input
// set a walk reached: proportional to the indexes, whatever the requests.
type walkPlans struct {
	byInputs sync.Map // index.InputsID → *inputsPlan
	// targets are the references the plans name, each resolved once
	// (url → *target): the resolutions' own lookups find them here too.
	targets sync.Map
}

// inputsPlan is what the layers share of one set of input declarations:
// the walk's plan (decls, every declaration with its nested overrides, by
// name), the names of the inputs sorted, which the expansion walks in
// order, and where each name's own declaration is in decls (at).
type inputsPlan struct {
	decls []plannedDecl
	names []string
	at    []int
}

// walkPlans are the plans these layers share.
func (r *resolver) walkPlans() *walkPlans {
	if r.plans == nil {
		r.plans = r.layers.Derived(walkPlansKey{}, func() any { return &walkPlans{} }).(*walkPlans)
	}
	return r.plans
}

type walkPlansKey struct{}

// walkPlan is the shared plan of v's input declarations. Its requirements
// are parsedReq's, which are the resolution's own while parsedReqs has
// room; past that a text may have two pointers in one walk, which only
// repeats an expansion that finds nothing new.
func (r *resolver) walkPlan(v *index.Version) *inputsPlan {
	r.walkPlans()
	id := v.InputsID()
	if p, ok := r.plans.byInputs.Load(id); ok {
		return p.(*inputsPlan)
	}
	target := func(url string) *target {
		if t, ok := r.plans.targets.Load(url); ok {
			return t.(*target)
		}
		t, _ := r.plans.targets.LoadOrStore(url, resolveTarget(r.layers, nil, url))
		return t.(*target)
	}
	inputs := v.Inputs()
	plan := &inputsPlan{names: slices.Sorted(maps.Keys(inputs))}
	var flat []*pb.Input
	for _, name := range plan.names {
		// As appendDecls flattens them.
		plan.at = append(plan.at, len(flat))
		flat = appendDecls(append(flat, inputs[name]), inputs[name].Inputs)
	}
	for _, d := range flat {
		pd := plannedDecl{declTarget: *newDeclTarget(d, target, parsedReq)}
		if t := pd.t; t != nil && t.flake != nil && t.rev == "" && t.version == nil && pd.req != nil {
			pd.sel = t.flake.Select(pd.req)
		}
		if t := pd.t; t != nil && t.flake != nil && pd.req != nil && !t.flake.HasPrereleases() {
			vs := t.flake.Versions
			i, j := pd.req.Releases().Search(len(vs), func(k int) *semver.Version { return vs[k].SemVer })
			pd.span = &[2]int{i, j}
		}
		plan.decls = append(plan.decls, pd)
	}
	p, _ := r.plans.byInputs.LoadOrStore(id, plan)
	return p.(*inputsPlan)
}

// appendDecls appends declarations and every nested override in them, by
// name.
func appendDecls(out []*pb.Input, decls map[string]*pb.Input) []*pb.Input {
	var buf [8]string
	names := buf[:0]
	for name := range decls {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		d := decls[name]
		out = appendDecls(append(out, d), d.Inputs)
	}
	return out
}

// regions numbers the versions (ascending) so that versions with equal
// numbers lie inside or outside every cut alike: each cut's span of
// releases is two boundaries in the sorted list, and a region is a run
// between boundaries. Prereleases, which cuts admit one triple at a time,
// get a region each; pre says whether vs's flake has any. A cut's span in
// the flake's Versions, when known, gives its boundaries among vs by their
// places, without comparing versions.
//
// The result lives in b until its next call.
func (b *regionBuf) regions(vs []*index.Version, pre bool, cuts []cut) []int {
	rel := slices.Grow(b.rel[:0], len(vs)) // indexes of releases in vs
	for k, v := range vs {
		if !pre || v.SemVer.Prerelease() == "" {
			rel = append(rel, k)
		}
	}
	boundary := append(b.boundary[:0], make([]bool, len(rel)+1)...)
	for _, c := range cuts {
		var i, j int
		if c.span != nil && !pre {
			// The versions in vs before the span's start (end) are those
			// placed before it in the flake.
			i, j = placed(vs, c.span[0]), placed(vs, c.span[1])
		} else {
			i, j = c.req.Releases().Search(len(rel), func(k int) *semver.Version { return vs[rel[k]].SemVer })
		}
		boundary[i], boundary[j] = true, true
	}
	region := append(b.region[:0], make([]int, len(vs))...)
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
	b.rel, b.boundary, b.region = rel, boundary, region
	return region
}

// regionBuf holds what regions works in, reused from flake to flake.
type regionBuf struct {
	rel      []int
	boundary []bool
	region   []int
}

// anyPinned says whether a lock pins any of vs.
func (r *resolver) anyPinned(vs []*index.Version) bool {
	if len(r.lockPinned) == 0 {
		return false
	}
	for _, v := range vs {
		if r.lockPinned[v] {
			return true
		}
	}
	return false
}

// signature is what makes two versions of a flake interchangeable; inputs
// numbers the version's input declarations (equal numbers, equal
// declarations).
func (r *resolver) signature(v *index.Version, region int, inputs int32) signature {
	sig := signature{region: region, inputs: inputs}
	if r.req.Strategy == Cargo {
		sig.class = compatOf(v.SemVer)
	}
	if r.lockPinned[v] {
		// A lock pins this very tree: it cannot stand in for another.
		tree := [2]string{v.NarHash(), v.Rev()}
		if r.pinnedTrees[tree] == 0 {
			r.pinnedTrees[tree] = int32(len(r.pinnedTrees)) + 1
		}
		sig.pinned = r.pinnedTrees[tree]
	}
	return sig
}

// signature is a version's class; pinned numbers the tree of a version a
// lock pins (0: none does).
type signature struct {
	region int
	inputs int32
	class  compat
	pinned int32
}

// compat is Cargo's semver-compatible range of a version: 1.x.y (the
// major), 0.2.x (the minor) or 0.0.3 (the patch). Words only, so that a
// signature hashes as one block of memory.
type compat struct {
	part  uint64 // 'M', 'm' or 'p'
	value uint64
}

func compatOf(v *semver.Version) compat {
	switch {
	case v.Major() > 0:
		return compat{'M', v.Major()}
	case v.Minor() > 0:
		return compat{'m', v.Minor()}
	}
	return compat{'p', v.Patch()}
}

func (c compat) String() string {
	switch c.part {
	case 'M':
		return fmt.Sprintf("%d.x.y", c.value)
	case 'm':
		return fmt.Sprintf("0.%d.x", c.value)
	}
	return fmt.Sprintf("0.0.%d", c.value)
}
