package flakeref

import (
	"bufio"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/internal/nixtest"
)

var update = flag.Bool("update", false, "rewrite testdata/refs.txt with the installed Nix's answers")

// refCase is one line of testdata/refs.txt: a reference and Nix's reading
// of it, the attribute set as JSON or "error: ...".
type refCase struct{ ref, want string }

func readCases(t *testing.T) (header []string, cases []refCase) {
	f, err := os.Open("testdata/refs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#"):
			header = append(header, line)
		case strings.HasPrefix(line, "\t"):
			cases[len(cases)-1].want = strings.TrimPrefix(line, "\t")
		case line != "":
			cases = append(cases, refCase{ref: line})
		}
	}
	return header, cases
}

// ours renders Parse's answer the way `nix registry add` does.
func ours(ref string) string {
	s, err := Parse(ref)
	if err != nil {
		return "error: " + err.Error()
	}
	b, _ := json.Marshal(Attrs(s))
	return string(b)
}

// theirs asks the installed Nix to parse ref.
func theirs(t *testing.T, ref string) string {
	reg := filepath.Join(t.TempDir(), "registry.json")
	_, stderr, err := nixtest.Nix(t, "", "registry", "add", "--registry", reg, "x", ref)
	if err != nil {
		return strings.TrimSpace(stderr)
	}
	var r struct {
		Flakes []struct{ To map[string]any }
	}
	b, err := os.ReadFile(reg)
	if err != nil || json.Unmarshal(b, &r) != nil || len(r.Flakes) != 1 {
		t.Fatalf("nix registry add %q wrote no usable registry (%v)", ref, err)
	}
	out, _ := json.Marshal(r.Flakes[0].To)
	return string(out)
}

func TestParseMatchesRecorded(t *testing.T) {
	_, cases := readCases(t)
	for _, c := range cases {
		if got := ours(c.ref); got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.ref, got, c.want)
		}
	}
}

// TestParseMatchesNix proves the recorded answers are Nix's own.
func TestParseMatchesNix(t *testing.T) {
	nixtest.Need(t, "nix")
	header, cases := readCases(t)
	var out strings.Builder
	for _, l := range header {
		out.WriteString(l + "\n")
	}
	for _, c := range cases {
		nix := theirs(t, c.ref)
		if !*update && nix != c.want {
			t.Errorf("%s: recorded %s, but Nix says %s", c.ref, c.want, nix)
		}
		out.WriteString(c.ref + "\n\t" + nix + "\n")
	}
	if *update {
		if err := os.WriteFile("testdata/refs.txt", []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStringRoundTrips(t *testing.T) {
	_, cases := readCases(t)
	for _, c := range cases {
		s, err := Parse(c.ref)
		if err != nil || strings.Contains(c.want, "%ffffff") {
			// Nix re-encodes a byte above 0x7f as %ffffffXX, which its
			// own parser then reads as more bytes: such URLs do not
			// survive a round trip through Nix either.
			continue
		}
		back, err := Parse(String(s))
		if err != nil || !Equal(back, s) {
			t.Errorf("%s: String gives %q, which parses to %v (%v), not %v", c.ref, String(s), back, err, s)
		}
	}
}

func TestFromAttrsRoundTrips(t *testing.T) {
	_, cases := readCases(t)
	for _, c := range cases {
		s, err := Parse(c.ref)
		if err != nil {
			continue
		}
		var attrs map[string]any
		b, _ := json.Marshal(Attrs(s))
		if err := json.Unmarshal(b, &attrs); err != nil {
			t.Fatal(err)
		}
		back, err := FromAttrs(attrs)
		if err != nil || !Equal(back, s) {
			t.Errorf("%s: attribute form %s reads back as %v (%v)", c.ref, b, back, err)
		}
	}
}

func TestFromAttrsErrors(t *testing.T) {
	for _, tc := range []struct {
		attrs map[string]any
		want  string
	}{
		{map[string]any{"type": "tarball", "url": "https://e.org/x.tar.gz", "rev": "abc"}, "unsupported tarball input attribute 'rev'"},
		{map[string]any{"type": "github", "owner": "a"}, "attribute 'repo' missing"},
		{map[string]any{"type": "github", "owner": "a", "repo": "b", "foo": "c"}, "unsupported input attribute 'foo'"},
		{map[string]any{"type": "git", "url": "https://e.org/x", "submodules": "yes"}, "attribute 'submodules' is a string while a Boolean is expected"},
		{map[string]any{"type": "svn", "url": "x"}, "input type 'svn' is unsupported"},
		{map[string]any{"owner": "a"}, "attribute 'type' is missing"},
		{map[string]any{"type": "indirect", "id": "2x"}, "'2x' is not a valid flake ID"},
	} {
		_, err := FromAttrs(tc.attrs)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("FromAttrs(%v) = %v, want %q", tc.attrs, err, tc.want)
		}
	}
}

func TestFlakeHub(t *testing.T) {
	owner, repo, req, ok := FlakeHub("https://flakehub.com/f/NixOS/nixpkgs/0.2405.*.tar.gz")
	if !ok || owner != "NixOS" || repo != "nixpkgs" || req != "0.2405.*" {
		t.Errorf("FlakeHub = %q %q %q %v", owner, repo, req, ok)
	}
	if _, _, _, ok := FlakeHub("https://example.org/f/a/b/1.tar.gz"); ok {
		t.Error("a non-FlakeHub URL was taken for FlakeHub")
	}
}
