package solver

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/flakeresolve/flakeresolve/index"
)

// explain finds a minimal set of declarations that cannot hold together and
// says it in their terms. Removal is tried from the last group built to the
// first, so the declarations nearest the root, the ones a user can change,
// are the ones kept.
func (r *resolver) explain() error {
	set := map[*group]bool{}
	for _, c := range r.cons {
		if c.group != nil {
			set[c.group] = true
		}
	}
	unsat := func() bool {
		keep := func(c *constraint) bool { return c.group == nil || set[c.group] }
		_, out := newSAT(r.nvars, r.cons, keep, &r.stats.SATCalls, func() bool { return r.ctx.Err() != nil }).solve()
		return out == unsat
	}
	for i := len(r.groups) - 1; i >= 0; i-- {
		g := r.groups[i]
		if !set[g] || r.ctx.Err() != nil {
			continue
		}
		delete(set, g)
		if !unsat() {
			set[g] = true
		}
	}
	var core []*group
	for _, g := range r.groups {
		if set[g] {
			core = append(core, g)
		}
	}
	e := &ConflictError{}
	for _, g := range core {
		e.Causes = append(e.Causes, r.describe(g)...)
		if s := r.suggest(g); s != "" {
			e.Suggestions = append(e.Suggestions, s)
		}
	}
	r.stats.Duration = time.Since(r.start)
	return e
}

// describe says what a group of clauses stands for.
func (r *resolver) describe(g *group) []string {
	switch g.kind {
	case "root":
		return []string{r.describeSlot("root input "+quote(g.name), g.slots[0])}
	case "input":
		return r.describeInput(g)
	case "follows":
		var out []string
		seen := map[string]bool{}
		for _, s := range g.slots {
			line := r.describeFollows(g, s)
			if !seen[line] {
				seen[line] = true
				out = append(out, line)
			}
		}
		return out
	case "single":
		return []string{fmt.Sprintf("%s must resolve to a single version (it is listed in single)", g.flake.Name)}
	case "cargo":
		return []string{fmt.Sprintf("the cargo strategy allows one version of %s in the range %s", g.flake.Name, g.class)}
	case "one-per-flake":
		return []string{fmt.Sprintf("the single strategy allows one tree of %s", g.flake.Name)}
	}
	return nil
}

// describeSlot says what a choice requires and, when nothing can meet it,
// why.
func (r *resolver) describeSlot(who string, s *slot) string {
	var b strings.Builder
	b.WriteString(who)
	switch {
	case s.kind == unpinned:
		fmt.Fprintf(&b, " requires %s %s, but %s", s.decl.Url, s.reqText, s.why)
		return b.String()
	case s.req != nil:
		fmt.Fprintf(&b, " requires %s %s", s.flake.Name, s.reqText)
	case len(s.cands) == 1 && s.cands[0].version == nil:
		fmt.Fprintf(&b, " locks %s to the head of %s", s.flake.Name, s.cands[0].ref)
	default:
		fmt.Fprintf(&b, " locks %s from %s", s.flake.Name, s.decl.Url)
	}
	if len(s.cands) == 0 {
		b.WriteString(", but " + s.why)
	} else if s.req != nil {
		b.WriteString(" (" + matching(s.flake, s) + ")")
	}
	return b.String()
}

// matching lists the versions of f that satisfy a choice's requirement.
func matching(f *index.Flake, s *slot) string {
	vs := f.Select(s.req)
	if len(vs) == 1 {
		return "only " + vs[0].String() + " matches"
	}
	return "matching " + versionList(vs)
}

// describeInput says what the versions of a flake require of one input,
// one line per distinct requirement, with the chain that reaches the flake.
func (r *resolver) describeInput(g *group) []string {
	type key struct{ req, why string }
	versions := map[key][]*candidate{}
	slotOf := map[key]*slot{}
	var keys []key
	for _, s := range g.slots {
		k := key{s.reqText, ""}
		if len(s.cands) == 0 || s.kind == unpinned {
			k.why = s.why
		}
		if _, ok := slotOf[k]; !ok {
			keys = append(keys, k)
			slotOf[k] = s
		}
		c := s.owner.cand
		if !containsCand(versions[k], c) {
			versions[k] = append(versions[k], c)
		}
	}
	var out []string
	for _, k := range keys {
		cs := versions[k]
		sort.Slice(cs, func(i, j int) bool { return candLess(cs[i], cs[j]) })
		who := fmt.Sprintf("%s (reached through %s)", labels(cs), chain(slotOf[k].owner))
		out = append(out, r.describeSlot(who, slotOf[k]))
	}
	return out
}

func containsCand(cs []*candidate, c *candidate) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

func candLess(a, b *candidate) bool {
	if a.version == nil || b.version == nil {
		return a.version != nil || (b.version == nil && a.ref < b.ref)
	}
	return a.version.SemVer.LessThan(b.version.SemVer)
}

// labels names candidates of one flake compactly: "hyprland 0.50.0" or
// "hyprland 0.49.0, 0.50.0" or "hyprland 0.45.0 to 0.50.0 (6 versions)".
func labels(cs []*candidate) string {
	name := cs[0].flake.Name
	tag := func(c *candidate) string {
		if c.version != nil {
			return c.version.String()
		}
		return "ref:" + c.ref
	}
	switch n := len(cs); {
	case n <= 3:
		parts := make([]string, n)
		for i, c := range cs {
			parts[i] = tag(c)
		}
		return name + " " + strings.Join(parts, ", ")
	default:
		return fmt.Sprintf("%s %s to %s (%d versions)", name, tag(cs[0]), tag(cs[n-1]), n)
	}
}

// chain is the path of inputs that first reached an instance, as
// "root → hyprland → hyprlang".
func chain(in *instance) string {
	if in.path == "" {
		return "root"
	}
	return "root → " + strings.ReplaceAll(in.path, "/", " → ")
}

func (r *resolver) describeFollows(g *group, s *slot) string {
	decl := "inputs." + strings.ReplaceAll(g.name, "/", ".inputs.") + ".follows = " + quote(*s.decl.Follows)
	who := "root declares " + decl
	if g.flake != nil {
		who = fmt.Sprintf("%s declares %s (reached through %s)", candLabel(s.scope.cand), decl, chain(s.scope))
	}
	if s.req != nil {
		return fmt.Sprintf("%s with version %s, which %s must match", who, s.reqText, *s.decl.Follows)
	}
	return who + ", a path that does not exist for every choice beneath it"
}

// suggest says how a user could lift a group, when the group is theirs to
// change.
func (r *resolver) suggest(g *group) string {
	switch g.kind {
	case "root":
		// Relaxing can help only where the requirement shuts out some
		// version of the flake.
		s := g.slots[0]
		if s.req == nil || s.flake == nil || len(s.flake.Select(s.req)) == len(s.flake.Versions) {
			return ""
		}
		msg := fmt.Sprintf("relax the requirement %s on root input %s", s.reqText, quote(g.name))
		if newest := s.flake.Versions[len(s.flake.Versions)-1]; !s.req.Matches(newest.SemVer) {
			msg += fmt.Sprintf(" (the newest %s is %s)", s.flake.Name, newest)
		}
		return msg
	case "follows":
		if g.flake == nil && g.slots[0].req != nil {
			return fmt.Sprintf("relax the version %s on the follows at %s", g.slots[0].reqText, quote(g.name))
		}
	case "single":
		return fmt.Sprintf("allow several versions of %s (remove it from single)", g.flake.Name)
	case "cargo", "one-per-flake":
		return "use the newest strategy, which allows several versions where requirements force them"
	}
	return ""
}

func quote(s string) string { return fmt.Sprintf("%q", s) }
