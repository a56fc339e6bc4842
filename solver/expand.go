package solver

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"google.golang.org/protobuf/proto"
)

// override is a declaration that replaces an input beneath the flake that
// declared it, as Nix's computeLocks collects them.
type override struct {
	decl  *pb.Input
	scope *instance // follows paths start at the declaring flake
}

// instance is a version reached under a given set of overrides. Without
// overrides there is one instance per version, shared by every path.
type instance struct {
	id   int
	cand *candidate // nil for the root
	ctx  map[string]override
	// active is the instance's variable (0 for the root, which is always
	// active); see assignVars.
	active int
	path   string
	slots  map[string]*slot
	// ordered are the slots by name, for the stages that walk them in
	// order (see slotsInOrder).
	ordered []*slot
	// parents are the slots that lead to the instance, first the one that
	// made it.
	parents []*slot
	// notFlake marks a flake = false input: Nix reads no flake.nix from
	// the tree, so it has no inputs.
	notFlake bool
	// lock is where the instance's unversioned inputs find their pins.
	lock lockCtx
	// plan is the layers' plan of a version's declarations (see
	// versionPlan), once looked up.
	plan *inputsPlan
}

// lockCtx is where an instance's unversioned inputs find their pins: a
// node of a flake.lock (the root's existing lock, or a dependency's own,
// as Nix's computeLocks reads them), and the instance of the flake whose
// lock it is, where the lock's follows paths start.
type lockCtx struct {
	node *lockfile.Node
	root *instance
	// existing marks the root's existing flake.lock, which the caller's
	// update paths release.
	existing bool
}

func (in *instance) inputs(r *resolver) map[string]*pb.Input {
	switch {
	case in.cand == nil:
		return r.req.Inputs
	case in.notFlake:
		return nil
	}
	return in.cand.inputs
}

// slotsInOrder lists the instance's slots by name, sorting them once:
// variables, constraints and the answer are all written in this order.
func (in *instance) slotsInOrder() []*slot {
	if len(in.ordered) != len(in.slots) {
		in.ordered = slices.AppendSeq(slices.Grow(in.ordered[:0], len(in.slots)), maps.Values(in.slots))
		slices.SortFunc(in.ordered, func(a, b *slot) int { return strings.Compare(a.name, b.name) })
	}
	return in.ordered
}

type slotKind int

const (
	choose slotKind = iota
	follows
	unpinned
)

// slot is one choice: the input of an instance. Every path through the
// instance shares it.
type slot struct {
	owner   *instance
	name    string
	path    string
	decl    *pb.Input // the declaration in force (an override, or the flake's own)
	reqText string
	req     *versionreq.Req
	flake   *index.Flake
	kind    slotKind

	// span is where req's releases lie in the flake's Versions, when the
	// layers' plan knows (see plannedDecl).
	span *[2]int

	cands    []*candidate // newest first
	children []*instance
	// vars are the choice variables, one per candidate (see assignVars);
	// referenced marks those a follows path is conditioned on.
	vars       []int
	referenced []bool

	scope       *instance // where a follows path starts
	followsPath []string
	alts        []alt

	// declaredURL is the owner's own reference when an override replaced
	// it by url.
	declaredURL string
	why         string // for unpinned slots, and for choices with no candidate
	group       *group
	resolving   bool
}

// alt is one way a follows path resolves: under the choices conds, it leads
// to slot, or to the flake self itself (follows = "" and paths through
// it); with neither, the path does not exist under those choices.
type alt struct {
	conds []choice
	slot  *slot
	self  *instance
}

// choice is a slot choosing its k-th candidate.
type choice struct {
	s *slot
	k int
}

// expand builds every instance and slot the request reaches.
func (r *resolver) expand() error {
	// Nearly every version shrinking kept becomes one candidate, node
	// and instance: the tables are made at that size, not grown to it.
	n := r.stats.Candidates
	r.byVersion, r.nodes = sized(r.byVersion, n), sized(r.nodes, n)
	r.byKey, r.instances = sized(r.byKey, n), slices.Grow(r.instances, n+1)
	r.root = &instance{slots: map[string]*slot{}}
	r.root.lock = lockCtx{node: r.req.Lock, root: r.root, existing: true}
	r.instances = append(r.instances, r.root)
	for i := 0; i < len(r.instances); i++ {
		in := r.instances[i]
		for _, name := range r.inputNames(in) {
			if _, err := r.slot(in, name); err != nil {
				return err
			}
		}
		if err := r.checkMemory(); err != nil {
			return err
		}
		if i%256 == 0 {
			if err := r.ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
}

// sized is m, or a copy of it made with room for n entries when it has
// fewer.
func sized[K comparable, V any](m map[K]V, n int) map[K]V {
	if len(m) >= n {
		return m
	}
	out := make(map[K]V, n)
	maps.Copy(out, m)
	return out
}

// inputNames lists the names of in's inputs, sorted: for a version's
// declarations, once per layers (see walkPlans).
func (r *resolver) inputNames(in *instance) []string {
	if p := r.versionPlan(in); p != nil {
		return p.names
	}
	return slices.Sorted(maps.Keys(in.inputs(r)))
}

// versionPlan is the layers' plan of in's declarations (see walkPlans),
// looked up once, when in is a version's instance; else nil.
func (r *resolver) versionPlan(in *instance) *inputsPlan {
	c := in.cand
	if c == nil || c.version == nil || c.fake || in.notFlake {
		return nil
	}
	if in.plan == nil {
		in.plan = r.walkPlan(c.version)
	}
	return in.plan
}

// plannedInput is what the layers' plan of in's declarations read of its
// input name (see walkPlans), or nil when in is no version's instance or
// the resolution reads references through registries of its own.
func (r *resolver) plannedInput(in *instance, name string) *plannedDecl {
	if r.indirect != nil {
		return nil
	}
	p := r.versionPlan(in)
	if p == nil {
		return nil
	}
	i, ok := slices.BinarySearch(p.names, name)
	if !ok {
		return nil
	}
	return &p.decls[p.at[i]]
}

// assignVars gives the expanded problem its variables: one per tree used
// (x), one per instance (active: its inputs must be locked) and one per
// choice. Most instances are the only one of their tree, and most choices
// lead to such an instance and condition no follows: then the instance's
// variable and the choice's are the tree's own, so that the problem has
// one variable per (flake, version) where nothing tells instances apart.
func (r *resolver) assignVars() {
	instancesOf := map[*node]int{}
	for _, in := range r.instances[1:] {
		instancesOf[in.cand.node]++
	}
	for _, in := range r.instances {
		for _, s := range in.slotsInOrder() {
			for _, a := range s.alts {
				for _, c := range a.conds {
					if c.s.referenced == nil {
						c.s.referenced = make([]bool, len(c.s.cands))
					}
					c.s.referenced[c.k] = true
				}
			}
		}
	}
	for _, in := range r.instances[1:] {
		if instancesOf[in.cand.node] == 1 {
			in.active = r.xOf(in.cand.node)
		} else {
			in.active = r.newVar()
		}
	}
	for _, in := range r.instances {
		for _, s := range in.slotsInOrder() {
			s.vars = make([]int, len(s.cands))
			for k, c := range s.cands {
				shared := in != r.root && (s.referenced == nil || !s.referenced[k]) && s.children[k].active == r.xOf(c.node)
				if shared {
					s.vars[k] = s.children[k].active
				} else {
					s.vars[k] = r.newVar()
				}
			}
		}
	}
}

// fieldOf names an input path as a request field: a/b is inputs.a.inputs.b.
func fieldOf(path string) string {
	return "inputs." + strings.ReplaceAll(path, "/", ".inputs.")
}

// orRoot names the root's empty path.
func orRoot(path string) string {
	if path == "" {
		return "the root flake"
	}
	return path
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

// slot builds (once) the choice for input name of in. It returns nil when
// in declares no such input.
func (r *resolver) slot(in *instance, name string) (*slot, error) {
	if s := in.slots[name]; s != nil {
		if s.resolving {
			return nil, &RequestError{Field: fieldOf(s.path) + ".follows", Msg: "follows leads back to itself"}
		}
		return s, nil
	}
	decl0 := in.inputs(r)[name]
	if decl0 == nil {
		return nil, nil
	}
	s := r.slotArena.new()
	*s = slot{owner: in, name: name, path: joinPath(in.path, name), decl: decl0, scope: in, resolving: true}
	if in.cand != nil && in.cand.fake {
		// A lock's follows paths start at the root of that lock.
		s.scope = in.lock.root
	}
	in.slots[name] = s
	defer func() { s.resolving = false }()

	if ov, ok := in.ctx[name]; ok {
		switch {
		case ov.decl.Follows != nil || ov.decl.Url != "":
			d := proto.Clone(ov.decl).(*pb.Input)
			d.Flake = decl0.Flake // Nix keeps the input's flakeness under an override
			s.decl, s.scope = d, ov.scope
			if d.Url != "" {
				s.declaredURL = decl0.Url
			}
		case ov.decl.Version != "":
			d := proto.Clone(decl0).(*pb.Input)
			d.Version = ov.decl.Version
			s.decl = d
		}
	}
	// What the layers' plan read of the declaration, when it is in force:
	// the same as the lookups below, without them.
	planned := r.plannedInput(in, name)
	if s.decl != decl0 {
		planned = nil
	}
	switch {
	case s.decl == decl0 && in.cand != nil && in.cand.fake:
		// An input read from a lock node: the lock pins it, whatever
		// requirement its URL might spell.
		s.reqText = decl0.Version
	case planned != nil:
		s.reqText = planned.text
	default:
		s.reqText = r.declReq(s.decl)
	}
	if planned != nil && !planned.bad {
		s.req, s.span = planned.req, planned.span
	} else if s.reqText != "" {
		q, err := r.requirement(s.reqText)
		if err != nil {
			return nil, &RequestError{Field: fieldOf(s.path) + ".version", Msg: err.Error()}
		}
		s.req = q
	}
	switch {
	case planned != nil && planned.t != nil:
		s.flake = planned.t.flake
	case decl0.Url != "":
		s.flake = r.target(decl0.Url).flake
	}

	if s.decl.Follows != nil {
		s.kind = follows
		s.followsPath = splitPath(*s.decl.Follows)
		alts, err := r.follow(s.scope, s.followsPath, s.path)
		if err != nil {
			return nil, err
		}
		if s.scope.cand == nil && len(alts) == 1 && alts[0].slot == nil && alts[0].self == nil && len(alts[0].conds) == 0 {
			// The root's own follows leads nowhere whatever is chosen: the
			// flake.nix is wrong, as Nix says when it locks it.
			return nil, &RequestError{Field: fieldOf(s.path) + ".follows", Msg: fmt.Sprintf("input '%s' follows a non-existent input '%s'", s.path, *s.decl.Follows)}
		}
		s.alts = alts
		return s, nil
	}

	var t *target
	if planned != nil && planned.t != nil {
		t = planned.t
	} else {
		t = r.target(s.decl.Url)
	}
	if s.decl.Url != decl0.Url {
		s.flake = t.flake
	}
	s.cands, s.why = r.candidates(in, s, t)
	if len(s.cands) == 0 && t.flake == nil {
		s.kind = unpinned
		switch {
		case t.err != nil:
			s.why = t.err.Error()
		case t.src.Type == "indirect" && r.indirect != nil:
			s.why = fmt.Sprintf("%s: no flake registry (%s) has %q, and no index names it", s.decl.Url, r.indirect, t.src.Id)
		case s.req != nil:
			s.why = fmt.Sprintf("%s is not in the index", s.decl.Url)
		default:
			s.why = fmt.Sprintf("%s is not in the index, and no lock pins it", s.decl.Url)
		}
		return s, nil
	}
	if s.flake == nil && len(s.cands) > 0 {
		s.flake = s.cands[0].flake
	}
	r.stats.Memory += slotBytes + choiceBytes*int64(len(s.cands))
	if r.choices += len(s.cands); r.choices > r.lim.MaxClauses {
		// Every choice comes with at least one clause.
		return nil, r.limit(LimitClauses, r.choices, r.lim.MaxClauses)
	}
	// Most inputs pass no overrides down: their children share a nil
	// context, which costs no map.
	var childCtx map[string]override
	prefix := name + "/"
	for k, ov := range in.ctx {
		if strings.HasPrefix(k, prefix) {
			if childCtx == nil {
				childCtx = map[string]override{}
			}
			childCtx[k[len(prefix):]] = ov
		}
	}
	childCtx = addOverrides(childCtx, decl0.Inputs, in)
	key := r.ctxID(childCtx)
	notFlake := s.decl.Flake != nil && !*s.decl.Flake
	s.children = make([]*instance, 0, len(s.cands))
	for _, c := range s.cands {
		// A fresh tree locks its inputs through its own flake.lock; a pin
		// taken from a lock through the pins beneath it there.
		lock := lockCtx{node: c.own}
		if c.lockNode != nil {
			lock = lockCtx{node: c.lockNode, root: in.lock.root, existing: in.lock.existing}
		}
		s.children = append(s.children, r.instance(c, childCtx, key, s, notFlake, lock))
	}
	return s, nil
}

// addOverrides registers the overrides an input's declaration carries
// (inputs.X.inputs.Y), the ones already registered (by flakes further up)
// winning. As in Nix, only that one level counts: an override's own nested
// overrides are not registered. Each name is registered at most once, so
// the order decls are read in does not matter. It returns ctx, made when
// it was nil and an override needs it.
func addOverrides(ctx map[string]override, decls map[string]*pb.Input, scope *instance) map[string]override {
	for name, d := range decls {
		if _, taken := ctx[name]; !taken && (d.Url != "" || d.Follows != nil || d.Version != "") {
			if ctx == nil {
				ctx = map[string]override{}
			}
			ctx[name] = override{decl: d, scope: scope}
		}
	}
	return ctx
}

// ctxID numbers a context of overrides: equal contexts, equal numbers, 0
// for none.
func (r *resolver) ctxID(ctx map[string]override) int32 {
	if len(ctx) == 0 {
		return 0
	}
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(ctx)) {
		fmt.Fprintf(&b, "%s=%p@%p;", k, ctx[k].decl, ctx[k].scope)
	}
	id, ok := r.ctxIDs[b.String()]
	if !ok {
		id = int32(len(r.ctxIDs)) + 1
		r.ctxIDs[b.String()] = id
	}
	return id
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// instance finds or creates the instance of c under ctx and lock; a lock
// with no root is the instance's own.
func (r *resolver) instance(c *candidate, ctx map[string]override, key int32, parent *slot, notFlake bool, lock lockCtx) *instance {
	full := instanceKey{c, lock.node, lock.root, key, notFlake}
	if in := r.byKey[full]; in != nil {
		in.parents = append(in.parents, parent)
		return in
	}
	in := r.instanceArena.new()
	*in = instance{id: len(r.instances), cand: c, ctx: ctx, path: parent.path, slots: map[string]*slot{}, parents: []*slot{parent}, notFlake: notFlake, lock: lock}
	// The keys print pointers, at widths that vary from run to run: the
	// estimate counts the context's entries instead, so that one problem
	// has one estimate wherever it is solved.
	r.stats.Memory += instanceBytes + overrideBytes*int64(len(ctx))
	if in.lock.root == nil {
		in.lock.root = in
	}
	r.byKey[full] = in
	r.instances = append(r.instances, in)
	return in
}

// instanceKey tells instances apart: a candidate under a context of
// overrides (ctxID), as a flake or not, locking through a lock.
type instanceKey struct {
	cand     *candidate
	lock     *lockfile.Node
	lockRoot *instance
	ctx      int32
	notFlake bool
}

// follow resolves a follows path from the flake that declared it.
func (r *resolver) follow(scope *instance, segs []string, from string) ([]alt, error) {
	if len(segs) == 0 {
		// follows = "": the flake that declares it, itself.
		return []alt{{self: scope}}, nil
	}
	s, err := r.slot(scope, segs[0])
	if err != nil {
		return nil, err
	}
	var base []alt
	switch {
	case s == nil:
		base = []alt{{}}
	case s.kind == follows:
		base = s.alts
	default:
		base = []alt{{slot: s}}
	}
	if len(segs) == 1 {
		return base, nil
	}
	var out []alt
	for _, a := range base {
		if a.self != nil {
			sub, err := r.follow(a.self, segs[1:], from)
			if err != nil {
				return nil, err
			}
			for _, b := range sub {
				out = append(out, alt{conds: append(append([]choice{}, a.conds...), b.conds...), slot: b.slot, self: b.self})
			}
			continue
		}
		if a.slot == nil || a.slot.kind != choose {
			out = append(out, alt{conds: a.conds})
			continue
		}
		for k, child := range a.slot.children {
			sub, err := r.follow(child, segs[1:], from)
			if err != nil {
				return nil, err
			}
			for _, b := range sub {
				conds := append(append(append([]choice{}, a.conds...), choice{a.slot, k}), b.conds...)
				out = append(out, alt{conds: conds, slot: b.slot, self: b.self})
			}
		}
	}
	return out, nil
}
