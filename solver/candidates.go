package solver

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"
	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"google.golang.org/protobuf/proto"
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
	// locked is what a lock records for the pin (for a version, built
	// when first asked for: lockedSource); original, for a pin taken from a
	// lock, is the lock node's original (nil: the declaration's reference
	// is the original).
	locked, original *pb.FlakeRef
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

// lockedSource is what a lock records for the pin.
func (c *candidate) lockedSource() *pb.FlakeRef {
	if c.locked == nil {
		c.locked = c.version.Locked()
	}
	return c.locked
}

// tree is the narHash and rev that identify the candidate's tree.
func (c *candidate) tree() (narHash, rev string) {
	if c.locked == nil {
		return c.version.NarHash(), c.version.Rev()
	}
	return c.locked.NarHash, c.locked.Rev
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
	x     int        // variable: the tree is in the answer
}

// target is what an input's reference points at.
type target struct {
	flake    *index.Flake // nil: not in any index
	src      *pb.FlakeRef // the reference, parsed
	ref, rev string
	version  *index.Version // the version a download's URL names
	urlReq   string         // a requirement the URL spells (FlakeHub)
	err      error
}

// target resolves a reference through the layered indexes: registry ids by
// name, FlakeHub URLs by the repository they publish, anything else by
// source.
func (r *resolver) target(url string) *target {
	if t, ok := r.targets[url]; ok {
		return t
	}
	var t *target
	if shared, ok := r.sharedTarget(url); ok {
		t = shared
	} else {
		t = resolveTarget(r.layers, r.indirect, url)
	}
	r.targets[url] = t
	return t
}

// sharedTarget is the target the layers' walk plans hold for url, which
// is this resolution's too when it has no registries of its own.
func (r *resolver) sharedTarget(url string) (*target, bool) {
	if r.indirect != nil {
		return nil, false
	}
	t, ok := r.walkPlans().targets.Load(url)
	if !ok {
		return nil, false
	}
	return t.(*target), true
}

// resolveTarget is target without the resolution's cache; it consults
// indirect only for an indirect reference.
func resolveTarget(layers *index.Layers, indirect Registries, url string) *target {
	t := &target{}
	src, err := flakeref.ParseAny(url)
	if owner, repo, req, ok := flakeref.FlakeHub(url); ok {
		t.src = src
		t.flake, _ = layers.LookupProject(owner, repo)
		if t.flake != nil {
			// The requirement a FlakeHub URL spells is one on the index's
			// flake; for a flake no index has, the URL is a reference like
			// any other, which a lock pins. Its patch counts commits: a
			// flake numbered by commit time reads it without (the rule is
			// internal/importer's).
			t.urlReq = req
			if q, err := versionreq.Parse(req); err == nil && t.flake.Numbering == pb.Numbering_NUMBERING_COMMIT_TIME {
				t.urlReq = q.WithoutPatch().String()
			}
		}
		return t
	}
	if err == nil && src.Type == "indirect" && indirect != nil {
		if to, ok, lerr := indirect.Lookup(src); lerr != nil {
			err = lerr
		} else if ok {
			src = to
		}
	}
	if err != nil {
		t.err = err
		return t
	}
	t.src, t.ref, t.rev = src, src.Ref, src.Rev
	if src.Type == "indirect" {
		t.flake, _ = layers.Lookup(src.Id)
		return t
	}
	t.flake = layers.LookupSource(src)
	if tree, ok := layers.LookupURL(src); ok && t.flake == nil {
		// The URL of one version's download names that version, as a rev
		// does.
		t.flake, t.version = tree.Flake, tree.Version
	}
	return t
}

// requirement parses a requirement once per resolution, and a text seen
// before in this process not at all: one text is one *Req in a
// resolution, which the walk's keys rely on.
func (r *resolver) requirement(text string) (*versionreq.Req, error) {
	if q, ok := r.reqs[text]; ok {
		return q, nil
	}
	q, err := parsedReq(text)
	if err != nil {
		return nil, err
	}
	r.reqs[text] = q
	return q, nil
}

// parsedReqs holds the requirements parsed so far, shared by every
// resolution: the texts an index declares come back in every request that
// reaches them, and a Req never changes. Texts come from callers too, so
// it stops growing at maxParsedReqs.
var (
	parsedReqs  sync.Map // text → *versionreq.Req
	parsedCount atomic.Int64
)

const maxParsedReqs = 1 << 16

func parsedReq(text string) (*versionreq.Req, error) {
	if q, ok := parsedReqs.Load(text); ok {
		return q.(*versionreq.Req), nil
	}
	q, err := versionreq.Parse(text)
	if err != nil {
		return nil, err
	}
	if parsedCount.Load() < maxParsedReqs {
		if was, loaded := parsedReqs.LoadOrStore(text, q); loaded {
			return was.(*versionreq.Req), nil
		}
		parsedCount.Add(1)
	}
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
	c := r.candidateArena.new()
	*c = candidate{flake: f, version: v, inputs: v.Inputs(), own: v.Lock()}
	r.byVersion[v] = c
	r.nodeOf(c)
	return c
}

func (r *resolver) refCand(f *index.Flake, name string) *candidate {
	if ref := f.Refs[name]; ref != nil {
		return r.namedCand(f, ref, name)
	}
	return nil
}

// namedCand is the candidate of a ref head (name is the ref) or of a tree
// the index records at a rev (name is empty).
func (r *resolver) namedCand(f *index.Flake, ref *index.Ref, name string) *candidate {
	if c := r.byRef[ref]; c != nil {
		return c
	}
	c := r.candidateArena.new()
	*c = candidate{flake: f, ref: name, locked: ref.Locked, inputs: ref.Inputs, own: ref.Lock()}
	r.byRef[ref] = c
	r.nodeOf(c)
	return c
}

func (r *resolver) nodeOf(c *candidate) {
	key := nodeKey{flake: c.flake.Name}
	key.narHash, key.rev = c.tree()
	n := r.nodes[key]
	if n == nil {
		n = r.nodeArena.new()
		*n = node{flake: c.flake, cand: c}
		r.nodes[key] = n
	}
	if n.cand.version == nil && c.version != nil {
		// A ref head that is also a version's tree is that version: it
		// must rank as one, whichever declaration reached it first.
		n.cand = c
	}
	c.node = n
}

// nodeKey identifies a tree: a flake's, by narHash and rev.
type nodeKey struct{ flake, narHash, rev string }

// byRevision finds the version or ref of f locked to rev.
func (r *resolver) byRevision(f *index.Flake, rev string) *candidate {
	if v := treeVersion(f, &pb.FlakeRef{Rev: rev}); v != nil {
		return r.versionCand(v, f)
	}
	if name := treeRef(f, &pb.FlakeRef{Rev: rev}); name != "" {
		return r.refCand(f, name)
	}
	if tree := f.Revs[rev]; tree != nil {
		return r.namedCand(f, tree, "")
	}
	return nil
}

// sameTree says whether the tree of a narHash and a rev is the tree a
// source locks: the same narHash, or, where either lacks one, the same rev.
func sameTree(narHash, rev string, b *pb.FlakeRef) bool {
	if narHash != "" && b.NarHash != "" {
		return narHash == b.NarHash
	}
	return rev != "" && rev == b.Rev
}

// treeVersion is the newest version of f whose tree locked is, or nil.
func treeVersion(f *index.Flake, locked *pb.FlakeRef) *index.Version {
	for i := len(f.Versions) - 1; i >= 0; i-- {
		if v := f.Versions[i]; sameTree(v.NarHash(), v.Rev(), locked) {
			return f.Versions[i]
		}
	}
	return nil
}

// treeRef is the first ref (by name) of f whose head locked is, or "".
func treeRef(f *index.Flake, locked *pb.FlakeRef) string {
	for _, name := range slices.Sorted(maps.Keys(f.Refs)) {
		if l := f.Refs[name].Locked; sameTree(l.NarHash, l.Rev, locked) {
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
		if v.Ref() == tag || v.String() == tag || "v"+v.String() == tag {
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
			c.version, c.inputs = v, v.Inputs()
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
func (r *resolver) flakeOfSource(s *pb.FlakeRef) *index.Flake {
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
func (r *resolver) standIn(locked *pb.FlakeRef) *index.Flake {
	loc := flakeref.Location(locked)
	name := flakeref.String(flakeref.AtLocation(loc))
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
func (r *resolver) lockEntry(in *instance, s *slot, declared *pb.FlakeRef) *lockfile.Node {
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
	if declared == nil || !flakeref.SameInput(declared, e.Node.Original) {
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
	if req == nil && r.req.UnversionedAny && t.flake != nil && t.rev == "" && t.version == nil {
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
	if t.rev != "" || t.version != nil {
		cs, why := r.fixedCands(t)
		if len(cs) == 1 && (cs[0].version == nil || !req.Matches(cs[0].version.SemVer)) {
			return nil, fmt.Sprintf("%s at rev %s is not a version matching %s", t.flake.Name, t.rev, req)
		}
		return cs, why
	}
	if entry != nil && in.lock.existing {
		for _, v := range t.flake.Select(req) {
			if sameTree(v.NarHash(), v.Rev(), entry.Locked) {
				// The existing lock's pin still satisfies the
				// requirement: it stays, as Cargo keeps Cargo.lock's.
				return []*candidate{r.lockCand(entry, origin, s.path)}, ""
			}
		}
	}
	span := s.span
	if req != s.req {
		span = nil
	}
	vs := r.allowed.selectVersions(t.flake, req, span)
	out := make([]*candidate, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- {
		out = append(out, r.versionCand(vs[i], t.flake))
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
	if t.version != nil {
		return []*candidate{r.versionCand(t.version, f)}, ""
	}
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
	why := fmt.Sprintf("the index records no head for ref %q of %s", name, f.Name)
	if name == "" {
		why = fmt.Sprintf("the index records no default branch for %s, and the input is unversioned", f.Name)
	}
	if len(f.Versions) > 0 {
		why += fmt.Sprintf("; give it a version requirement (the index has %s)", versionList(f.Versions))
	}
	return nil, why
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

func candLabel(c *candidate) string {
	switch {
	case c.version != nil:
		return c.flake.Name + " " + c.version.String()
	case c.ref != "":
		return c.flake.Name + " ref:" + c.ref
	}
	return c.flake.Name + " rev:" + shortRev(c.lockedSource().Rev)
}

// shortRev abbreviates a rev as git does in one-line logs.
func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}
