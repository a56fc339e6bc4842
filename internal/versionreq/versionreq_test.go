package versionreq

import (
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"
)

func mustVersion(t *testing.T, s string) *semver.Version {
	t.Helper()
	v, err := semver.StrictNewVersion(s)
	if err != nil {
		t.Fatalf("bad test version %q: %v", s, err)
	}
	return v
}

// The cases of the product brief §3 and of the semver crate's own tests.
var matchCases = []struct {
	req       string
	canonical string
	match     []string
	noMatch   []string
}{
	{"1.0.0", "^1.0.0", []string{"1.0.0", "1.1.0", "1.0.1"}, []string{"0.9.9", "0.10.0", "0.1.0", "1.0.0-pre", "1.0.1-pre"}},
	{"=1.0.0", "=1.0.0", []string{"1.0.0"}, []string{"1.0.1", "0.9.9", "0.10.0", "0.1.0", "1.0.0-pre"}},
	{"=0.0.2", "=0.0.2", []string{"0.0.2"}, []string{"0.0.1", "0.0.3", "0.0.2-pre"}},
	{"=0.1.0-beta2.a", "=0.1.0-beta2.a", []string{"0.1.0-beta2.a"}, []string{"0.9.1", "0.1.0", "0.1.1-beta2.a", "0.1.0-beta2"}},
	{"=0.1.0+meta", "=0.1.0", []string{"0.1.0", "0.1.0+meta", "0.1.0+any"}, nil},
	{">= 1.0.0", ">=1.0.0", []string{"1.0.0", "2.0.0"}, []string{"0.1.0", "0.0.1", "1.0.0-pre", "2.0.0-pre"}},
	{">= 2.1.0-alpha2", ">=2.1.0-alpha2", []string{"2.1.0-alpha2", "2.1.0-alpha3", "2.1.0", "3.0.0"}, []string{"2.0.0", "2.1.0-alpha1", "2.0.0-alpha2", "3.0.0-alpha2"}},
	{"< 1.0.0", "<1.0.0", []string{"0.1.0", "0.0.1"}, []string{"1.0.0", "1.0.0-beta", "1.0.1", "0.9.9-alpha"}},
	{"<= 2.1.0-alpha2", "<=2.1.0-alpha2", []string{"2.1.0-alpha2", "2.1.0-alpha1", "2.0.0", "1.0.0"}, []string{"2.1.0", "2.2.0-alpha1", "2.0.0-alpha2", "1.0.0-alpha2"}},
	{">1.0.0-alpha, <1.0.0", ">1.0.0-alpha, <1.0.0", []string{"1.0.0-beta"}, nil},
	{">1.0.0-alpha, <1.0", ">1.0.0-alpha, <1.0", nil, []string{"1.0.0-beta"}},
	{">1.0.0-alpha, <1", ">1.0.0-alpha, <1", nil, []string{"1.0.0-beta"}},
	{"> 0.0.9, <= 2.5.3", ">0.0.9, <=2.5.3", []string{"0.0.10", "1.0.0", "2.5.3"}, []string{"0.0.8", "2.5.4"}},
	{"0.3.0, 0.4.0", "^0.3.0, ^0.4.0", nil, []string{"0.0.8", "0.3.0", "0.4.0"}},
	{"<= 0.2.0, >= 0.5.0", "<=0.2.0, >=0.5.0", nil, []string{"0.0.8", "0.3.0", "0.5.1"}},
	{"0.1.0, 0.1.4, 0.1.6", "^0.1.0, ^0.1.4, ^0.1.6", []string{"0.1.6", "0.1.9"}, []string{"0.1.0", "0.1.4", "0.2.0"}},
	{">=0.5.1-alpha3, <0.6", ">=0.5.1-alpha3, <0.6", []string{"0.5.1-alpha3", "0.5.1-alpha4", "0.5.1-beta", "0.5.1", "0.5.5"}, []string{"0.5.1-alpha1", "0.5.2-alpha3", "0.5.5-pre", "0.5.0-pre", "0.6.0", "0.6.0-pre"}},
	{"~1", "~1", []string{"1.0.0", "1.0.1", "1.1.1"}, []string{"0.9.1", "2.9.0", "0.0.9"}},
	{"~1.2", "~1.2", []string{"1.2.0", "1.2.1"}, []string{"1.1.1", "1.3.0", "0.0.9"}},
	{"~1.2.2", "~1.2.2", []string{"1.2.2", "1.2.4"}, []string{"1.2.1", "1.9.0", "1.0.9", "2.0.1", "0.1.3"}},
	{"~1.2.3", "~1.2.3", []string{"1.2.3", "1.2.99"}, []string{"1.3.0", "1.2.2"}},
	{"~1.2.3-beta.2", "~1.2.3-beta.2", []string{"1.2.3", "1.2.4", "1.2.3-beta.2", "1.2.3-beta.4"}, []string{"1.3.3", "1.1.4", "1.2.3-beta.1", "1.2.4-beta.2"}},
	{"~0.0.0", "~0.0.0", []string{"0.0.0", "0.0.9"}, []string{"0.1.0", "1.0.0"}},
	{"^1", "^1", []string{"1.1.2", "1.1.0", "1.2.1", "1.0.1"}, []string{"0.9.1", "2.9.0", "0.1.4", "1.0.0-beta1", "0.1.0-alpha", "1.0.1-pre"}},
	{"^1.1", "^1.1", []string{"1.1.2", "1.1.0", "1.2.1"}, []string{"0.9.1", "2.9.0", "1.0.1", "0.1.4"}},
	{"^1.2", "^1.2", []string{"1.2.0", "1.9.9"}, []string{"1.1.9", "2.0.0"}},
	{"^1.1.2", "^1.1.2", []string{"1.1.2", "1.1.4", "1.2.1"}, []string{"0.9.1", "2.9.0", "1.1.1", "0.0.1", "1.1.2-alpha1", "1.1.3-alpha1", "2.9.0-alpha1"}},
	{"^1.2.3", "^1.2.3", []string{"1.2.3", "1.9.0"}, []string{"2.0.0", "1.2.2"}},
	{"^0.1.2", "^0.1.2", []string{"0.1.2", "0.1.4"}, []string{"0.9.1", "2.9.0", "1.1.1", "0.0.1", "0.1.2-beta", "0.1.3-alpha", "0.2.0-pre"}},
	{"^0.2.3", "^0.2.3", []string{"0.2.3", "0.2.9"}, []string{"0.3.0", "0.2.2"}},
	{"^0.5.1-alpha3", "^0.5.1-alpha3", []string{"0.5.1-alpha3", "0.5.1-alpha4", "0.5.1-beta", "0.5.1", "0.5.5"}, []string{"0.5.1-alpha1", "0.5.2-alpha3", "0.5.5-pre", "0.5.0-pre", "0.6.0"}},
	{"^0.0.2", "^0.0.2", []string{"0.0.2"}, []string{"0.9.1", "2.9.0", "1.1.1", "0.0.1", "0.1.4"}},
	{"^0.0.3", "^0.0.3", []string{"0.0.3"}, []string{"0.0.4", "0.0.2"}},
	{"^0.0", "^0.0", []string{"0.0.2", "0.0.0"}, []string{"0.9.1", "2.9.0", "1.1.1", "0.1.4"}},
	{"^0", "^0", []string{"0.9.1", "0.0.2", "0.0.0"}, []string{"2.9.0", "1.1.1"}},
	{"^1.4.2-beta.5", "^1.4.2-beta.5", []string{"1.4.2", "1.4.3", "1.4.2-beta.5", "1.4.2-beta.6", "1.4.2-c"}, []string{"0.9.9", "2.0.0", "1.4.2-alpha", "1.4.2-beta.4", "1.4.3-beta.5"}},
	{"*", "*", []string{"0.9.1", "2.9.0", "0.0.9", "1.0.1", "1.1.1"}, []string{"1.0.0-pre"}},
	{"x", "*", []string{"0.0.0"}, []string{"0.0.0-0"}},
	{"X", "*", []string{"99.0.0"}, nil},
	{"1.*", "1.*", []string{"1.2.0", "1.2.1", "1.1.1", "1.3.0"}, []string{"0.0.9", "1.2.0-pre"}},
	{"1.x", "1.*", []string{"1.0.0"}, []string{"2.0.0"}},
	{"1.*.*", "1.*", []string{"1.0.0"}, []string{"2.0.0"}},
	{"1.2.*", "1.2.*", []string{"1.2.0", "1.2.2", "1.2.4"}, []string{"1.9.0", "1.0.9", "2.0.1", "0.1.3", "1.2.2-pre"}},
	{"1.2.X", "1.2.*", []string{"1.2.0"}, []string{"1.3.0"}},
	{"0.*.*", "0.*", []string{"0.5.0"}, []string{"1.0.0"}},
	{"0.0.*", "0.0.*", []string{"0.0.7"}, []string{"0.1.0"}},
	{"=2.1.1-really.0", "=2.1.1-really.0", []string{"2.1.1-really.0"}, nil},
	{">1.2", ">1.2", []string{"1.3.0", "2.0.0"}, []string{"1.2.9", "1.2.0"}},
	{"<=1.2", "<=1.2", []string{"1.2.9", "0.1.0"}, []string{"1.3.0"}},
	{">=1.2.3-alpha", ">=1.2.3-alpha", []string{"1.2.3-rc.1", "1.2.3", "1.2.4"}, []string{"1.2.4-alpha", "1.2.3-0"}},
	{"<2.0.0", "<2.0.0", []string{"1.9.9"}, []string{"2.0.0-beta", "2.0.0"}},
	// A comparator with a prerelease admits prereleases of its own triple only,
	// and a partial >= does not match a prerelease even when it is admitted.
	{">=1.2, >=1.2.5-alpha", ">=1.2, >=1.2.5-alpha", []string{"1.2.5", "1.3.0"}, []string{"1.2.5-alpha", "1.2.5-beta"}},
	{"^1.2, >=1.2.5-alpha", "^1.2, >=1.2.5-alpha", []string{"1.2.5-alpha", "1.2.5-beta", "1.2.5"}, []string{"1.2.6-alpha"}},
	{"=1.2, >=1.2.5-alpha", "=1.2, >=1.2.5-alpha", []string{"1.2.5"}, []string{"1.2.5-alpha"}},
	{"<=1.2, >=1.2.5-alpha", "<=1.2, >=1.2.5-alpha", []string{"1.2.9"}, []string{"1.2.5-alpha"}},
	{"~1.2.0, >=1.2.5-alpha", "~1.2.0, >=1.2.5-alpha", []string{"1.2.5-alpha"}, []string{"1.3.0"}},
	{"~1.2, >=1.2.5-alpha", "~1.2, >=1.2.5-alpha", []string{"1.2.5"}, []string{"1.2.5-alpha"}},
	{"<1.2.5, >=1.2.5-alpha", "<1.2.5, >=1.2.5-alpha", []string{"1.2.5-alpha", "1.2.5-zzz"}, []string{"1.2.5", "1.2.4"}},
	{" ^1.2 ,  <1.5 ", "^1.2, <1.5", []string{"1.4.9"}, []string{"1.5.0"}},
	{"18446744073709551615.18446744073709551615.18446744073709551615", "^18446744073709551615.18446744073709551615.18446744073709551615",
		[]string{"18446744073709551615.18446744073709551615.18446744073709551615"}, []string{"18446744073709551614.0.0"}},
	{">18446744073709551615", ">18446744073709551615", nil, []string{"18446744073709551615.0.0"}},
}

func TestMatches(t *testing.T) {
	for _, tc := range matchCases {
		r, err := Parse(tc.req)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.req, err)
			continue
		}
		if got := r.String(); got != tc.canonical {
			t.Errorf("Parse(%q).String() = %q, want %q", tc.req, got, tc.canonical)
		}
		for _, s := range tc.match {
			if !r.Matches(mustVersion(t, s)) {
				t.Errorf("%q should match %s", tc.req, s)
			}
		}
		for _, s := range tc.noMatch {
			if r.Matches(mustVersion(t, s)) {
				t.Errorf("%q should not match %s", tc.req, s)
			}
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct {
		req    string
		column int
		reason string
	}{
		{"", 1, "unexpected end of input while parsing major version number"},
		{"> 0.1.0,", 9, "unexpected end of input while parsing major version number"},
		{"> 0.3.0, ,", 10, "unexpected character ',' while parsing major version number"},
		{"1.2.3 - 2.3.4", 7, "expected comma after patch version number, found '-' (Cargo requirements have no hyphen ranges"},
		{"> 0.0.9 <= 2.5.3", 9, "expected comma after patch version number, found '<'"},
		{"=1.2.3 || =2.3.4", 8, `expected comma after patch version number, found '|' (Cargo requirements have no "||"`},
		{"1.1 || =1.2.3", 5, "expected comma after minor version number, found '|'"},
		{"1.2 3.4", 5, "expected comma after minor version number, found '3'"},
		{"\x00", 1, `unexpected character '\x00' while parsing major version number`},
		{">= >= 0.0.2", 4, "unexpected character '>' while parsing major version number"},
		{">== 0.0.2", 3, "unexpected character '=' while parsing major version number"},
		{"a.0.0", 1, "unexpected character 'a' while parsing major version number"},
		{"v1.2.3", 1, `unexpected character 'v' while parsing major version number (versions take no "v" prefix)`},
		{"~>1.2", 2, "unexpected character '>' while parsing major version number"},
		{"!=1.2", 1, "unexpected character '!' while parsing major version number"},
		{"1.0.0-", 7, "empty identifier segment in pre-release identifier"},
		{">=", 3, "unexpected end of input while parsing major version number"},
		{"1.2.3-01", 7, "invalid leading zero in pre-release identifier"},
		{"01.2.3", 1, "invalid leading zero in major version number"},
		{"1.02", 3, "invalid leading zero in minor version number"},
		{"1.2.3+4.", 9, "empty identifier segment in build metadata"},
		{"1.", 3, "unexpected end of input while parsing minor version number"},
		{"1.*.", 5, "unexpected character after wildcard in version req"},
		{"*.1", 2, "unexpected character after wildcard in version req"},
		{"1.*.1", 5, "unexpected character after wildcard in version req"},
		{">=1.*.1", 7, "unexpected character after wildcard in version req"},
		{"*, 0.20.0-any", 2, "wildcard req (*) must be the only comparator in the version req"},
		{"0.20.0-any, *", 13, "wildcard req (*) must be the only comparator in the version req"},
		{"^1.2+build", 5, "expected comma after minor version number, found '+'"},
		{"1.2.3\t", 6, `expected comma after patch version number, found '\t'`},
		{"18446744073709551616", 1, "value of major version number exceeds u64::MAX"},
		{strings.Repeat(">1, ", 32) + ">1", 129, "excessive number of version comparators (at most 32)"},
	} {
		_, err := Parse(tc.req)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", tc.req)
			continue
		}
		e := err.(*Error)
		if e.Offset+1 != tc.column || !strings.HasPrefix(e.Reason, tc.reason) {
			t.Errorf("Parse(%q) = column %d %q\nwant column %d %q", tc.req, e.Offset+1, e.Reason, tc.column, tc.reason)
		}
	}
	// 32 comparators are allowed.
	if _, err := Parse(strings.Repeat(">1, ", 31) + ">1"); err != nil {
		t.Errorf("32 comparators: %v", err)
	}
}

func TestSelectAgreesWithMatches(t *testing.T) {
	var releases, pres, all []*semver.Version
	for _, s := range []string{"0.0.0", "0.1.0-rc.1", "0.1.0", "0.1.1", "0.2.0", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-beta", "1.0.0", "1.2.3-rc.1", "1.2.3", "1.2.5-alpha", "1.2.5-zzz", "1.2.5", "1.5.0", "2.0.0-0", "2.0.0"} {
		v := mustVersion(t, s)
		all = append(all, v)
		if v.Prerelease() == "" {
			releases = append(releases, v)
		} else {
			pres = append(pres, v)
		}
	}
	id := func(v *semver.Version) *semver.Version { return v }
	for _, tc := range matchCases {
		r := MustParse(tc.req)
		var want []string
		for _, v := range all {
			if r.Matches(v) {
				want = append(want, v.String())
			}
		}
		var got []string
		for _, v := range Select(r, releases, pres, id) {
			got = append(got, v.String())
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%q: Select = %v, Matches = %v", tc.req, got, want)
		}
	}
}

func TestWithoutPatch(t *testing.T) {
	for in, want := range map[string]string{
		"^0.2305.490449":   "^0.2305",
		"=0.1.793735":      "=0.1",
		">0.1.5":           ">=0.1",
		"<0.2305.5":        "<=0.2305",
		">=0.1.2, <0.1.90": ">=0.1, <=0.1",
		"~1.2.3-rc.1":      "~1.2",
		"0.1.*":            "0.1.*",
		"^0.2305":          "^0.2305",
		"*":                "*",
	} {
		if got := MustParse(in).WithoutPatch().String(); got != want {
			t.Errorf("%s without patch = %s, want %s", in, got, want)
		}
	}
	// Widened, never narrowed: every version the requirement admits, the
	// widened one admits too.
	for _, req := range []string{"^0.2305.490449", ">0.1.5", "<0.2305.5", "=0.1.793735", "~1.2.3"} {
		r, w := MustParse(req), MustParse(req).WithoutPatch()
		for _, v := range []string{"0.1.5", "0.1.6", "0.1.793735", "0.2305.1", "0.2305.490449", "0.2305.490450", "1.2.3", "1.2.9"} {
			sv := semver.MustParse(v)
			if r.Matches(sv) && !w.Matches(sv) {
				t.Errorf("%s admits %s, %s does not", req, v, w)
			}
		}
	}
}
