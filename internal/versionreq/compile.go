package versionreq

import (
	"cmp"
	"sort"
)

// compile turns comparators into spans. Releases: the intersection of each
// comparator's release span. Prereleases: Cargo admits T-q only when some
// comparator names T with a prerelease, so only those triples get a span,
// narrowed by every comparator's verdict on T's prereleases.
func compile(cs []Comparator) *Req {
	r := &Req{comparators: cs}
	var zero triple
	r.releases = releaseSpan(&zero, nil)
	admitted := map[triple]bool{}
	for _, c := range cs {
		r.releases = r.releases.intersect(c.releases())
		if c.Pre != "" {
			admitted[c.triple()] = true
		}
	}
	for t := range admitted {
		s := Span{Lo: t.version("0"), LoIncl: true, Hi: t.version("")}
		for _, c := range cs {
			s = s.intersect(c.prereleases(t))
		}
		if !s.Empty() {
			r.pres = append(r.pres, s)
		}
	}
	sort.Slice(r.pres, func(i, j int) bool { return r.pres[i].Lo.LessThan(r.pres[j].Lo) })
	return r
}

func (c Comparator) triple() triple {
	t := triple{major: c.Major}
	if c.Minor != nil {
		t.minor = *c.Minor
	}
	if c.Patch != nil {
		t.patch = *c.Patch
	}
	return t
}

// releases is the span of release versions c admits.
func (c Comparator) releases() Span {
	t := c.triple()
	full := c.Patch != nil
	// next is the first triple past what the written components pin down:
	// 1 -> 2.0.0, 1.2 -> 1.3.0, 1.2.3 -> 1.2.4.
	var next *triple
	switch {
	case c.Minor == nil:
		next = bumpMajor(t)
	case c.Patch == nil:
		next = bumpMinor(t)
	default:
		next = bumpPatch(t)
	}
	switch c.Op {
	case Exact, Wildcard:
		if c.Pre != "" {
			return empty // a release never equals a prerelease
		}
		return releaseSpan(&t, next)
	case Greater:
		if full && c.Pre != "" {
			return releaseSpan(&t, nil) // 1.2.3 > 1.2.3-pre
		}
		if next == nil {
			return empty
		}
		return releaseSpan(next, nil)
	case GreaterEq:
		return releaseSpan(&t, nil)
	case Less:
		return releaseSpan(nil, &t)
	case LessEq:
		if full && c.Pre != "" {
			return releaseSpan(nil, &t) // 1.2.3 is above 1.2.3-pre
		}
		return releaseSpan(nil, next)
	case Tilde:
		if full {
			return releaseSpan(&t, bumpMinor(t))
		}
		return releaseSpan(&t, next)
	case Caret:
		switch {
		case c.Minor == nil || c.Major > 0:
			return releaseSpan(&t, bumpMajor(t))
		case c.Patch == nil || t.minor > 0:
			return releaseSpan(&t, bumpMinor(t))
		default:
			return releaseSpan(&t, bumpPatch(t))
		}
	}
	panic("versionreq: unknown operator")
}

// prereleases is the span of T's prereleases that c admits, ignoring the
// admission rule (compile applies that). When c names T with all three
// numbers its prerelease decides; otherwise the verdict is the same for every
// prerelease of T and evalPre gives it.
func (c Comparator) prereleases(t triple) Span {
	all := Span{}
	if c.Patch == nil || c.triple() != t {
		if c.evalPre(t) {
			return all
		}
		return empty
	}
	if c.Pre == "" {
		// Every prerelease of T is below T itself.
		switch c.Op {
		case Less, LessEq:
			return all
		default:
			return empty
		}
	}
	p := t.version(c.Pre)
	switch c.Op {
	case Exact, Wildcard:
		return Span{Lo: p, LoIncl: true, Hi: p, HiIncl: true}
	case Greater:
		return Span{Lo: p}
	case GreaterEq, Tilde, Caret:
		return Span{Lo: p, LoIncl: true}
	case Less:
		return Span{Hi: p}
	case LessEq:
		return Span{Hi: p, HiIncl: true}
	}
	panic("versionreq: unknown operator")
}

// evalPre is Cargo's verdict on a prerelease of t, for a comparator that does
// not name t in full. Cargo compares numbers component by component and stops
// at the first difference or at the first component the comparator leaves
// out; when it reaches the prerelease field, a prerelease loses against a
// comparator without one. So partial exact, tilde and wildcard comparators
// reject every prerelease, and >= and <= reduce to > and <.
func (c Comparator) evalPre(t triple) bool {
	switch c.Op {
	case Exact, Wildcard:
		return false
	case Greater, GreaterEq:
		return compareWritten(t, c) > 0
	case Less, LessEq:
		return compareWritten(t, c) < 0
	case Tilde:
		if t.major != c.Major || (c.Minor != nil && t.minor != *c.Minor) {
			return false
		}
		return c.Patch != nil && t.patch > *c.Patch
	case Caret:
		return c.releases().Contains(t.version(""))
	}
	panic("versionreq: unknown operator")
}

// compareWritten compares t with c over the components c writes; 0 when
// they are all equal.
func compareWritten(t triple, c Comparator) int {
	written := []*uint64{&c.Major, c.Minor, c.Patch}
	for i, have := range []uint64{t.major, t.minor, t.patch} {
		if written[i] == nil {
			return 0
		}
		if o := cmp.Compare(have, *written[i]); o != 0 {
			return o
		}
	}
	return 0
}
