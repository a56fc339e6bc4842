package versionreq

import (
	"slices"
	"testing"

	"github.com/Masterminds/semver/v3"
)

// FuzzParse: Parse never panics, and the canonical form of anything it
// accepts parses back to the same requirement, with the same spans.
func FuzzParse(f *testing.F) {
	for _, tc := range matchCases {
		f.Add(tc.req)
	}
	for _, s := range []string{"", "*", "1.2.3 - 2", ">=1.2.3-alpha.1+b, <2", "^0.0", "~0.0.0", "18446744073709551615.0.0", "1.*.*", "=2.*"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("Parse(%q) returned %T, want *Error", s, err)
			}
			return
		}
		canon := r.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if again.String() != canon {
			t.Fatalf("canonical form is not a fixed point: %q -> %q -> %q", s, canon, again.String())
		}
		if !sameSpans(r, again) {
			t.Fatalf("%q and its canonical form %q compile differently", s, canon)
		}
	})
}

func sameSpans(a, b *Req) bool {
	eqV := func(x, y *semver.Version) bool {
		if x == nil || y == nil {
			return x == y
		}
		return x.Equal(y) && x.Prerelease() == y.Prerelease()
	}
	eq := func(x, y Span) bool {
		return eqV(x.Lo, y.Lo) && eqV(x.Hi, y.Hi) && x.LoIncl == y.LoIncl && x.HiIncl == y.HiIncl
	}
	return eq(a.Releases(), b.Releases()) && slices.EqualFunc(a.Prereleases(), b.Prereleases(), eq)
}
