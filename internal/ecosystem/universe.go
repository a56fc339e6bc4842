package ecosystem

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Tree is one version of a flake in an answer.
type Tree struct{ Flake, Version string }

func (t Tree) String() string { return t.Flake + " " + t.Version }

// universe is an ecosystem in the form the peers' writers and the answer
// checker share: every flake's versions in SemVer order and every distinct
// requirement on a flake with the versions that match it. It is built apart
// from the index package, so that checking an answer does not lean on the
// code that produced it.
type universe struct {
	flakes []*uflake // index order
	byURL  map[string]*uflake
	byName map[string]*uflake
}

type uflake struct {
	*pb.Flake
	versions  []*uversion // ascending SemVer
	byVersion map[string]*uversion
	reqs      map[string]*ureq // by canonical requirement text
}

type uversion struct {
	flake *uflake
	*pb.Version
	// rank is the position in SemVer order from 1 (the oldest); staleness
	// counts the newer versions of the flake.
	rank, staleness int
	semver          *semver.Version
	deps            []*ureq // by input name
}

func (v *uversion) tree() Tree { return Tree{v.flake.Name, v.Version.Version} }

// ureq is one distinct requirement on a flake.
type ureq struct {
	flake   *uflake
	text    string // canonical, as versionreq writes it
	matches []*uversion
}

// universe builds the shared form once per ecosystem; it is not changed
// afterwards, so problems of one ecosystem may be written concurrently.
func (e *Ecosystem) universe() (*universe, error) {
	e.once.Do(func() { e.u, e.uErr = newUniverse(e.Index) })
	return e.u, e.uErr
}

func newUniverse(ix *pb.Index) (*universe, error) {
	u := &universe{byURL: map[string]*uflake{}, byName: map[string]*uflake{}}
	for _, f := range ix.Flakes {
		uf := &uflake{Flake: f, byVersion: map[string]*uversion{}, reqs: map[string]*ureq{}}
		for _, v := range f.Versions {
			sv, err := semver.StrictNewVersion(v.Version)
			if err != nil {
				return nil, fmt.Errorf("flake %s version %q: %w", f.Name, v.Version, err)
			}
			uv := &uversion{flake: uf, Version: v, semver: sv}
			uf.versions = append(uf.versions, uv)
			uf.byVersion[v.Version] = uv
		}
		slices.SortFunc(uf.versions, func(a, b *uversion) int { return a.semver.Compare(b.semver) })
		for i, uv := range uf.versions {
			uv.rank, uv.staleness = i+1, len(uf.versions)-1-i
		}
		u.flakes = append(u.flakes, uf)
		u.byURL[githubURL(f)] = uf
		u.byName[f.Name] = uf
	}
	for _, uf := range u.flakes {
		for _, uv := range uf.versions {
			for _, name := range slices.Sorted(maps.Keys(uv.Inputs)) {
				q, err := u.require(uv.Inputs[name], true)
				if err != nil {
					return nil, fmt.Errorf("flake %s version %s input %s: %w", uf.Name, uv.Version.Version, name, err)
				}
				uv.deps = append(uv.deps, q)
			}
		}
	}
	return u, nil
}

// require finds or makes the distinct requirement an input states, and
// keeps a new one when keep is set (only while the universe is built).
func (u *universe) require(in *pb.Input, keep bool) (*ureq, error) {
	f := u.byURL[in.Url]
	if f == nil || in.Version == "" {
		return nil, fmt.Errorf("input %s %q: only versioned inputs on flakes of the ecosystem are supported", in.Url, in.Version)
	}
	q, err := versionreq.Parse(in.Version)
	if err != nil {
		return nil, fmt.Errorf("input %s: %w", in.Url, err)
	}
	if r := f.reqs[q.String()]; r != nil {
		return r, nil
	}
	r := &ureq{flake: f, text: q.String()}
	for _, v := range f.versions {
		if q.Matches(v.semver) {
			r.matches = append(r.matches, v)
		}
	}
	if keep {
		f.reqs[r.text] = r
	}
	return r, nil
}

// problem is the universe and a request's root requirements.
func (e *Ecosystem) problem(request map[string]*pb.Input) (*universe, []*ureq, error) {
	u, err := e.universe()
	if err != nil {
		return nil, nil, err
	}
	roots, err := u.roots(request)
	return u, roots, err
}

// roots are a request's requirements, by input name.
func (u *universe) roots(request map[string]*pb.Input) ([]*ureq, error) {
	var rs []*ureq
	for _, name := range slices.Sorted(maps.Keys(request)) {
		q, err := u.require(request[name], false)
		if err != nil {
			return nil, fmt.Errorf("root input %s: %w", name, err)
		}
		rs = append(rs, q)
	}
	return rs, nil
}

// reachable lists the versions that requirements reach transitively, in
// the universe's order (flakes as indexed, versions ascending).
func (u *universe) reachable(roots []*ureq) []*uversion {
	seen := map[*uversion]bool{}
	var stack []*uversion
	for _, r := range roots {
		stack = append(stack, r.matches...)
	}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[v] {
			continue
		}
		seen[v] = true
		for _, d := range v.deps {
			stack = append(stack, d.matches...)
		}
	}
	var out []*uversion
	for _, f := range u.flakes {
		for _, v := range f.versions {
			if seen[v] {
				out = append(out, v)
			}
		}
	}
	return out
}

// Check judges an answer, given as the set of trees it installs: every
// tree must be a version of the ecosystem listed once, every root
// requirement of the request and every requirement of every tree must be
// met by a tree of the answer. Several versions of a flake may be
// installed. The error lists the first violations and how many there are.
func (e *Ecosystem) Check(request map[string]*pb.Input, trees []Tree) error {
	u, roots, err := e.problem(request)
	if err != nil {
		return err
	}
	var problems []string
	installed := map[*uversion]bool{}
	for _, t := range trees {
		v := u.version(t)
		switch {
		case v == nil:
			problems = append(problems, fmt.Sprintf("%s is not a version of the ecosystem", t))
		case installed[v]:
			problems = append(problems, fmt.Sprintf("%s is listed twice", t))
		}
		installed[v] = true
	}
	met := func(r *ureq) bool {
		return slices.ContainsFunc(r.matches, func(v *uversion) bool { return installed[v] })
	}
	names := slices.Sorted(maps.Keys(request))
	for i, r := range roots {
		if !met(r) {
			problems = append(problems, fmt.Sprintf("root input %s requires %s %s, and no installed version matches", names[i], r.flake.Name, r.text))
		}
	}
	for _, t := range trees {
		v := u.version(t)
		if v == nil {
			continue
		}
		for _, r := range v.deps {
			if !met(r) {
				problems = append(problems, fmt.Sprintf("%s requires %s %s, and no installed version matches", t, r.flake.Name, r.text))
			}
		}
	}
	if len(problems) == 0 {
		return nil
	}
	const shown = 5
	more := ""
	if len(problems) > shown {
		more = fmt.Sprintf(" (and %d more)", len(problems)-shown)
		problems = problems[:shown]
	}
	return fmt.Errorf("invalid answer: %s%s", strings.Join(problems, "; "), more)
}

// Staleness sums, over an answer's trees, how many newer versions each
// tree's flake has: 0 when every tree is its flake's newest version. Trees
// that are not versions of the ecosystem count nothing (Check reports them).
func (e *Ecosystem) Staleness(trees []Tree) (int, error) {
	u, err := e.universe()
	if err != nil {
		return 0, err
	}
	sum := 0
	for _, t := range trees {
		if v := u.version(t); v != nil {
			sum += v.staleness
		}
	}
	return sum, nil
}

func (u *universe) version(t Tree) *uversion {
	if f := u.byName[t.Flake]; f != nil {
		return f.byVersion[t.Version]
	}
	return nil
}

// Reachable counts the versions a request reaches through requirements:
// the part of the ecosystem a solver has to consider.
func (e *Ecosystem) Reachable(request map[string]*pb.Input) (int, error) {
	u, roots, err := e.problem(request)
	if err != nil {
		return 0, err
	}
	return len(u.reachable(roots)), nil
}
