package importer

import (
	"bytes"
	"os"
	"testing"

	"github.com/flakeresolve/flakeresolve/index"
)

// The real-flake snapshot lives in the shared data beside the repository.
const snapshotPath = "../../../shared/data/real-flakes.json"

func importReal(t *testing.T) (*index.Index, *Report, []byte) {
	t.Helper()
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
	ix, rep, _ := importReal(t)
	if rep.Flakes != 47 || rep.NixpkgsPins < 300 || rep.DroppedNoNarHash != 51 {
		t.Errorf("report = %+v; want 47 flakes (46 + nixpkgs), 300+ nixpkgs pins, 51 tags without narHash", *rep)
	}
	for _, tc := range []struct{ flake, version, input, want string }{
		// A branch of nixpkgs gives its release line.
		{"hyprutils", "0.8.4", "nixpkgs", "^0.1"},
		// A dependency's own lock pins a tagged version: caret on it.
		{"aquamarine", "0.14.0", "hyprutils", "^0.11.0"},
		// Release-line flakes: nixvim's 24.05 branch requires nixpkgs 24.05.
		{"nixvim", "0.2405.1736598783", "nixpkgs", "^0.2405"},
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
			if in := v.Inputs[tc.input]; in == nil || in.Version != tc.want {
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
	committed, err := os.ReadFile("../../index/defaultindex/default.binpb")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(bin, committed) {
		t.Errorf("index/defaultindex/default.binpb is stale (%d bytes, fresh import %d): run make default-index", len(committed), len(bin))
	}
}
