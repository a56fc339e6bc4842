package solver

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/flakeresolve/flakeresolve/index"
)

// decoder reads an answer out of a model. Where a model leaves a choice
// with several true candidates, the newest wins, so the answer depends only
// on the model.
type decoder struct {
	r      *resolver
	model  []bool
	chosen map[*slot]int
	ans    *Answer
	nodes  map[*node]*Node
	edges  map[*Node][]Edge
}

func (r *resolver) decode(model []bool) (*Answer, error) {
	d := &decoder{r: r, model: model, chosen: map[*slot]int{}, ans: &Answer{}, nodes: map[*node]*Node{}, edges: map[*Node][]Edge{}}
	if err := d.walk(r.root, "", map[*instance]string{r.root: ""}); err != nil {
		return nil, err
	}
	sort.Slice(d.ans.Paths, func(i, j int) bool { return d.ans.Paths[i].Path < d.ans.Paths[j].Path })
	for _, n := range d.nodes {
		sort.Strings(n.Paths)
		d.ans.Nodes = append(d.ans.Nodes, n)
	}
	sort.Slice(d.ans.Nodes, func(i, j int) bool { return nodeLess(d.ans.Nodes[i], d.ans.Nodes[j]) })
	d.duplicates()
	// The answer's own value: a model may hold trees the answer does not
	// use, where a criterion was not driven down.
	for i, c := range r.stats.Objective {
		b := &r.stats.Objective[i]
		b.Value = d.value(c.Criterion)
		if b.Proven {
			b.Lower = b.Value
		}
	}
	r.stats.Duration = time.Since(r.start)
	d.ans.Stats = r.stats
	return d.ans, nil
}

// nodeLess orders nodes by flake, then newest first, ref heads last.
func nodeLess(a, b *Node) bool {
	if a.Flake != b.Flake {
		return a.Flake < b.Flake
	}
	va, vb := a.Locked, b.Locked
	if (a.Version == "") != (b.Version == "") {
		return a.Version != ""
	}
	if a.Version != "" {
		return semverOf(a.Version).GreaterThan(semverOf(b.Version))
	}
	if a.Ref != b.Ref {
		return a.Ref < b.Ref
	}
	return va.NarHash < vb.NarHash
}

func (d *decoder) choose(s *slot) int {
	if k, ok := d.chosen[s]; ok {
		return k
	}
	k := -1
	for i, v := range s.vars {
		if d.model[v-1] {
			k = i
			break // candidates are newest first
		}
	}
	d.chosen[s] = k
	return k
}

func (d *decoder) holds(conds []choice) bool {
	for _, c := range conds {
		if d.choose(c.s) != c.k {
			return false
		}
	}
	return true
}

// walk pins every path beneath in, which is at path prefix; stack maps the
// instances on the way down to their paths, where follows declared by them
// start.
func (d *decoder) walk(in *instance, prefix string, stack map[*instance]string) error {
	for _, s := range in.slotsInOrder() {
		name := s.name
		path := joinPath(prefix, name)
		if len(d.ans.Paths) >= d.r.lim.MaxPaths {
			return d.r.limit(LimitPaths, len(d.ans.Paths)+1, d.r.lim.MaxPaths)
		}
		if len(d.ans.Paths)%1024 == 0 {
			if err := d.r.ctx.Err(); err != nil {
				return d.r.wrap(err)
			}
		}
		p := &PathPin{Path: path, URL: s.decl.Url, DeclaredURL: s.declaredURL, Requirement: s.reqText, NotFlake: s.decl.Flake != nil && !*s.decl.Flake}
		d.ans.Paths = append(d.ans.Paths, p)
		switch s.kind {
		case unpinned:
			p.Kind, p.Unpinned = Unpinned, s.why
		case follows:
			p.Kind = Follows
			p.Follows = append(splitPath(stack[s.scope]), s.followsPath...)
			for _, a := range s.alts {
				if d.holds(a.conds) && a.slot == nil && a.self == nil {
					return fmt.Errorf("internal error: %s follows %s, which does not exist in the answer", path, strings.Join(p.Follows, "/"))
				}
			}
		case choose:
			k := d.choose(s)
			if k < 0 {
				return fmt.Errorf("internal error: the model pins nothing at %s", path)
			}
			c := s.cands[k]
			n := d.node(c)
			p.Node, p.Locked, p.Original = n, c.lockedSource(), c.original
			p.Origin, p.Ref = d.r.origin(s, c)
			n.Paths = append(n.Paths, path)
			declaredBy := "root"
			if in.cand != nil {
				declaredBy = candLabel(in.cand)
			}
			d.edges[n] = append(d.edges[n], Edge{Path: path, DeclaredBy: declaredBy, Requirement: s.reqText, Node: n})
			child := s.children[k]
			if at, loop := stack[child]; loop {
				return &RequestError{Field: fieldOf(path), Msg: fmt.Sprintf("inputs form a cycle: %s is %s again, which %s already pins", path, candLabel(c), orRoot(at))}
			}
			stack[child] = path
			err := d.walk(child, path, stack)
			delete(stack, child)
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// value is a criterion of the decoded answer, as criterion encodes it.
func (d *decoder) value(c Criterion) int {
	v := 0
	switch c {
	case RootStaleness:
		for _, s := range d.r.root.slotsInOrder() {
			if s.kind == choose {
				v += staleness(s.cands[d.choose(s)])
			}
		}
	case Duplicates:
		perFlake := map[*index.Flake]int{}
		for n := range d.nodes {
			perFlake[n.flake]++
		}
		for _, k := range perFlake {
			v += k - 1
		}
	case Staleness:
		for n := range d.nodes {
			v += staleness(n.cand)
		}
	case Trees:
		v = len(d.nodes)
	}
	return v
}

func (d *decoder) node(c *candidate) *Node {
	if n := d.nodes[c.node]; n != nil {
		return n
	}
	rep := c.node.cand
	n := &Node{Flake: rep.flake.Name, Ref: rep.ref, Locked: rep.lockedSource(), External: d.r.standIns[rep.flake.Name] == rep.flake}
	if rep.version != nil {
		n.Version = rep.version.String()
		n.Ref = ""
	}
	d.nodes[c.node] = n
	return n
}

// origin says where a slot's pin c comes from, and the ref it was fetched
// through: the one the reference names, else for a ref head its branch and
// for a rev the default branch, as Nix records them for git.
func (r *resolver) origin(s *slot, c *candidate) (Origin, string) {
	if c.lockNode != nil {
		return c.origin, ""
	}
	t := r.target(s.decl.Url)
	switch {
	case t.version != nil:
		return OriginRev, ""
	case t.rev != "":
		if t.ref != "" {
			return OriginRev, t.ref
		}
		return OriginRev, c.flake.DefaultRef
	case c.version != nil && s.req != nil:
		return OriginRequirement, ""
	case t.ref != "":
		return OriginRefHead, t.ref
	}
	return OriginRefHead, c.ref
}

// duplicates explains each flake pinned to several trees by the edges that
// pin each tree.
func (d *decoder) duplicates() {
	var cur *Duplicate
	for _, n := range d.ans.Nodes {
		if cur == nil || cur.Flake != n.Flake {
			cur = &Duplicate{Flake: n.Flake}
			d.ans.Duplicates = append(d.ans.Duplicates, cur)
		}
		seen := map[string]bool{}
		for _, e := range d.edges[n] {
			key := e.DeclaredBy + "\x00" + e.Requirement
			if !seen[key] {
				seen[key] = true
				cur.Edges = append(cur.Edges, e)
			}
		}
	}
	out := d.ans.Duplicates[:0]
	for _, dup := range d.ans.Duplicates {
		if nodesOf(dup) > 1 {
			out = append(out, dup)
		}
	}
	d.ans.Duplicates = out
}

func nodesOf(dup *Duplicate) int {
	seen := map[*Node]bool{}
	for _, e := range dup.Edges {
		seen[e.Node] = true
	}
	return len(seen)
}

func semverOf(s string) *semver.Version {
	v, _ := semver.StrictNewVersion(s)
	return v
}
