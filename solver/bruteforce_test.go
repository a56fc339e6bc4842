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
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// tree is one lockable tree in the exhaustive search.
type tree struct {
	label  string // "flake version" or "flake ref:name", as Node.Label
	flake  *index.Flake
	ver    *index.Version
	ref    string
	inputs map[string]*pb.Input
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
	pinned map[string]bool // labels of trees the existing lock pins
	pinAt  map[string]string
}

func newWorld(layers *index.Layers, req *Request) *world {
	w := &world{layers: layers, req: req, trees: map[string]*tree{}, pinned: map[string]bool{}, pinAt: map[string]string{}}
	for _, ix := range layers.Indexes() {
		for _, f := range ix.Flakes() {
			for _, v := range f.Versions {
				t := &tree{label: f.Name + " " + v.String(), flake: f, ver: v, inputs: v.Inputs}
				w.trees[t.label] = t
			}
			for name, r := range f.Refs {
				t := &tree{label: f.Name + " ref:" + name, flake: f, ref: name, inputs: r.Inputs}
				w.trees[t.label] = t
			}
		}
	}
	released := func(path string) bool {
		for _, u := range req.Update {
			if path == u || strings.HasPrefix(path, u+"/") {
				return true
			}
		}
		return false
	}
	for _, p := range req.Pins {
		if released(p.Path) {
			continue
		}
		for _, t := range w.trees {
			if w.lockedOf(t).NarHash == p.NarHash {
				w.pinned[t.label] = true
				w.pinAt[p.Path] = t.label
			}
		}
	}
	return w
}

func (w *world) lockedOf(t *tree) *pb.Source {
	if t.ver != nil {
		return t.ver.Locked
	}
	return t.flake.Refs[t.ref].Locked
}

func (w *world) flakeOf(url string) (*index.Flake, string, string) {
	src, err := flakeref.Parse(url)
	if err != nil {
		return nil, "", ""
	}
	return w.layers.LookupSource(src), src.Ref, src.Rev
}

// allowed lists the trees a declaration admits at path, within set.
func (w *world) allowed(d *pb.Input, reqText, path string, set map[string]bool) (labels []string, external bool) {
	f, ref, rev := w.flakeOf(d.Url)
	if f == nil {
		return nil, true
	}
	if reqText == "" && w.req.UnversionedAny && rev == "" {
		reqText = "*"
	}
	var out []string
	if reqText == "" {
		if l, ok := w.pinAt[path]; ok && strings.HasPrefix(l, f.Name+" ") {
			return filter([]string{l}, set), false
		}
		if ref == "" {
			ref = f.DefaultRef
		}
		if f.Refs[ref] != nil {
			out = append(out, f.Name+" ref:"+ref)
		}
		return filter(out, set), false
	}
	q := versionreq.MustParse(reqText)
	var pinned []string
	for _, v := range f.Versions {
		if q.Matches(v.SemVer) {
			l := f.Name + " " + v.String()
			out = append(out, l)
			if w.pinned[l] {
				pinned = append(pinned, l)
			}
		}
	}
	if len(pinned) > 0 {
		out = pinned
	}
	return filter(out, set), false
}

func filter(labels []string, set map[string]bool) []string {
	if set == nil {
		return labels
	}
	var out []string
	for _, l := range labels {
		if set[l] {
			out = append(out, l)
		}
	}
	return out
}

// state is a partial assignment of paths.
type state struct {
	assign    map[string]string // path -> tree label
	follows   map[string]string // path -> absolute target path
	reqs      map[string]string // follows path -> requirement to check, "" none
	reqFlake  map[string]*index.Flake
	overrides map[string]bfOverride
	open      []openPath
}

type openPath struct {
	path   string
	decl   *pb.Input
	parent string
}

func (s *state) clone() *state {
	c := &state{assign: map[string]string{}, follows: map[string]string{}, reqs: map[string]string{}, reqFlake: map[string]*index.Flake{}, overrides: map[string]bfOverride{}}
	for k, v := range s.assign {
		c.assign[k] = v
	}
	for k, v := range s.follows {
		c.follows[k] = v
	}
	for k, v := range s.reqs {
		c.reqs[k] = v
	}
	for k, v := range s.reqFlake {
		c.reqFlake[k] = v
	}
	for k, v := range s.overrides {
		c.overrides[k] = v
	}
	c.open = append([]openPath(nil), s.open...)
	return c
}

// open registers a flake's inputs at path: their nested overrides first,
// then the inputs themselves as open paths.
func (s *state) openInputs(path string, inputs map[string]*pb.Input) {
	var register func(prefix string, decls map[string]*pb.Input)
	register = func(prefix string, decls map[string]*pb.Input) {
		for name, d := range decls {
			p := prefix + "/" + name
			if _, ok := s.overrides[p]; !ok && (d.Url != "" || d.Follows != nil || d.Version != "") {
				s.overrides[p] = bfOverride{decl: d, parent: path}
			}
			register(p, d.Inputs)
		}
	}
	for name, d := range inputs {
		register(join(path, name), d.Inputs)
	}
	names := make([]string, 0, len(inputs))
	for n := range inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		s.open = append(s.open, openPath{path: join(path, n), decl: inputs[n], parent: path})
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
	s := &state{assign: map[string]string{}, follows: map[string]string{}, reqs: map[string]string{}, reqFlake: map[string]*index.Flake{}, overrides: map[string]bfOverride{}}
	s.openInputs("", w.req.Inputs)
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
	if o, ok := s.overrides[op.path]; ok {
		if o.decl.Follows != nil || o.decl.Url != "" {
			eff, parent = o.decl, o.parent
		} else {
			eff = &pb.Input{Url: op.decl.Url, Version: o.decl.Version, Flake: op.decl.Flake}
		}
	}
	req := eff.Version
	if eff.Follows != nil {
		s.follows[op.path] = strings.Trim(parent+"/"+*eff.Follows, "/")
		s.reqs[op.path] = req
		if op.decl.Url != "" {
			s.reqFlake[op.path], _, _ = w.flakeOf(op.decl.Url)
		}
		return w.search(s, set, yield)
	}
	labels, external := w.allowed(eff, req, op.path, set)
	if external {
		if req != "" {
			return true // a versioned input the index does not know: no answer
		}
		s.assign[op.path] = "unpinned"
		return w.search(s, set, yield)
	}
	for _, l := range labels {
		if strings.Count(op.path, "/") > 12 {
			return true // a cycle in the universe; generated universes have none
		}
		c := s.clone()
		c.assign[op.path] = l
		if op.decl.Flake == nil || *op.decl.Flake {
			// Nix reads no inputs from a flake = false tree.
			c.openInputs(op.path, w.trees[l].inputs)
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
	if t, ok := s.follows[path]; ok {
		return s.target(t, depth+1)
	}
	l, ok := s.assign[path]
	return l, ok && l != "unpinned"
}

func (w *world) followsHold(s *state) bool {
	for p := range s.follows {
		l, ok := s.target(p, 0)
		if !ok {
			if _, unp := s.assign[s.follows[p]]; unp {
				continue // follows an unpinned input: nothing to check
			}
			return false
		}
		req := s.reqs[p]
		t := w.trees[l]
		if req == "" || (s.reqFlake[p] != nil && s.reqFlake[p] != t.flake) {
			continue
		}
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
		perFlake[t.flake.Name]++
		if t.ver != nil {
			v := t.ver.SemVer
			key := fmt.Sprint(t.flake.Name, " ", v.Major())
			if v.Major() == 0 {
				key = fmt.Sprint(t.flake.Name, " 0.", v.Minor())
				if v.Minor() == 0 {
					key = fmt.Sprint(t.flake.Name, " 0.0.", v.Patch())
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
	w := newWorld(layers, req)
	byPath := map[string]*PathPin{}
	for _, p := range a.Paths {
		byPath[p.Path] = p
	}
	set := map[string]bool{}
	for _, n := range a.Nodes {
		set[n.Label()] = true
	}
	var msg string
	found := false
	w.solutions(set, func(s *state) bool {
		for p, l := range s.assign {
			pp := byPath[p]
			if pp == nil || (l == "unpinned") != (pp.Unpinned != "") || (pp.Node != nil && pp.Node.Label() != l) {
				return true
			}
		}
		for p, t := range s.follows {
			if pp := byPath[p]; pp == nil || pp.Follows != t {
				return true
			}
		}
		if len(s.assign)+len(s.follows) != len(a.Paths) {
			msg = fmt.Sprintf("answer has %d paths, the assignment %d", len(a.Paths), len(s.assign)+len(s.follows))
			return true
		}
		found = true
		return false
	})
	if !found {
		if msg == "" {
			msg = "no valid path-by-path assignment matches the answer"
		}
		return msg
	}
	return ""
}

// minTrees is what exhaustive search finds: the fewest trees any valid
// answer needs, or -1 when none exists.
func (w *world) minTrees() int {
	best := -1
	w.solutions(nil, func(s *state) bool {
		if n := len(usedTrees(s)); best < 0 || n < best {
			best = n
		}
		return true
	})
	return best
}

// feasible says whether some valid answer uses only trees in set.
func (w *world) feasible(set map[string]bool) bool {
	ok := false
	w.solutions(set, func(*state) bool { ok = true; return false })
	return ok
}

// checkOptimal compares a resolution with exhaustive search: an error must
// mean no answer exists; an answer must use the fewest trees, and no tree
// of it may move to a newer version of its flake without leaving the valid
// answers of that size.
func checkOptimal(t *testing.T, layers *index.Layers, req *Request, a *Answer, err error) {
	t.Helper()
	w := newWorld(layers, req)
	best := w.minTrees()
	if err != nil {
		if _, conflict := err.(*ConflictError); conflict && best >= 0 {
			t.Errorf("resolver reports a conflict, but exhaustive search finds an answer with %d trees", best)
		}
		return
	}
	if best < 0 {
		t.Errorf("resolver answered, but exhaustive search finds no valid answer")
		return
	}
	if len(a.Nodes) != best {
		t.Errorf("answer uses %d trees, exhaustive search needs only %d", len(a.Nodes), best)
		return
	}
	set := map[string]bool{}
	for _, n := range a.Nodes {
		set[n.Label()] = true
	}
	for _, n := range a.Nodes {
		if n.Version == "" {
			continue
		}
		f, _ := layers.Lookup(n.Flake)
		cur := semverOf(n.Version)
		for _, v := range f.Versions {
			newer := f.Name + " " + v.String()
			if !v.SemVer.GreaterThan(cur) || set[newer] {
				continue
			}
			moved := map[string]bool{newer: true}
			for l := range set {
				if l != n.Label() {
					moved[l] = true
				}
			}
			if w.feasible(moved) {
				t.Errorf("not newest: %s could move to %s", n.Label(), v)
			}
		}
	}
}
