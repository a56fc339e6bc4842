package solver

import (
	"maps"
	"slices"
	"strings"

	"github.com/flakeresolve/flakeresolve/index"
)

type constraint struct {
	lits    []int
	weights []int
	atLeast int
	group   *group // nil: structural, never blamed
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
	key := groupKey{kind, fname, name}
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

// groupKey names a group: its kind, flake and name.
type groupKey struct{ kind, flake, name string }

func (r *resolver) clause(g *group, lits ...int) {
	r.cons = append(r.cons, constraint{lits: lits, atLeast: 1, group: g})
}

// encode writes the constraints.
func (r *resolver) encode() {
	// A problem has about a group and two constraints per candidate: the
	// tables are made at that size, not grown to it.
	n := r.stats.Candidates
	r.groupKeys, r.cons = sized(r.groupKeys, n), slices.Grow(r.cons, 2*n)
	for i, in := range r.instances {
		if i%1024 == 0 && r.ctx.Err() != nil {
			return // Resolve reports the deadline
		}
		for _, s := range in.slotsInOrder() {
			name := s.name
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
				r.clause(g, slices.Concat(guard, s.vars)...)
				for k, c := range s.cands {
					if x := r.xOf(c.node); s.vars[k] != x {
						r.clause(nil, -s.vars[k], x)
					}
					if a := s.children[k].active; s.vars[k] != a {
						r.clause(nil, -s.vars[k], a)
					}
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
					base := append([]int{}, guard...)
					for _, c := range a.conds {
						base = append(base, -c.s.vars[c.k])
					}
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
					if s.req == nil {
						continue
					}
					if a.slot.kind != choose {
						// A version on the follows, and nothing to check it
						// against: it does not hold.
						r.clause(g, base...)
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

func (r *resolver) xOf(n *node) int {
	if n.x == 0 {
		n.x = r.newVar()
		r.xs = append(r.xs, n)
	}
	return n.x
}

// encodeStrategy limits the trees per flake as the policy says (and to one
// for the flakes the request names single), and writes the objective.
func (r *resolver) encodeStrategy() {
	byFlake := map[*index.Flake][]*node{}
	for _, n := range r.xs {
		byFlake[n.flake] = append(byFlake[n.flake], n)
	}
	flakes := slices.SortedFunc(maps.Keys(byFlake), func(a, b *index.Flake) int { return strings.Compare(a.Name, b.Name) })
	single := map[string]bool{}
	for _, name := range r.req.Single {
		single[name] = true
	}
	limit := r.req.Strategy.Policy().Limit
	for _, f := range flakes {
		ns := byFlake[f]
		if single[f.Name] && len(ns) > 1 {
			r.atMostOne(r.group("single", f, "", nil), ns)
			continue
		}
		if limit == PerFlake && len(ns) > 1 {
			r.atMostOne(r.group("one-per-flake", f, "", nil), ns)
			continue
		}
		if limit != PerRange {
			continue
		}
		classes := map[string][]*node{}
		for _, n := range ns {
			if v := n.cand.semver(); v != nil {
				cl := compatOf(v).String()
				classes[cl] = append(classes[cl], n)
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
	for _, c := range r.req.Strategy.Policy().Objective {
		r.objective = append(r.objective, r.criterion(c, flakes, byFlake))
	}
}

// sum is a weighted sum of literals, one criterion of the objective; the
// criterion's value is the sum plus offset.
type sum struct {
	criterion Criterion
	lits      []int
	weights   []int
	offset    int
}

// criterion writes one criterion as a sum over the encoding's variables.
func (r *resolver) criterion(c Criterion, flakes []*index.Flake, byFlake map[*index.Flake][]*node) sum {
	o := sum{criterion: c}
	// Room for every term at once: the criteria over every tree have
	// thousands, which growing by appending copies several times.
	n := len(r.xs)
	if c == RootStaleness {
		n = 0
		for _, s := range r.root.slotsInOrder() {
			n += len(s.cands)
		}
	}
	o.lits, o.weights = make([]int, 0, n), make([]int, 0, n)
	add := func(lit, w int) {
		if w != 0 {
			o.lits, o.weights = append(o.lits, lit), append(o.weights, w)
		}
	}
	switch c {
	case RootStaleness:
		for _, s := range r.root.slotsInOrder() {
			for k, cand := range s.cands {
				add(s.vars[k], staleness(cand))
			}
		}
	case Duplicates:
		// trees(f) - 1 = sum of its tree variables + (1 - used(f)) - 1,
		// where used(f) may hold only when some tree of f does.
		for _, f := range flakes {
			ns := byFlake[f]
			if len(ns) < 2 {
				continue
			}
			used := r.newVar()
			clause := []int{-used}
			for _, n := range ns {
				add(n.x, 1)
				clause = append(clause, n.x)
			}
			r.clause(nil, clause...)
			add(-used, 1)
			o.offset--
		}
	case Staleness:
		for _, n := range r.xs {
			add(n.x, staleness(n.cand))
		}
	case Trees:
		for _, n := range r.xs {
			add(n.x, 1)
		}
	}
	return o
}

// staleness is how many versions of the candidate's flake are newer than
// it: 0 for the newest, and for a tree that is no version (a ref head, a
// pin of a tree no index has), which no requirement chose. A version's
// place in its flake's Versions, which are sorted, is its rank.
func staleness(c *candidate) int {
	if c.version == nil {
		return 0
	}
	return len(c.flake.Versions) - 1 - c.version.Index()
}

func (r *resolver) atMostOne(g *group, ns []*node) {
	lits := make([]int, len(ns))
	for i, n := range ns {
		lits[i] = -n.x
	}
	r.cons = append(r.cons, constraint{lits: lits, atLeast: len(ns) - 1, group: g})
}
