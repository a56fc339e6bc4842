// Package versionreq implements version requirements with exactly the
// semantics Cargo gives them (the Rust semver crate's VersionReq), because the
// versioned-flakes proposal adopts Cargo's syntax and a requirement that means
// one thing in Cargo and another here would be a trap.
//
// A requirement is parsed once and compiled into spans of the SemVer
// precedence order: one span of releases, and for each MAJOR.MINOR.PATCH that
// a comparator names with a prerelease, one span of that triple's
// prereleases. Cargo admits a prerelease only when a comparator carries a
// prerelease on the same triple, and that rule is what keeps the compiled form
// this small. With a flake's versions sorted, "which versions satisfy" is then
// a handful of binary searches instead of a scan.
//
// Versions are Masterminds semver values parsed strictly
// (semver.StrictNewVersion). Masterminds' own constraint checker is not used:
// it reads bare versions, prereleases and "~0.0.0" differently from Cargo.
package versionreq

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// maxComparators is Cargo's limit on comparators in one requirement.
const maxComparators = 32

// Op is a comparator's operator.
type Op int

const (
	Exact     Op = iota // =1.2.3
	Greater             // >1.2.3
	GreaterEq           // >=1.2.3
	Less                // <1.2.3
	LessEq              // <=1.2.3
	Tilde               // ~1.2.3
	Caret               // ^1.2.3, and a bare 1.2.3
	Wildcard            // 1.*, 1.2.x (only without an explicit operator)
)

var opText = [...]string{Exact: "=", Greater: ">", GreaterEq: ">=", Less: "<", LessEq: "<=", Tilde: "~", Caret: "^", Wildcard: ""}

// Comparator is one term of a requirement. Minor and Patch are nil when the
// requirement leaves them out or writes a wildcard there.
type Comparator struct {
	Op    Op
	Major uint64
	Minor *uint64
	Patch *uint64
	Pre   string // prerelease, only with a full MAJOR.MINOR.PATCH
}

// String renders the comparator as Cargo displays it.
func (c Comparator) String() string {
	s := opText[c.Op] + strconv.FormatUint(c.Major, 10)
	for _, n := range []*uint64{c.Minor, c.Patch} {
		if n == nil {
			if c.Op == Wildcard {
				s += ".*"
			}
			return s
		}
		s += "." + strconv.FormatUint(*n, 10)
	}
	if c.Pre != "" {
		s += "-" + c.Pre
	}
	return s
}

// Req is a parsed, compiled requirement. The zero value is not useful; use
// Parse or MustParse.
type Req struct {
	comparators []Comparator // empty means "*"
	releases    Span
	pres        []Span // each within one triple's prereleases, ascending
}

// Comparators returns the requirement's comparators; none for "*".
func (r *Req) Comparators() []Comparator { return r.comparators }

// String is the canonical form: Cargo's display form, which parses back to
// the same set of versions.
func (r *Req) String() string {
	if len(r.comparators) == 0 {
		return "*"
	}
	parts := make([]string, len(r.comparators))
	for i, c := range r.comparators {
		parts[i] = c.String()
	}
	return strings.Join(parts, ", ")
}

// Releases is the span of release versions the requirement admits.
func (r *Req) Releases() Span { return r.releases }

// Prereleases are the spans of prerelease versions the requirement admits,
// ascending; each lies within the prereleases of a single MAJOR.MINOR.PATCH.
func (r *Req) Prereleases() []Span { return r.pres }

// Matches reports whether v satisfies the requirement. Build metadata is
// ignored, as Cargo ignores it.
func (r *Req) Matches(v *semver.Version) bool {
	if v.Prerelease() == "" {
		return r.releases.Contains(v)
	}
	for _, s := range r.pres {
		if s.Contains(v) {
			return true
		}
	}
	return false
}

// MustParse is Parse for requirements known to be valid, such as constants in
// code; it panics on error.
func MustParse(s string) *Req {
	r, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return r
}

// Error describes why a requirement did not parse: the input, the byte offset
// where parsing stopped, and the reason.
type Error struct {
	Input  string
	Offset int
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("invalid version requirement %q at column %d: %s", e.Input, e.Offset+1, e.Reason)
}

// Select returns the elements of releases and prereleases that satisfy r,
// ascending. Each slice must be sorted ascending by version and hold only
// releases, respectively only prereleases; version extracts an element's
// version. It costs a few binary searches plus the size of the answer.
func Select[T any](r *Req, releases, prereleases []T, version func(T) *semver.Version) []T {
	i, j := r.releases.Search(len(releases), func(k int) *semver.Version { return version(releases[k]) })
	var out []T
	for _, s := range r.pres {
		pi, pj := s.Search(len(prereleases), func(k int) *semver.Version { return version(prereleases[k]) })
		out = append(out, prereleases[pi:pj]...)
	}
	if len(out) == 0 {
		return releases[i:j:j]
	}
	out = append(out, releases[i:j]...)
	sort.SliceStable(out, func(a, b int) bool { return version(out[a]).LessThan(version(out[b])) })
	return out
}

// WithoutPatch is the requirement with every comparator that names a patch
// widened to its whole MAJOR.MINOR series: "^", "~" and "=" keep their
// operator, ">" and ">=" become ">=", "<" and "<=" become "<=". It reads a
// FlakeHub requirement, whose patch counts commits, against versions
// numbered otherwise (by commit time): the bound widens and never narrows,
// and a count is never compared with a time. A prerelease is dropped with
// the patch it belongs to.
func (r *Req) WithoutPatch() *Req {
	cs := slices.Clone(r.comparators)
	changed := false
	for i, c := range cs {
		if c.Patch == nil || c.Minor == nil || c.Op == Wildcard {
			continue
		}
		c.Patch, c.Pre = nil, ""
		switch c.Op {
		case Greater:
			c.Op = GreaterEq
		case Less:
			c.Op = LessEq
		}
		cs[i], changed = c, true
	}
	if !changed {
		return r
	}
	return compile(cs)
}
