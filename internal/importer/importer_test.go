package importer

import (
	"bytes"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// The real-flake snapshot lives in the shared data beside the repository;
// FLAKERESOLVE_SNAPSHOT names it when the checkout lives elsewhere.
func snapshotPath() string {
	if p := os.Getenv("FLAKERESOLVE_SNAPSHOT"); p != "" {
		return p
	}
	return "../../../shared/data/real-flakes.json"
}

func importReal(t *testing.T) (*index.Index, *Report, []byte) {
	t.Helper()
	snapshotPath := snapshotPath()
	if _, err := os.Stat(snapshotPath); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the real-flake snapshot is missing in CI: %v", err)
		}
		t.Skip("real-flake snapshot not present beside the repository (CI has it and fails without it)")
	}
	m, rep, err := Import(snapshotPath)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := index.MarshalBinary(m)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Parse("imported", bin)
	if err != nil {
		t.Fatalf("the imported index does not validate: %v", err)
	}
	return ix, rep, bin
}

func TestImportRealFlakes(t *testing.T) {
	ix, rep, bin := importReal(t)
	if rep.Flakes != 47 || rep.NixpkgsPins < 300 || rep.DroppedNoNarHash != 51 {
		t.Errorf("report = %+v; want 47 flakes (46 + nixpkgs), 300+ nixpkgs pins, 51 tags without narHash", *rep)
	}
	// Every version and ref whose tree has a flake.lock carries it.
	m, err := index.Decode("imported", bin)
	if err != nil {
		t.Fatal(err)
	}
	locks := 0
	for _, f := range m.Flakes {
		for _, v := range f.Versions {
			if v.LockFile == nil {
				continue
			}
			locks++
			// Loading validated it, so the resolver's graph builds.
			if _, err := lockfile.FromProto(v.LockFile); err != nil {
				t.Errorf("%s %s: the lock file does not build: %v", f.Name, v.Version, err)
			}
		}
	}
	if locks < 700 || rep.LockFiles < locks {
		t.Errorf("%d versions carry a lock file (%d lock files recorded with refs); the snapshot has 761 tagged trees with one", locks, rep.LockFiles)
	}
	for _, tc := range []struct{ flake, version, input, want string }{
		// A branch of nixpkgs gives its release line.
		{"hyprutils", "0.8.4", "nixpkgs", "^0.1"},
		// A dependency's own lock pins a tagged version: caret on it.
		{"aquamarine", "0.14.0", "hyprutils", "^0.11.0"},
		// Release-line flakes: nixvim's 24.05 branch requires nixpkgs 24.05.
		{"nixvim", "0.2405.1599", "nixpkgs", "^0.2405"},
	} {
		f := ix.Flake(tc.flake)
		if f == nil {
			t.Errorf("no flake %s", tc.flake)
			continue
		}
		var found bool
		for _, v := range f.Versions {
			if v.String() != tc.version {
				continue
			}
			found = true
			if in := v.Inputs()[tc.input]; in == nil || in.Version != tc.want {
				t.Errorf("%s %s input %s = %v, want requirement %q", tc.flake, tc.version, tc.input, in, tc.want)
			}
		}
		if !found {
			var all []string
			for _, v := range f.Versions {
				all = append(all, v.String())
			}
			t.Errorf("%s has no version %s (has %v)", tc.flake, tc.version, all)
		}
	}
}

// TestDefaultIndexIsCurrent: the committed embedded index is exactly what
// `make default-index` produces from the snapshot.
func TestDefaultIndexIsCurrent(t *testing.T) {
	_, _, bin := importReal(t)
	m, err := index.Decode("imported", bin)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := index.MarshalSnapshot("imported", m)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("../../index/defaultindex/default.snap")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Errorf("index/defaultindex/default.snap is stale (%d bytes, fresh import %d): run make default-index", len(committed), len(fresh))
	}
}

// excerpt imports testdata/excerpt.json, real entries of the snapshot:
// hyprutils (tagged), nixvim and flake-parts (untagged), and the nixpkgs
// pins their locks hold.
func excerpt(t *testing.T) (*pb.Index, *index.Index, map[string]any) {
	t.Helper()
	m, _, err := Import("testdata/excerpt.json")
	if err != nil {
		t.Fatal(err)
	}
	bin, err := index.MarshalBinary(m)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Parse("excerpt", bin)
	if err != nil {
		t.Fatalf("the imported excerpt does not validate: %v", err)
	}
	data, err := os.ReadFile("testdata/excerpt.json")
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	return m, ix, raw
}

func flakeOf(m *pb.Index, name string) *pb.Flake {
	for _, f := range m.Flakes {
		if f.Name == name {
			return f
		}
	}
	return nil
}

func versionNames(f *pb.Flake) []string {
	var out []string
	for _, v := range f.Versions {
		out = append(out, v.Version)
	}
	return out
}

// TestExcerptLockFiles: every version and ref carries its committed
// flake.lock, exactly.
func TestExcerptLockFiles(t *testing.T) {
	m, _, raw := excerpt(t)
	n := 0
	for _, sf := range raw["flakes"].([]any) {
		sf := sf.(map[string]any)
		f := flakeOf(m, strings.ToLower(sf["repo"].(string)))
		trees := map[string]any{}
		for _, v := range sf["versions"].([]any) {
			trees["version "+v.(map[string]any)["version"].(string)] = v
		}
		for b, tr := range sf["branches"].(map[string]any) {
			trees["ref "+b] = tr
		}
		for what, tr := range trees {
			var got *pb.LockFile
			if name, ok := strings.CutPrefix(what, "ref "); ok {
				got = f.Refs[name].GetLockFile()
			} else {
				for _, v := range f.Versions {
					if "version "+v.Version == what {
						got = v.LockFile
					}
				}
			}
			committed, _ := json.Marshal(tr.(map[string]any)["lockFile"])
			want, err := lockfile.Record("lockFile", committed)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil || !proto.Equal(got, want) {
				t.Errorf("%s %s: lock file %v, want the committed one", f.Name, what, got)
			}
			n++
		}
	}
	if n != 6 {
		t.Errorf("checked %d lock files, the excerpt has 6", n)
	}
	// One node read directly from the snapshot's JSON, not through the
	// converter: hyprutils 0.14.0's nixpkgs pin.
	var lf *pb.LockFile
	for _, v := range flakeOf(m, "hyprutils").Versions {
		if v.Version == "0.14.0" {
			lf = v.LockFile
		}
	}
	var locked map[string]any
	for _, sf := range raw["flakes"].([]any) {
		if sf := sf.(map[string]any); sf["repo"] == "hyprutils" {
			for _, v := range sf["versions"].([]any) {
				if v := v.(map[string]any); v["tag"] == "v0.14.0" {
					locked = v["lockFile"].(map[string]any)["nodes"].(map[string]any)["nixpkgs"].(map[string]any)["locked"].(map[string]any)
				}
			}
		}
	}
	if l := lf.GetNodes()["nixpkgs"].GetLocked(); l.GetNarHash() != locked["narHash"] || l.GetRev() != locked["rev"] ||
		float64(l.GetLastModified()) != locked["lastModified"] || lf.GetVersion() != 7 || lf.GetRoot() != "root" {
		t.Errorf("hyprutils 0.14.0 lock: nixpkgs locked %v, version %d, root %q; committed %v", l, lf.GetVersion(), lf.GetRoot(), locked)
	}
}

// TestExcerptNumbering: untagged flakes are numbered by commit count, as
// FlakeHub numbers them; nixpkgs pins, whose commit count is unknown, by
// commit time; and each flake says which.
func TestExcerptNumbering(t *testing.T) {
	m, ix, _ := excerpt(t)
	for _, tc := range []struct {
		flake     string
		numbering pb.Numbering
		versions  []string
	}{
		{"hyprutils", pb.Numbering_NUMBERING_TAGS, []string{"0.13.1", "0.14.0"}},
		// nixvim main has 4726 commits, nixos-24.05 1599.
		{"nixvim", pb.Numbering_NUMBERING_COMMIT_COUNT, []string{"0.1.4726", "0.2405.1599"}},
		{"flake-parts", pb.Numbering_NUMBERING_COMMIT_COUNT, []string{"0.1.483"}},
	} {
		f := flakeOf(m, tc.flake)
		got := versionNames(f)
		slices.Sort(got)
		if f.Numbering != tc.numbering || !slices.Equal(got, tc.versions) {
			t.Errorf("%s: numbering %v, versions %v; want %v, %v", tc.flake, f.Numbering, got, tc.numbering, tc.versions)
		}
	}
	// nixvim's nixos-24.05 head pins nixpkgs b134951a from nixos-24.05,
	// committed at 1735563628: version 0.2405.1735563628.
	np := flakeOf(m, "nixpkgs")
	if np.Numbering != pb.Numbering_NUMBERING_COMMIT_TIME {
		t.Errorf("nixpkgs numbering = %v, want commit time", np.Numbering)
	}
	var pin *pb.Version
	for _, v := range np.Versions {
		if strings.HasPrefix(v.Locked.Rev, "b134951a") {
			pin = v
		}
	}
	if pin == nil || pin.Version != "0.2405.1735563628" || pin.Locked.LastModified != 1735563628 {
		t.Errorf("nixpkgs pin b134951a = %v, want version 0.2405.1735563628", pin)
	}
	for _, tc := range []struct{ flake, version, input, want string }{
		// The pin of nixvim main's flake-parts is flake-parts' main head,
		// whose commit count is known.
		{"nixvim", "0.1.4726", "flake-parts", "^0.1.483"},
		// nixos-24.05 pins an older flake-parts, whose count is not: no
		// patch bound.
		{"nixvim", "0.2405.1599", "flake-parts", "^0.1"},
		{"nixvim", "0.2405.1599", "nixpkgs", "^0.2405"},
		{"nixvim", "0.1.4726", "nixpkgs", "^0.1"},
	} {
		var got string
		for _, v := range ix.Flake(tc.flake).Versions {
			if v.String() == tc.version && v.Inputs()[tc.input] != nil {
				got = v.Inputs()[tc.input].Version
			}
		}
		if got != tc.want {
			t.Errorf("%s %s input %s requires %q, want %q", tc.flake, tc.version, tc.input, got, tc.want)
		}
	}
}
