package solver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// resolver holds the state of one resolution.
type resolver struct {
	ctx    context.Context
	layers *index.Layers
	req    *Request
	lim    Limits
	start  time.Time
	stats  Stats

	targets   map[string]*target
	reqs      map[string]*versionreq.Req
	byVersion map[*index.Version]*candidate
	byRef     map[*index.Ref]*candidate
	nodes     map[string]*node
	allowed   map[*index.Version]bool
	// byLockNode caches the candidates lock nodes pin; standIns are the
	// stand-in flakes of trees no index has, by source; lockPinned are the
	// versions some reachable lock pins.
	byLockNode map[lockKey]*candidate
	standIns   map[string]*index.Flake
	lockPinned map[*index.Version]bool

	nvars     int
	instances []*instance
	byKey     map[string]*instance
	root      *instance
	cons      []constraint
	groups    []*group
	groupKeys map[string]*group
	xs        []*node // nodes with a variable, in variable order
}

// override is a declaration that replaces an input beneath the flake that
// declared it, as Nix's computeLocks collects them.
type override struct {
	decl  *pb.Input
	scope *instance // follows paths start at the declaring flake
}

// instance is a version reached under a given set of overrides. Without
// overrides there is one instance per version, shared by every path.
type instance struct {
	id     int
	cand   *candidate // nil for the root
	ctx    map[string]override
	active int // variable; 0 for the root, which is always active
	path   string
	slots  map[string]*slot
	parent *slot
	// notFlake marks a flake = false input: Nix reads no flake.nix from
	// the tree, so it has no inputs.
	notFlake bool
	// lock is where the instance's unversioned inputs find their pins.
	lock lockCtx
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

func candLabel(c *candidate) string {
	switch {
	case c.version != nil:
		return c.flake.Name + " " + c.version.String()
	case c.ref != "":
		return c.flake.Name + " ref:" + c.ref
	}
	return c.flake.Name + " rev:" + shortRev(c.locked.Rev)
}

// shortRev abbreviates a rev as git does in one-line logs.
func shortRev(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
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

	cands    []*candidate // newest first
	vars     []int
	children []*instance

	scope       *instance // where a follows path starts
	followsPath []string
	alts        []alt

	why       string // for unpinned slots, and for choices with no candidate
	group     *group
	resolving bool
}

// alt is one way a follows path resolves: under the choices conds, it leads
// to slot, or to the flake self itself (follows = "" and paths through
// it); with neither, the path does not exist under those choices.
type alt struct {
	conds []int
	slot  *slot
	self  *instance
}

type constraint struct {
	lits    []int
	weights []int
	atLeast int
	group   *group // nil: structural, never blamed
}

// Resolve finds the pins for a request against the layered indexes.
func Resolve(ctx context.Context, layers *index.Layers, req *Request) (*Answer, error) {
	r := &resolver{
		ctx: ctx, layers: layers, req: req, lim: req.Limits.withDefaults(), start: time.Now(),
		targets: map[string]*target{}, reqs: map[string]*versionreq.Req{},
		byVersion: map[*index.Version]*candidate{}, byRef: map[*index.Ref]*candidate{},
		nodes:      map[string]*node{},
		byLockNode: map[lockKey]*candidate{}, standIns: map[string]*index.Flake{}, lockPinned: map[*index.Version]bool{},
		byKey: map[string]*instance{}, groupKeys: map[string]*group{},
	}
	if err := r.checkRequest(); err != nil {
		return nil, err
	}
	if err := r.shrink(); err != nil {
		return nil, r.wrap(err)
	}
	if err := r.expand(); err != nil {
		return nil, r.wrap(err)
	}
	r.encode()
	r.stats.Variables, r.stats.Clauses = r.nvars, len(r.cons)
	if len(r.cons) > r.lim.MaxClauses {
		return nil, r.limit("clauses", len(r.cons), r.lim.MaxClauses)
	}
	model, err := r.optimize()
	if err != nil {
		return nil, r.wrap(err)
	}
	if model == nil {
		return nil, r.explain()
	}
	return r.decode(model)
}

// checkRequest validates what the caller wrote, naming the field.
func (r *resolver) checkRequest() error {
	if len(r.req.Inputs) == 0 {
		return &RequestError{Field: "inputs", Msg: "empty; expected at least one input such as {\"nixpkgs\": {\"url\": \"github:NixOS/nixpkgs\", \"version\": \"^0.2505\"}}"}
	}
	var check func(prefix string, decls map[string]*pb.Input) error
	check = func(prefix string, decls map[string]*pb.Input) error {
		for _, name := range slices.Sorted(maps.Keys(decls)) {
			d, field := decls[name], prefix+"."+name
			switch {
			case d == nil:
				return &RequestError{Field: field, Msg: "empty input"}
			case d.Follows != nil && d.Url != "":
				return &RequestError{Field: field, Msg: "has both url and follows; an input either has a reference or follows another"}
			case d.Url != "":
				if t := r.target(d.Url); t.err != nil {
					return &RequestError{Field: field + ".url", Msg: t.err.Error()}
				}
			case d.Follows == nil && d.Version == "" && len(d.Inputs) == 0:
				return &RequestError{Field: field, Msg: "has neither url nor follows"}
			}
			if d.Version != "" {
				if _, err := r.requirement(d.Version); err != nil {
					return &RequestError{Field: field + ".version", Msg: err.Error()}
				}
			}
			if err := check(field+".inputs", d.Inputs); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check("inputs", r.req.Inputs); err != nil {
		return err
	}
	for i, name := range r.req.Single {
		if _, err := r.layers.Lookup(name); err != nil {
			return &RequestError{Field: fmt.Sprintf("single[%d]", i), Msg: err.Error()}
		}
	}
	return nil
}

func (r *resolver) wrap(err error) error {
	if err == context.DeadlineExceeded || err == context.Canceled {
		r.stats.Duration = time.Since(r.start)
		return &LimitError{Limit: "deadline", Stats: r.stats, Canceled: err == context.Canceled}
	}
	return err
}

func (r *resolver) limit(what string, value, max int) error {
	r.stats.Duration = time.Since(r.start)
	r.stats.Variables, r.stats.Clauses = r.nvars, len(r.cons)
	return &LimitError{Limit: what, Value: value, Max: max, Stats: r.stats}
}

func (r *resolver) newVar() int {
	r.nvars++
	return r.nvars
}

// expand builds every instance and slot the request reaches.
func (r *resolver) expand() error {
	r.root = &instance{slots: map[string]*slot{}}
	r.root.lock = lockCtx{node: r.req.Lock, root: r.root, existing: true}
	r.instances = append(r.instances, r.root)
	for i := 0; i < len(r.instances); i++ {
		in := r.instances[i]
		for _, name := range slices.Sorted(maps.Keys(in.inputs(r))) {
			if _, err := r.slot(in, name); err != nil {
				return err
			}
		}
		if i%256 == 0 {
			if err := r.ctx.Err(); err != nil {
				return err
			}
		}
	}
	return nil
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
	s := &slot{owner: in, name: name, path: joinPath(in.path, name), decl: decl0, scope: in, resolving: true}
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
		case ov.decl.Version != "":
			d := proto.Clone(decl0).(*pb.Input)
			d.Version = ov.decl.Version
			s.decl = d
		}
	}
	s.reqText = r.declReq(s.decl)
	if s.reqText != "" {
		q, err := r.requirement(s.reqText)
		if err != nil {
			return nil, &RequestError{Field: fieldOf(s.path) + ".version", Msg: err.Error()}
		}
		s.req = q
	}
	if decl0.Url != "" {
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

	t := r.target(s.decl.Url)
	if s.decl.Url != decl0.Url {
		s.flake = t.flake
	}
	s.cands, s.why = r.candidates(in, s, t)
	if len(s.cands) == 0 && t.flake == nil {
		s.kind = unpinned
		switch {
		case t.err != nil:
			s.why = t.err.Error()
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
	if r.nvars+len(s.cands) > r.lim.MaxClauses {
		// Every variable comes with at least one clause.
		return nil, r.limit("clauses", r.nvars+len(s.cands), r.lim.MaxClauses)
	}
	childCtx := map[string]override{}
	prefix := name + "/"
	for k, ov := range in.ctx {
		if strings.HasPrefix(k, prefix) {
			childCtx[k[len(prefix):]] = ov
		}
	}
	addOverrides(childCtx, "", decl0.Inputs, in)
	key := ctxKey(childCtx)
	notFlake := s.decl.Flake != nil && !*s.decl.Flake
	for _, c := range s.cands {
		// A fresh tree locks its inputs through its own flake.lock; a pin
		// taken from a lock through the pins beneath it there.
		lock := lockCtx{node: c.own}
		if c.lockNode != nil {
			lock = lockCtx{node: c.lockNode, root: in.lock.root, existing: in.lock.existing}
		}
		s.vars = append(s.vars, r.newVar())
		s.children = append(s.children, r.instance(c, childCtx, key, s, notFlake, lock))
	}
	return s, nil
}

// addOverrides registers nested declarations as overrides, the ones already
// registered (by flakes further up) winning, as in Nix.
func addOverrides(ctx map[string]override, prefix string, decls map[string]*pb.Input, scope *instance) {
	for _, name := range slices.Sorted(maps.Keys(decls)) {
		d, path := decls[name], prefix+name
		if _, taken := ctx[path]; !taken && (d.Url != "" || d.Follows != nil || d.Version != "") {
			ctx[path] = override{decl: d, scope: scope}
		}
		addOverrides(ctx, path+"/", d.Inputs, scope)
	}
}

func ctxKey(ctx map[string]override) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(ctx)) {
		fmt.Fprintf(&b, "%s=%p@%p;", k, ctx[k].decl, ctx[k].scope)
	}
	return b.String()
}

func splitPath(p string) []string {
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// instance finds or creates the instance of c under ctx and lock; a lock
// with no root is the instance's own.
func (r *resolver) instance(c *candidate, ctx map[string]override, key string, parent *slot, notFlake bool, lock lockCtx) *instance {
	full := fmt.Sprintf("%p|%s|%t|%p|%p", c, key, notFlake, lock.node, lock.root)
	if in := r.byKey[full]; in != nil {
		return in
	}
	in := &instance{id: len(r.instances), cand: c, ctx: ctx, active: r.newVar(), path: parent.path, slots: map[string]*slot{}, parent: parent, notFlake: notFlake, lock: lock}
	if in.lock.root == nil {
		in.lock.root = in
	}
	r.byKey[full] = in
	r.instances = append(r.instances, in)
	return in
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
				out = append(out, alt{conds: append(append([]int{}, a.conds...), b.conds...), slot: b.slot, self: b.self})
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
				conds := append(append(append([]int{}, a.conds...), a.slot.vars[k]), b.conds...)
				out = append(out, alt{conds: conds, slot: b.slot, self: b.self})
			}
		}
	}
	return out, nil
}

// group is a set of clauses that stand for one declaration, the unit in
// which conflicts are explained.
type group struct {
	id    int
	kind  string // "root", "input", "follows", "single", "cargo"
	flake *index.Flake
	name  string  // input name, or follows path
	slots []*slot // the slots whose clauses the group holds
	class string
}

func (r *resolver) group(kind string, f *index.Flake, name string, s *slot) *group {
	fname := ""
	if f != nil {
		fname = f.Name
	}
	key := kind + "\x00" + fname + "\x00" + name
	g := r.groupKeys[key]
	if g == nil {
		g = &group{id: len(r.groups), kind: kind, flake: f, name: name}
		r.groupKeys[key] = g
		r.groups = append(r.groups, g)
	}
	if s != nil {
		g.slots = append(g.slots, s)
	}
	return g
}

func (r *resolver) clause(g *group, lits ...int) {
	r.cons = append(r.cons, constraint{lits: lits, atLeast: 1, group: g})
}

// encode writes the constraints.
func (r *resolver) encode() {
	for _, in := range r.instances {
		for _, name := range slices.Sorted(maps.Keys(in.slots)) {
			s := in.slots[name]
			var g *group
			switch {
			case s.kind == follows && s.scope.cand == nil:
				g = r.group("follows", nil, s.path, s)
			case s.kind == follows:
				g = r.group("follows", s.scope.cand.flake, relPath(s.scope, s), s)
			case in.cand == nil:
				g = r.group("root", nil, name, s)
			default:
				g = r.group("input", in.cand.flake, name, s)
			}
			s.group = g
			guard := []int{}
			if in.active != 0 {
				guard = []int{-in.active}
			}
			switch s.kind {
			case choose:
				r.clause(g, append(append([]int{}, guard...), s.vars...)...)
				for k, c := range s.cands {
					r.clause(nil, -s.vars[k], r.xOf(c.node))
					r.clause(nil, -s.vars[k], s.children[k].active)
				}
			case unpinned:
				if s.req != nil {
					// A requirement on a flake the index does not know
					// cannot be met.
					if len(guard) == 0 {
						r.clause(g)
					} else {
						r.clause(g, guard...)
					}
				}
			case follows:
				for _, a := range s.alts {
					base := append(append([]int{}, guard...), negate(a.conds)...)
					if a.self != nil {
						// The flake itself: a version on the follows is
						// checked against the flake's own version.
						if s.req != nil && (a.self.cand == nil || a.self.cand.version == nil || !s.req.Matches(a.self.cand.version.SemVer)) {
							r.clause(g, base...)
						}
						continue
					}
					if a.slot == nil {
						r.clause(g, base...)
						continue
					}
					if s.req == nil || a.slot.kind != choose || (s.flake != nil && a.slot.flake != s.flake) {
						continue
					}
					for k, c := range a.slot.cands {
						if c.version == nil || !s.req.Matches(c.version.SemVer) {
							r.clause(g, append(append([]int{}, base...), -a.slot.vars[k])...)
						}
					}
				}
			}
		}
	}
	r.encodeStrategy()
}

func relPath(scope *instance, s *slot) string {
	return strings.TrimPrefix(s.path, scope.path+"/")
}

func negate(lits []int) []int {
	out := make([]int, len(lits))
	for i, l := range lits {
		out[i] = -l
	}
	return out
}

func (r *resolver) xOf(n *node) int {
	if n.x == 0 {
		n.x = r.newVar()
		r.xs = append(r.xs, n)
	}
	return n.x
}

// encodeStrategy limits the versions per flake: one for the flakes named
// single, one per compatible range under the cargo strategy.
func (r *resolver) encodeStrategy() {
	byFlake := map[*index.Flake][]*node{}
	for _, n := range r.xs {
		byFlake[n.flake] = append(byFlake[n.flake], n)
	}
	flakes := make([]*index.Flake, 0, len(byFlake))
	for f := range byFlake {
		flakes = append(flakes, f)
	}
	sort.Slice(flakes, func(i, j int) bool { return flakes[i].Name < flakes[j].Name })
	single := map[string]bool{}
	for _, name := range r.req.Single {
		single[name] = true
	}
	for _, f := range flakes {
		ns := byFlake[f]
		rankNewest(ns)
		if single[f.Name] && len(ns) > 1 {
			r.atMostOne(r.group("single", f, "", nil), ns)
			continue
		}
		if r.req.Strategy != Cargo {
			continue
		}
		classes := map[string][]*node{}
		for _, n := range ns {
			if v := n.cand.semver(); v != nil {
				classes[compatClass(v)] = append(classes[compatClass(v)], n)
			}
		}
		for _, cl := range slices.Sorted(maps.Keys(classes)) {
			if len(classes[cl]) > 1 {
				g := r.group("cargo", f, cl, nil)
				g.class = cl
				r.atMostOne(g, classes[cl])
			}
		}
	}
}

// rankNewest numbers the version trees of one flake from the newest (0), the
// weights of the second objective. Ref heads are not versions and weigh 0.
func rankNewest(ns []*node) {
	var vs []*node
	for _, n := range ns {
		if n.cand.semver() != nil {
			vs = append(vs, n)
		}
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i].cand.semver().GreaterThan(vs[j].cand.semver()) })
	for i, n := range vs {
		n.rank = i
	}
}

func (r *resolver) atMostOne(g *group, ns []*node) {
	lits := make([]int, len(ns))
	for i, n := range ns {
		lits[i] = -n.x
	}
	r.cons = append(r.cons, constraint{lits: lits, atLeast: len(ns) - 1, group: g})
}
