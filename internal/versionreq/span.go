package versionreq

import (
	"math"
	"sort"

	"github.com/Masterminds/semver/v3"
)

// Span is an interval of the SemVer precedence order. A nil bound is
// unbounded on that side.
type Span struct {
	Lo, Hi         *semver.Version
	LoIncl, HiIncl bool
}

// Empty reports whether no version lies in the span.
func (s Span) Empty() bool {
	if s.Lo == nil || s.Hi == nil {
		return false
	}
	c := s.Lo.Compare(s.Hi)
	return c > 0 || (c == 0 && !(s.LoIncl && s.HiIncl))
}

// Contains reports whether v lies in the span.
func (s Span) Contains(v *semver.Version) bool {
	if s.Lo != nil {
		c := v.Compare(s.Lo)
		if c < 0 || (c == 0 && !s.LoIncl) {
			return false
		}
	}
	if s.Hi != nil {
		c := v.Compare(s.Hi)
		if c > 0 || (c == 0 && !s.HiIncl) {
			return false
		}
	}
	return true
}

// Search finds the versions of an ascending sequence of n versions that lie
// in the span: they are at indexes [i, j). at(k) returns the k-th version.
func (s Span) Search(n int, at func(k int) *semver.Version) (i, j int) {
	if s.Empty() {
		return 0, 0
	}
	if s.Lo != nil {
		i = sort.Search(n, func(k int) bool {
			c := at(k).Compare(s.Lo)
			return c > 0 || (c == 0 && s.LoIncl)
		})
	}
	j = n
	if s.Hi != nil {
		j = sort.Search(n, func(k int) bool {
			c := at(k).Compare(s.Hi)
			return c > 0 || (c == 0 && !s.HiIncl)
		})
	}
	if j < i {
		j = i
	}
	return i, j
}

// intersect narrows s to the part that also lies in o.
func (s Span) intersect(o Span) Span {
	if o.Lo != nil {
		if s.Lo == nil {
			s.Lo, s.LoIncl = o.Lo, o.LoIncl
		} else if c := o.Lo.Compare(s.Lo); c > 0 {
			s.Lo, s.LoIncl = o.Lo, o.LoIncl
		} else if c == 0 {
			s.LoIncl = s.LoIncl && o.LoIncl
		}
	}
	if o.Hi != nil {
		if s.Hi == nil {
			s.Hi, s.HiIncl = o.Hi, o.HiIncl
		} else if c := o.Hi.Compare(s.Hi); c < 0 {
			s.Hi, s.HiIncl = o.Hi, o.HiIncl
		} else if c == 0 {
			s.HiIncl = s.HiIncl && o.HiIncl
		}
	}
	return s
}

// triple is MAJOR.MINOR.PATCH.
type triple struct{ major, minor, patch uint64 }

func (t triple) version(pre string) *semver.Version {
	return semver.New(t.major, t.minor, t.patch, pre, "")
}

// Successors in the order of release triples, saturating: a nil result means
// there is no greater triple, so the bound is open.
func bumpMajor(t triple) *triple {
	if t.major == math.MaxUint64 {
		return nil
	}
	return &triple{t.major + 1, 0, 0}
}

func bumpMinor(t triple) *triple {
	if t.minor == math.MaxUint64 {
		return bumpMajor(t)
	}
	return &triple{t.major, t.minor + 1, 0}
}

func bumpPatch(t triple) *triple {
	if t.patch == math.MaxUint64 {
		return bumpMinor(t)
	}
	return &triple{t.major, t.minor, t.patch + 1}
}

// releaseSpan is the half-open span [lo, hi) of releases; nil is unbounded.
func releaseSpan(lo, hi *triple) Span {
	s := Span{LoIncl: true}
	if lo != nil {
		s.Lo = lo.version("")
	}
	if hi != nil {
		s.Hi = hi.version("")
	}
	return s
}

// empty is a span that holds nothing.
var empty = Span{Lo: semver.New(1, 0, 0, "", ""), Hi: semver.New(0, 0, 0, "", "")}
