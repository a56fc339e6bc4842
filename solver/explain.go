package solver

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// explain finds a minimal set of declarations that cannot hold together and
// says it in their terms, with changes that would lift the conflict, each
// tried. Removal is tried from the last group built to the first, so the
// declarations nearest the root, the ones a user can change, are the ones
// kept.
func (r *resolver) explain() error {
	if r.req.trial {
		return &ConflictError{}
	}
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
	e := &ConflictError{Minimal: true}
	for i := len(r.groups) - 1; i >= 0; i-- {
		g := r.groups[i]
		if !set[g] {
			continue
		}
		if r.ctx.Err() != nil {
			e.Minimal = false
			break
		}
		delete(set, g)
		if !unsat() {
			set[g] = true
		}
	}
	for _, g := range r.groups {
		if set[g] {
			e.Causes = append(e.Causes, r.causes(g)...)
		}
	}
	// The changes that would lift the conflict, each tried; those tried
	// that leave no answer are left out.
	seen := map[Change]bool{}
	for _, g := range r.groups {
		if c, ok := r.change(g); set[g] && ok && !seen[c] {
			seen[c] = true
			if h := r.try(c); !h.Tried || h.Resolves {
				e.Hints = append(e.Hints, h)
			}
		}
	}
	r.stats.Duration = time.Since(r.start)
	return e
}

// causes says what a group of clauses stands for: one cause per distinct
// declaration in it.
func (r *resolver) causes(g *group) []Cause {
	switch g.kind {
	case "root":
		return []Cause{r.slotCause(g.slots[0], CauseRootRequirement, nil, nil)}
	case "input":
		// The versions of a flake that declare one requirement of the
		// input, and every chain that reaches them.
		type decl struct{ req, why string }
		var order []decl
		bySlot := map[decl][]*slot{}
		for _, s := range g.slots {
			d := decl{s.reqText, s.why}
			if bySlot[d] == nil {
				order = append(order, d)
			}
			bySlot[d] = append(bySlot[d], s)
		}
		var out []Cause
		for _, d := range order {
			ss := bySlot[d]
			by := &Declarer{Flake: g.flake.Name}
			var chains [][]string
			for _, s := range ss {
				if v := s.owner.cand.version; v != nil && !slices.Contains(by.Versions, v.String()) {
					by.Versions = append(by.Versions, v.String())
				}
				chains = appendChains(chains, s.owner)
			}
			slices.SortFunc(by.Versions, func(a, b string) int { return semverOf(b).Compare(semverOf(a)) })
			out = append(out, r.slotCause(ss[0], CauseDependencyRequirement, by, chains))
		}
		return out
	case "follows":
		var out []Cause
		seen := map[string]bool{}
		for _, s := range g.slots {
			c := Cause{Kind: CauseFollows, Input: fmt.Sprintf("inputs.%s.follows = %q", strings.ReplaceAll(g.name, "/", ".inputs."), *s.decl.Follows), Requirement: s.reqText}
			if s.scope.cand != nil {
				c.DeclaredBy = &Declarer{Flake: s.scope.cand.flake.Name, Versions: versionsOf(s.scope.cand)}
				c.Chains = appendChains(nil, s.scope)
			}
			if s.req != nil {
				c.Detail = *s.decl.Follows + " must match it"
			} else {
				c.Detail = "a path that does not exist for every choice beneath it"
			}
			if key := c.String(); !seen[key] {
				seen[key] = true
				out = append(out, c)
			}
		}
		return out
	case "single":
		return []Cause{{Kind: CauseSingleFlake, Flake: g.flake.Name}}
	case "cargo":
		return []Cause{{Kind: CauseStrategyLimit, Flake: g.flake.Name, Detail: "in the range " + g.class}}
	case "one-per-flake":
		return []Cause{{Kind: CauseStrategyLimit, Flake: g.flake.Name}}
	}
	return nil
}

// slotCause is what one input's declaration requires.
func (r *resolver) slotCause(s *slot, kind CauseKind, by *Declarer, chains [][]string) Cause {
	c := Cause{Kind: kind, Requirement: s.reqText, Input: s.name, DeclaredBy: by, Chains: chains}
	switch {
	case s.kind == unpinned:
		c.Kind, c.Flake, c.Detail = CauseMissingFlake, s.decl.Url, s.why
		return c
	case s.flake != nil:
		c.Flake = s.flake.Name
	}
	if len(s.cands) == 0 {
		c.Detail = s.why
	}
	if s.kind == choose && len(s.cands) == 1 && s.cands[0].origin == OriginExistingLock {
		c.KeptByLock = versionsOf(s.cands[0])[0]
	}
	if s.req != nil && s.flake != nil {
		vs := s.flake.Select(s.req)
		for i := len(vs) - 1; i >= 0; i-- {
			c.Admitted = append(c.Admitted, vs[i].String())
		}
	} else {
		for _, cand := range s.cands {
			c.Admitted = append(c.Admitted, candLabel(cand)[len(cand.flake.Name)+1:])
		}
	}
	return c
}

func versionsOf(c *candidate) []string {
	if c.version == nil {
		return []string{candLabel(c)[len(c.flake.Name)+1:]}
	}
	return []string{c.version.String()}
}

// maxChains bounds the chains a cause lists: a graph of shared flakes
// reaches one declaration through exponentially many paths.
const maxChains = 8

// appendChains adds the input paths that reach an instance, each a list of
// input names from the root, up to maxChains.
func appendChains(chains [][]string, in *instance) [][]string {
	return chainsTo(chains, in, nil)
}

// chainsTo adds the chains through in's parents, suffix being the names
// beneath in (innermost first).
func chainsTo(chains [][]string, in *instance, suffix []string) [][]string {
	if len(chains) >= maxChains {
		return chains
	}
	if in.cand == nil {
		ch := make([]string, len(suffix))
		for i, name := range suffix {
			ch[len(suffix)-1-i] = name
		}
		for _, c := range chains {
			if slices.Equal(c, ch) {
				return chains
			}
		}
		return append(chains, ch)
	}
	for _, p := range in.parents {
		chains = chainsTo(chains, p.owner, append(slices.Clip(suffix), p.name))
	}
	return chains
}

// change is what a user could change to lift a group, when the group is
// theirs to change (or to override from the root flake).
func (r *resolver) change(g *group) (Change, bool) {
	switch g.kind {
	case "root":
		s := g.slots[0]
		if s.kind == choose && len(s.cands) == 1 && s.cands[0].origin == OriginExistingLock {
			return Change{Kind: ChangeUpdateInput, Path: s.path}, true
		}
		// Relaxing can help only where the requirement shuts out some
		// version of the flake.
		if s.req != nil && s.flake != nil && len(s.flake.Select(s.req)) < len(s.flake.Versions) {
			return Change{Kind: ChangeRelaxRequirement, Path: s.path, From: s.reqText}, true
		}
	case "input":
		// A requirement of a root input's own input: the root flake can
		// override it (one level, as Nix allows).
		for _, s := range g.slots {
			if s.req != nil && s.flake != nil && len(s.flake.Select(s.req)) < len(s.flake.Versions) && len(s.owner.parents) == 1 && s.owner.parents[0].owner == r.root {
				return Change{Kind: ChangeRelaxRequirement, Path: s.path, From: s.reqText}, true
			}
		}
	case "follows":
		if s := g.slots[0]; g.flake == nil && s.req != nil {
			return Change{Kind: ChangeRelaxRequirement, Path: s.path, From: s.reqText}, true
		}
	case "single":
		return Change{Kind: ChangeAllowSeveral, Flake: g.flake.Name}, true
	case "cargo", "one-per-flake":
		return Change{Kind: ChangeUseStrategy, Strategy: Newest}, true
	}
	return Change{}, false
}

// try resolves the request with a change and says what it gives. A
// relaxed requirement is first dropped, then set to the caret of the
// version that answer pinned, the narrowest requirement that lifts the
// conflict the same way.
func (r *resolver) try(c Change) Hint {
	h := Hint{Change: c}
	if r.ctx.Err() != nil {
		return h
	}
	resolve := func(c Change) (*Answer, error) {
		req := r.changed(c)
		ctx, cancel := context.WithCancel(r.ctx)
		defer cancel()
		return Resolve(ctx, r.layers, req)
	}
	if c.Kind == ChangeRelaxRequirement {
		c.To = "*"
		a, err := resolve(c)
		if err == nil {
			if p := pinAt(a, c.Path); p != nil && p.Node.Version != "" {
				c.To = caret(p.Node.Version)
			}
		}
		h.Change = c
	}
	a, err := resolve(c)
	if r.ctx.Err() != nil {
		return h
	}
	h.Tried = true
	if err != nil {
		return h
	}
	h.Resolves = true
	for _, p := range a.Paths {
		if !strings.Contains(p.Path, "/") && p.Kind == Pinned {
			h.Pins = append(h.Pins, p.Node.Label())
		}
	}
	return h
}

// changed is the request with a change made.
func (r *resolver) changed(c Change) *Request {
	req := *r.req
	req.trial = true
	req.Inputs = map[string]*pb.Input{}
	for name, in := range r.req.Inputs {
		req.Inputs[name] = proto.Clone(in).(*pb.Input)
	}
	switch c.Kind {
	case ChangeRelaxRequirement:
		segs := splitPath(c.Path)
		in := req.Inputs[segs[0]]
		if len(segs) == 2 {
			if in.Inputs == nil {
				in.Inputs = map[string]*pb.Input{}
			}
			if in.Inputs[segs[1]] == nil {
				in.Inputs[segs[1]] = &pb.Input{}
			}
			in = in.Inputs[segs[1]]
		}
		in.Version = c.To
	case ChangeAllowSeveral:
		req.Single = slices.DeleteFunc(slices.Clone(req.Single), func(f string) bool { return f == c.Flake })
	case ChangeUpdateInput:
		req.Update = append(slices.Clone(req.Update), c.Path)
	case ChangeUseStrategy:
		req.Strategy = c.Strategy
	}
	return &req
}

func pinAt(a *Answer, path string) *PathPin {
	for _, p := range a.Paths {
		if p.Path == path && p.Kind == Pinned {
			return p
		}
	}
	return nil
}

// caret is the caret requirement Cargo writes for a version: ^MAJOR.MINOR,
// or ^0.MINOR, or for 0.0.PATCH the version itself.
func caret(version string) string {
	v := semverOf(version)
	switch {
	case v.Major() > 0:
		return fmt.Sprintf("^%d.%d", v.Major(), v.Minor())
	case v.Minor() > 0:
		return fmt.Sprintf("^0.%d", v.Minor())
	}
	return "^" + v.String()
}
