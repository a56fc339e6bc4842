package index

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func load(t *testing.T, path string) *Index {
	t.Helper()
	ix, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

func versions(vs []*Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.String())
	}
	return out
}

func TestLoadSortsAndSelects(t *testing.T) {
	ix := load(t, "testdata/small.json")
	f := ix.Flake("hyprutils")
	if f == nil {
		t.Fatal("hyprutils missing")
	}
	if diff := cmp.Diff([]string{"0.8.0", "0.8.1", "0.9.0-rc.1", "0.10.2"}, versions(f.Versions)); diff != "" {
		t.Errorf("versions not in precedence order (-want +got):\n%s", diff)
	}
	for req, want := range map[string][]string{
		"^0.8":          {"0.8.0", "0.8.1"},
		">=0.8, <0.10":  {"0.8.0", "0.8.1"},
		"0.8.1":         {"0.8.1"},
		"*":             {"0.8.0", "0.8.1", "0.10.2"},
		">=0.9.0-rc.1":  {"0.9.0-rc.1", "0.10.2"},
		"^0.9.0-rc.1":   {"0.9.0-rc.1"},
		"=0.8.0, ^0.10": nil,
	} {
		got := versions(f.Select(versionreq.MustParse(req)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Select(%q) (-want +got):\n%s", req, diff)
		}
	}
	// Refs and versions inherit the flake's source location.
	if r := f.Refs["main"].Locked; r.Type != "github" || r.Owner != "hyprwm" || r.Repo != "hyprutils" || r.Rev != "5555555555555555555555555555555555555555" {
		t.Errorf("ref main = %v, want the flake's github source filled in", r)
	}
	// Reordering what Flakes returns leaves the index sorted by name.
	fl := ix.Flakes()
	fl[0], fl[1] = fl[1], fl[0]
	if got := ix.Flakes(); got[0].Name != "hyprlang" || got[1].Name != "hyprutils" {
		t.Errorf("Flakes() = %s, %s after a caller reordered its copy", got[0].Name, got[1].Name)
	}
	if got := ix.Stats(); got != (Stats{Flakes: 2, Versions: 5, Inputs: 5, Refs: 1}) {
		t.Errorf("Stats = %+v", got)
	}
	if in := f.Versions[1].Inputs()["hyprlang"]; in.GetVersion() != "^0.6" {
		t.Errorf("input hyprlang = %v, want requirement ^0.6", in)
	}
}

// Versions and refs that leave out their location take all of it from the
// flake's source, whatever the source type.
func TestLockedInheritsLocation(t *testing.T) {
	ix, err := Parse("path-index", []byte(`{"schema": 1, "flakes": [
	  {"name": "local", "source": {"type": "path", "path": "/srv/flakes/local"},
	   "versions": [{"version": "1.0.0", "locked": {"narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU="}}],
	   "refs": {"HEAD": {"narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU="}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f := ix.Flake("local")
	for what, l := range map[string]*pb.FlakeRef{"version": f.Versions[0].Locked(), "ref": f.Refs["HEAD"].Locked} {
		if l.Type != "path" || l.Path != "/srv/flakes/local" || l.NarHash == "" {
			t.Errorf("%s locked = %v, want the path source with its narHash", what, l)
		}
	}
}

func TestValidationReportsEveryProblem(t *testing.T) {
	_, err := Load("testdata/invalid.json")
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("Load = %v, want *InvalidError", err)
	}
	var got []string
	for _, p := range inv.Problems {
		got = append(got, p.String())
	}
	want := []string{
		"field schema: found 2, this build reads schema 1",
		"flake hyprutils: field source.repo: missing, github sources need owner and repo",
		`flake hyprutils version v0.8.1: field version: "v0.8.1" is not strict SemVer 2.0.0 (MAJOR.MINOR.PATCH[-PRE][+BUILD], no "v", no leading zeros)`,
		`flake hyprutils version 0.8.0: field locked.rev: "ABC" is not a 40-digit lowercase hex commit`,
		"flake hyprutils version 0.8.0: field locked.narHash: missing, github sources need the SRI sha256 hash of their tree",
		`flake hyprutils version 0.8.0: field inputs.hyprlang.inputs.hyprutils.follows: "hyprutil" names no input of this flake (inputs: hyprlang, nixpkgs)`,
		`flake hyprutils version 0.8.0: field inputs.nixpkgs.version: invalid version requirement "^0.1 || ^0.2" at column 6: expected comma after minor version number, found '|' (Cargo requirements have no "||": write one range, for example ">=1.2, <3")`,
		"flake hyprutils version 0.8.0: field version: duplicate version",
		`flake hyprutils version 0.8.0: field locked.narHash: "sha256-short" is not an SRI sha256 hash (sha256- and 44 base64 characters)`,
		"flake hyprutils version 1.0.0+build.1: field locked.lastModified: missing, github sources need the commit time in Unix seconds",
		"flake hyprutils version 1.0.0+build.2: field version: equal to version 1.0.0+build.1 but for build metadata; one version per precedence is allowed",
		"flake hyprutils version 1.0.0+build.2: field locked: missing, expected the exact tree of this version (type, rev, narHash, ...)",
		`flake hyprutils: field defaultRef: "master" is not one of the flake's refs`,
		"flake hyprutils: field name: duplicate: flake #0 has the same name",
		`flake hyprutils: field source.type: "svn" is not a flake reference type Nix knows (github, gitlab, sourcehut, indirect, git, hg, tarball, file or path)`,
		"flake #2: field name: missing, expected the flake's short name",
		"flake #2: field source.url: missing, tarball sources need url",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(err.Error(), "testdata/invalid.json: invalid index, 17 problem(s):") {
		t.Errorf("error does not name the file and count: %s", strings.SplitN(err.Error(), "\n", 2)[0])
	}
}

func TestCorruptFiles(t *testing.T) {
	good, err := os.ReadFile("testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode("small", good)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := MarshalBinary(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"empty":          {nil, "empty file"},
		"truncated-json": {good[:len(good)/2], "not a valid JSON index"},
		"unknown-field":  {[]byte(`{"schema": 1, "flakez": []}`), `unknown field "flakez"`},
		"wrong-type":     {[]byte(`{"schema": "one"}`), "not a valid JSON index"},
		"truncated-bin":  {bin[:len(bin)-7], "nor a valid binary index"},
		"garbage":        {[]byte{0xff, 0xff, 0xff, 0x01}, "nor a valid binary index"},
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: Load = %v, want an error naming the file and containing %q", name, err, tc.want)
		}
	}
	// The binary form round-trips.
	ix, err := Parse("bin", bin)
	if err != nil {
		t.Fatal(err)
	}
	if ix.Stats().Versions != 5 {
		t.Errorf("binary round trip lost versions: %+v", ix.Stats())
	}
}

func TestLayersHideWholeFlakes(t *testing.T) {
	public := load(t, "testdata/small.json")
	private, err := Parse("private", []byte(`{"schema": 1, "flakes": [
	  {"name": "hyprutils", "source": {"type": "git", "url": "https://git.corp.example/hyprutils"},
	   "versions": [{"version": "9.0.0", "locked": {"type": "git", "url": "https://git.corp.example/hyprutils",
	     "rev": "7777777777777777777777777777777777777777", "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "lastModified": 1, "revCount": 1}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	l := NewLayers(private, public)
	f, err := l.Lookup("hyprutils")
	if err != nil {
		t.Fatal(err)
	}
	if f.Origin != "private" || len(f.Versions) != 1 {
		t.Errorf("hyprutils came from %s with %d versions; want the private flake alone", f.Origin, len(f.Versions))
	}
	// The hidden public flake is not reachable through its source either.
	if got := l.LookupSource(flakeref.AtLocation(public.Flake("hyprutils").Source)); got != nil {
		t.Errorf("LookupSource found the hidden public flake from %s", got.Origin)
	}
	// Other public flakes stay visible, by name and by source (any case).
	hl, err := l.Lookup("hyprlang")
	if err != nil || hl.Origin != "testdata/small.json" {
		t.Fatalf("hyprlang: %v %v", hl, err)
	}
	src := flakeref.AtLocation(hl.Source)
	src.Owner, src.Repo = "HyprWM", "HyprLang"
	if l.LookupSource(src) != hl {
		t.Error("LookupSource is not case-insensitive for GitHub")
	}
	var nf *NotFoundError
	if _, err := l.Lookup("hyprutil"); !errors.As(err, &nf) || nf.Suggestions[0] != "hyprutils" {
		t.Errorf("Lookup(hyprutil) = %v, want NotFound suggesting hyprutils", err)
	}
}
