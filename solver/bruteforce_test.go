package solver

// This file checks answers without the SAT path: it walks input paths one by
// one, the way Nix's computeLocks does (overrides keyed by absolute path,
// registered top-down, the first registration winning), and finds optimal
// answers by exhaustive search over sets of trees. Nothing here shares code
// with the encoder beyond reading the index.

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// tree is one lockable tree in the exhaustive search.
type tree struct {
	label  string // "flake version" or "flake ref:name", as Node.Label
	name   string // the flake's name, or the source of a tree no index has
	flake  *index.Flake
	ver    *index.Version
	ref    string
	inputs map[string]*pb.Input
	// own is the tree's committed flake.lock; fake marks a tree known
	// only from a lock node, whose inputs are that node's.
	own  *lockfile.Node
	fake bool
}

type bfOverride struct {
	decl   *pb.Input
	parent string // path of the flake that declared it
}

// world is the exhaustive searcher's view of a request.
type world struct {
	layers *index.Layers
	req    *Request
	trees  map[string]*tree
}

func newWorld(layers *index.Layers, req *Request) *world {
	w := &world{layers: layers, req: req, trees: map[string]*tree{}}
	for _, ix := range layers.Indexes() {
		for _, f := range ix.Flakes() {
			for _, v := range f.Versions {
				t := &tree{label: f.Name + " " + v.String(), name: f.Name, flake: f, ver: v, inputs: v.Inputs, own: v.Lock()}
				w.trees[t.label] = t
			}
			for name, r := range f.Refs {
				t := &tree{label: f.Name + " ref:" + name, name: f.Name, flake: f, ref: name, inputs: r.Inputs, own: r.Lock()}
				w.trees[t.label] = t
			}
		}
	}
	return w
}

func (w *world) lockedOf(t *tree) *pb.FlakeRef {
	if t.ver != nil {
		return t.ver.Locked
	}
	return t.flake.Refs[t.ref].Locked
}

func (w *world) flakeOf(url string) (*index.Flake, string, string) {
	if owner, repo, _, ok := flakeref.FlakeHub(url); ok {
		return w.layers.LookupSource(&pb.FlakeRef{Type: "github", Owner: owner, Repo: repo}), "", ""
	}
	src, err := flakeref.Parse(url)
	if err != nil {
		return nil, "", ""
	}
	if src.Type == "indirect" {
		f, _ := w.layers.Lookup(src.Id)
		return f, src.Ref, src.Rev
	}
	return w.layers.LookupSource(src), src.Ref, src.Rev
}

// lockTree is the tree a lock node pins: the index's version or ref head
// with that narHash, else a tree known only from the node.
func (w *world) lockTree(n *lockfile.Node) *tree {
	var f *index.Flake
	for _, s := range []*pb.FlakeRef{n.Original, n.Locked} {
		if f == nil && s.Type == "indirect" {
			f, _ = w.layers.Lookup(s.Id)
		} else if f == nil {
			f = w.layers.LookupSource(s)
		}
	}
	name := ""
	if f != nil {
		for _, t := range w.trees {
			if t.flake == f && !t.fake && w.lockedOf(t).NarHash == n.Locked.NarHash {
				if t.ver != nil {
					return t
				}
				if name == "" || t.label < name {
					name = t.label
				}
			}
		}
		if name != "" {
			return w.trees[name]
		}
		name = f.Name
	} else {
		loc := &pb.FlakeRef{Type: n.Locked.Type, Owner: n.Locked.Owner, Repo: n.Locked.Repo, Host: n.Locked.Host, Url: n.Locked.Url, Path: n.Locked.Path, Dir: n.Locked.Dir}
		name = flakeref.String(loc)
	}
	label := name + " " + n.Locked.NarHash
	if rev := n.Locked.Rev; rev != "" {
		label = name + " rev:" + rev[:min(12, len(rev))]
	}
	if t := w.trees[label]; t != nil {
		return t
	}
	t := &tree{label: label, name: name, flake: f, inputs: nodeInputs(n), fake: true}
	w.trees[label] = t
	return t
}

// nodeInputs are the inputs Nix reads from a lock node without fetching
// its tree: each child's original, or the follows path.
func nodeInputs(n *lockfile.Node) map[string]*pb.Input {
	out := map[string]*pb.Input{}
	for in, e := range n.Inputs {
		if e.Node == nil {
			target := strings.Join(e.Follows, "/")
			out[in] = &pb.Input{Follows: &target}
			continue
		}
		d := &pb.Input{Url: flakeref.String(e.Node.Original)}
		if e.Node.NotFlake {
			no := false
			d.Flake = &no
		}
		out[in] = d
	}
	return out
}

// released says whether the caller updates path: the existing lock's pins
// there do not hold.
func (w *world) released(path string) bool {
	for _, u := range w.req.Update {
		if path == u || strings.HasPrefix(path, u+"/") {
			return true
		}
	}
	return false
}

// updatesBeneath says whether the caller updates a path strictly beneath
// path.
func (w *world) updatesBeneath(path string) bool {
	for _, u := range w.req.Update {
		if strings.HasPrefix(u, path+"/") {
			return true
		}
	}
	return false
}

// bfChoice is one way to lock an open path: a tree, and the lock node its
// inputs find their pins in (nil: the tree's own lock).
type bfChoice struct {
	label string
	old   *lockfile.Node
}

// allowed lists the trees a declaration admits at op's path, within set,
// as Nix's computeLocks and the versioned rules say: an unversioned input
// takes the pin of the lock its parent locks through when that lock
// recorded the same reference, else its rev or ref head; a versioned one
// any matching version, or the existing lock's pin when it matches.
func (w *world) allowed(op openPath, d *pb.Input, reqText string, set map[string]bool) (cs []bfChoice, external bool) {
	f, ref, rev := w.flakeOf(d.Url)
	var entry *lockfile.Node
	if op.old != nil && !(op.existing && w.released(op.path)) {
		name := op.path[strings.LastIndex(op.path, "/")+1:]
		if e := op.old.Inputs[name]; e != nil && e.Node != nil {
			src, err := flakeref.ParseAny(d.Url)
			if op.fake || (err == nil && flakeref.Equal(src, e.Node.Original)) {
				entry = e.Node
			}
		}
	}
	if reqText == "" && w.req.UnversionedAny && rev == "" && f != nil {
		reqText = "*"
	}
	keep := func(cs []bfChoice) []bfChoice {
		var out []bfChoice
		for _, c := range cs {
			if set == nil || set[c.label] {
				out = append(out, c)
			}
		}
		return out
	}
	if reqText == "" && entry != nil {
		return keep([]bfChoice{{w.lockTree(entry).label, entry}}), false
	}
	if f == nil {
		return nil, true
	}
	if reqText == "" {
		if rev != "" {
			for _, t := range w.trees {
				if t.flake == f && !t.fake && w.lockedOf(t).Rev == rev && (t.ver != nil || len(cs) == 0) {
					cs = []bfChoice{{label: t.label}}
				}
			}
			return keep(cs), false
		}
		if ref == "" {
			ref = f.DefaultRef
		}
		if f.Refs[strings.TrimPrefix(ref, "refs/heads/")] != nil && !strings.HasPrefix(ref, "refs/tags/") {
			return keep([]bfChoice{{label: f.Name + " ref:" + strings.TrimPrefix(ref, "refs/heads/")}}), false
		}
		return nil, false
	}
	q := versionreq.MustParse(reqText)
	for _, v := range f.Versions {
		if !q.Matches(v.SemVer) {
			continue
		}
		l := f.Name + " " + v.String()
		if entry != nil && op.existing && v.Locked.NarHash == entry.Locked.NarHash {
			return keep([]bfChoice{{l, entry}}), false
		}
		cs = append(cs, bfChoice{label: l})
	}
	return keep(cs), false
}

// state is a partial assignment of paths.
type state struct {
	assign    map[string]string // path -> tree label
	follows   map[string]string // path -> absolute target path
	reqs      map[string]string // follows path -> requirement to check, "" none
	overrides map[string]bfOverride
	open      []openPath
}

// openPath is an input path still to lock. old is the lock node whose
// inputs pin the path's siblings (existing: the existing flake.lock);
// lockRoot is where that lock's follows paths start; fake marks an input
// read from a lock node, whose follows are such paths.
type openPath struct {
	path     string
	decl     *pb.Input
	parent   string
	old      *lockfile.Node
	lockRoot string
	existing bool
	fake     bool
}

func (s *state) clone() *state {
	c := &state{assign: map[string]string{}, follows: map[string]string{}, reqs: map[string]string{}, overrides: map[string]bfOverride{}}
	for k, v := range s.assign {
		c.assign[k] = v
	}
	for k, v := range s.follows {
		c.follows[k] = v
	}
	for k, v := range s.reqs {
		c.reqs[k] = v
	}
	for k, v := range s.overrides {
		c.overrides[k] = v
	}
	c.open = append([]openPath(nil), s.open...)
	return c
}

// openInputs registers a flake's inputs at path: the overrides they carry
// first, then the inputs themselves as open paths, locking through lock.
func (s *state) openInputs(path string, inputs map[string]*pb.Input, lock openPath) {
	// One level of overrides per declaration, as Nix registers them.
	for name, d := range inputs {
		for sub, o := range d.Inputs {
			p := join(path, name) + "/" + sub
			if _, ok := s.overrides[p]; !ok && (o.Url != "" || o.Follows != nil || o.Version != "") {
				s.overrides[p] = bfOverride{decl: o, parent: path}
			}
		}
	}
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		op := lock
		op.path, op.decl, op.parent = join(path, n), inputs[n], path
		s.open = append(s.open, op)
	}
}

func join(a, b string) string {
	if a == "" {
		return b
	}
	return a + "/" + b
}

// solutions calls yield with every complete valid assignment that uses only
// trees in set (nil: any), until yield returns false.
func (w *world) solutions(set map[string]bool, yield func(*state) bool) {
	s := &state{assign: map[string]string{}, follows: map[string]string{}, reqs: map[string]string{}, overrides: map[string]bfOverride{}}
	s.openInputs("", w.req.Inputs, openPath{old: w.req.Lock, existing: true})
	w.search(s, set, yield)
}

func (w *world) search(s *state, set map[string]bool, yield func(*state) bool) bool {
	if len(s.open) == 0 {
		if w.followsHold(s) && w.strategyHolds(usedTrees(s)) {
			return yield(s)
		}
		return true
	}
	op := s.open[0]
	s.open = s.open[1:]
	eff, parent := op.decl, op.parent
	if op.fake {
		parent = op.lockRoot
	}
	if o, ok := s.overrides[op.path]; ok {
		if o.decl.Follows != nil || o.decl.Url != "" {
			eff, parent = o.decl, o.parent
		} else {
			eff = &pb.Input{Url: op.decl.Url, Version: o.decl.Version, Flake: op.decl.Flake}
		}
		op.fake = false // an override is compared with the lock like any declaration
	}
	req := eff.Version
	if _, _, spelled, ok := flakeref.FlakeHub(eff.Url); ok && req == "" && !op.fake {
		// A FlakeHub URL spells a requirement on the flake the index has.
		if f, _, _ := w.flakeOf(eff.Url); f != nil {
			req = spelled
			if f.Numbering == pb.Numbering_NUMBERING_COMMIT_TIME {
				req = versionreq.MustParse(spelled).WithoutPatch().String()
			}
		}
	}
	if eff.Follows != nil {
		s.follows[op.path] = strings.Trim(parent+"/"+*eff.Follows, "/")
		s.reqs[op.path] = req
		return w.search(s, set, yield)
	}
	choices, external := w.allowed(op, eff, req, set)
	if external {
		if req != "" {
			return true // a versioned input the index does not know: no answer
		}
		s.assign[op.path] = "unpinned"
		return w.search(s, set, yield)
	}
	for _, ch := range choices {
		if strings.Count(op.path, "/") > 12 {
			return true // a cycle in the universe; generated universes have none
		}
		c := s.clone()
		c.assign[op.path] = ch.label
		if op.decl.Flake == nil || *op.decl.Flake {
			// Nix reads no inputs from a flake = false tree.
			t := w.trees[ch.label]
			lock := openPath{old: t.own, lockRoot: op.path, fake: t.fake}
			inputs := t.inputs
			if ch.old != nil {
				lock = openPath{old: ch.old, lockRoot: op.lockRoot, existing: op.existing, fake: t.fake}
				if op.existing && !w.updatesBeneath(op.path) {
					// Nix trusts the existing lock: a pin kept from it has
					// the inputs its node records.
					lock.fake, inputs = true, nodeInputs(ch.old)
				}
			}
			c.openInputs(op.path, inputs, lock)
		}
		if !w.search(c, set, yield) {
			return false
		}
	}
	return true
}

// target resolves a path through follows to a tree label.
func (s *state) target(path string, depth int) (string, bool) {
	if depth > 32 {
		return "", false
	}
	if path == "" {
		return "root", true // follows = "": the root flake itself
	}
	if t, ok := s.follows[path]; ok {
		return s.target(t, depth+1)
	}
	l, ok := s.assign[path]
	return l, ok && l != "unpinned"
}

func (w *world) followsHold(s *state) bool {
	for p := range s.follows {
		l, ok := s.target(p, 0)
		req := s.reqs[p]
		if !ok {
			if _, unp := s.assign[s.follows[p]]; unp && req == "" {
				continue // follows an unpinned input, and requires nothing of it
			}
			return false
		}
		if l == "root" {
			if req != "" {
				return false // the root flake has no version to check
			}
			continue
		}
		t := w.trees[l]
		if req == "" {
			continue
		}
		// A version on a follows is checked against whatever it leads to.
		if t.ver == nil || !versionreq.MustParse(req).Matches(t.ver.SemVer) {
			return false
		}
	}
	return true
}

// strategyHolds checks the version limits: one tree for flakes named
// single, and under the cargo strategy one version per compatible range
// (spelled out here from Cargo's rule, not shared with the encoder).
func (w *world) strategyHolds(used map[string]bool) bool {
	perFlake := map[string]int{}
	perRange := map[string]int{}
	for l := range used {
		t := w.trees[l]
		perFlake[t.name]++
		if t.ver != nil {
			v := t.ver.SemVer
			key := fmt.Sprint(t.name, " ", v.Major())
			if v.Major() == 0 {
				key = fmt.Sprint(t.name, " 0.", v.Minor())
				if v.Minor() == 0 {
					key = fmt.Sprint(t.name, " 0.0.", v.Patch())
				}
			}
			perRange[key]++
		}
	}
	for _, name := range w.req.Single {
		if perFlake[name] > 1 {
			return false
		}
	}
	if w.req.Strategy == Cargo {
		for _, n := range perRange {
			if n > 1 {
				return false
			}
		}
	}
	return true
}

func usedTrees(s *state) map[string]bool {
	out := map[string]bool{}
	for _, l := range s.assign {
		if l != "unpinned" {
			out[l] = true
		}
	}
	return out
}

// checkValid checks an answer against the path-by-path semantics: the
// answer's assignment must be one of the complete valid assignments.
func checkValid(layers *index.Layers, req *Request, a *Answer) string {
	_, msg := matchAnswer(newWorld(layers, req), a)
	return msg
}

// matchAnswer finds the valid assignment that is the answer, or says why
// there is none.
func matchAnswer(w *world, a *Answer) (*state, string) {
	byPath := map[string]*PathPin{}
	for _, p := range a.Paths {
		byPath[p.Path] = p
	}
	set := map[string]bool{}
	for _, n := range a.Nodes {
		set[n.Label()] = true
	}
	var msg string
	var found *state
	w.solutions(set, func(s *state) bool {
		for p, l := range s.assign {
			pp := byPath[p]
			if pp == nil || (l == "unpinned") != (pp.Kind == Unpinned) || (pp.Node != nil && pp.Node.Label() != l) {
				return true
			}
		}
		for p, t := range s.follows {
			if pp := byPath[p]; pp == nil || pp.Kind != Follows || strings.Join(pp.Follows, "/") != t {
				return true
			}
		}
		if len(s.assign)+len(s.follows) != len(a.Paths) {
			msg = fmt.Sprintf("answer has %d paths, the assignment %d", len(a.Paths), len(s.assign)+len(s.follows))
			return true
		}
		found = s
		return false
	})
	if found == nil && msg == "" {
		msg = "no valid path-by-path assignment matches the answer"
	}
	return found, msg
}

// newer counts the versions of a tree's flake newer than it; 0 for a tree
// that is no version.
func newer(t *tree) int {
	n := 0
	if t.ver != nil {
		for _, v := range t.flake.Versions {
			if v.SemVer.GreaterThan(t.ver.SemVer) {
				n++
			}
		}
	}
	return n
}

// objectiveOf is a complete assignment's value under the policy's
// objective, from the criteria's definitions: root staleness over the root
// inputs that are pinned, duplicates and staleness over the distinct trees.
func (w *world) objectiveOf(s *state) []int {
	used := usedTrees(s)
	perFlake := map[string]int{}
	var out []int
	for _, c := range w.req.Strategy.Policy().Objective {
		v := 0
		switch c {
		case RootStaleness:
			for p, l := range s.assign {
				if !strings.Contains(p, "/") && l != "unpinned" {
					v += newer(w.trees[l])
				}
			}
		case Duplicates:
			for l := range used {
				perFlake[w.trees[l].name]++
			}
			for _, n := range perFlake {
				v += n - 1
			}
		case Staleness:
			for l := range used {
				v += newer(w.trees[l])
			}
		case Trees:
			v = len(used)
		}
		out = append(out, v)
	}
	return out
}

// lexLess compares objective values, most important criterion first.
func lexLess(a, b []int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

// checkOptimal compares a resolution with exhaustive search: an error must
// mean no answer exists; an answer must reach the best objective value any
// valid answer reaches, and report that value.
func checkOptimal(t *testing.T, layers *index.Layers, req *Request, a *Answer, err error) {
	t.Helper()
	w := newWorld(layers, req)
	var best []int
	w.solutions(nil, func(s *state) bool {
		if v := w.objectiveOf(s); best == nil || lexLess(v, best) {
			best = v
		}
		return true
	})
	if err != nil {
		if _, conflict := err.(*ConflictError); conflict && best != nil {
			t.Errorf("resolver reports a conflict, but exhaustive search finds an answer worth %v", best)
		}
		return
	}
	if best == nil {
		t.Errorf("resolver answered, but exhaustive search finds no valid answer")
		return
	}
	s, msg := matchAnswer(w, a)
	if s == nil {
		t.Errorf("answer is invalid: %s", msg)
		return
	}
	got := w.objectiveOf(s)
	if lexLess(best, got) {
		t.Errorf("answer is worth %v (%v), exhaustive search finds %v", got, req.Strategy.Policy().Objective, best)
	}
	for i, b := range a.Stats.Objective {
		if b.Value != got[i] {
			t.Errorf("stats say %s is %d, the answer's is %d", b.Criterion, b.Value, got[i])
		}
	}
}
