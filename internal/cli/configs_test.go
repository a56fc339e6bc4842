package cli

import (
	"bytes"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/nixtest"
)

// TestConfigsKeptByNix locks the realistic configurations of
// testdata/script/configs.txtar (real flakes from the embedded index) and
// has Nix 2.8 and Nix 2.26 judge each lock offline, in an empty store:
// nix flake metadata --no-update-lock-file accepts it and nix flake lock
// leaves it byte for byte. Neither fetches anything to do so, which is only
// possible when every node's original is what that Nix reads from the
// flake.nix declaring it and every follows is where it would put it.
func TestConfigsKeptByNix(t *testing.T) {
	judges := nixtest.Judges(t)
	ar, err := txtar.ParseFile("testdata/script/configs.txtar")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]bool{}
	work := t.TempDir()
	for _, f := range ar.Files {
		dir, _, _ := strings.Cut(f.Name, "/")
		dirs[dir] = true
		writeFile(t, filepath.Join(work, f.Name), string(f.Data))
	}
	for _, dir := range slices.Sorted(maps.Keys(dirs)) {
		t.Run(dir, func(t *testing.T) {
			root := filepath.Join(work, dir)
			mustRun(t, 0, "lock", root)
			ours, err := os.ReadFile(filepath.Join(root, "flake.lock"))
			if err != nil {
				t.Fatal(err)
			}
			root0, err := lockfile.Parse("flake.lock", ours)
			if err != nil {
				t.Fatal(err)
			}
			for _, j := range judges {
				store := nixtest.Store(t)
				_, stderr, err := j.Offline(t, store, "", "flake", "metadata", "--no-update-lock-file", "path:"+root)
				if beyond := lockfile.Unfetched(root0, flakeref.MinNix); j.Name == "2.8" && len(beyond) > 0 {
					// nix-installer's own lock pins file downloads, a type
					// Nix 2.8 cannot read; lock warns that the lock needs
					// a newer Nix.
					if err == nil || !strings.Contains(stderr, "unsupported input") {
						t.Errorf("Nix 2.8 on a lock with %v: %v\n%s", beyond, err, stderr)
					}
					continue
				}
				if err != nil {
					t.Errorf("Nix %s: metadata --no-update-lock-file rejects the lock: %v\n%s", j.Version, err, stderr)
				}
				if _, stderr, err := j.Offline(t, store, "", "flake", "lock", "path:"+root); err != nil {
					t.Errorf("Nix %s: flake lock: %v\n%s", j.Version, err, stderr)
				}
				if after, _ := os.ReadFile(filepath.Join(root, "flake.lock")); !bytes.Equal(after, ours) {
					t.Errorf("Nix %s rewrote the lock:\n%s", j.Version, after)
					writeFile(t, filepath.Join(root, "flake.lock"), string(ours))
				}
			}
		})
	}
}
