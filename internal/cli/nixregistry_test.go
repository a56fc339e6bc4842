package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/flakeresolve/flakeresolve/internal/nixtest"
)

// TestRegistryLockMatchesNix: an indirect input (flake:foo) that a
// registry maps to a git repository locks, with lock --registry, to the
// lock Nix 2.8 writes with the same registry (--flake-registry), byte for
// byte: original keeps the indirect reference, locked is the repository's
// head.
func TestRegistryLockMatchesNix(t *testing.T) {
	nixtest.Need(t, "nix")
	work := t.TempDir()
	makeRepos(t, work, txtar.Parse([]byte("-- foo@v1.0.0/flake.nix --\n{ outputs = _: { }; }\n-- foo@main/flake.nix --\n{ description = \"foo\"; outputs = _: { }; }\n")))
	reg := filepath.Join(work, "registry.json")
	writeFile(t, reg, `{"version": 2, "flakes": [{"from": {"type": "indirect", "id": "foo"}, "to": {"type": "git", "url": "file://`+filepath.Join(work, "foo")+`"}}]}`)
	flake := "{\n  inputs.foo.url = \"flake:foo\";\n  outputs = { self, foo }: { };\n}\n"
	nixDir, ourDir := filepath.Join(work, "nix"), filepath.Join(work, "ours")
	writeFile(t, filepath.Join(nixDir, "flake.nix"), flake)
	writeFile(t, filepath.Join(ourDir, "flake.nix"), flake)

	if _, stderr, err := nixtest.Nix(t, "", "flake", "lock", "--flake-registry", reg, "--store", nixtest.Store(t), "--option", "substituters", "", "path:"+nixDir); err != nil {
		t.Fatalf("nix flake lock: %v\n%s", err, stderr)
	}
	idx := filepath.Join(work, "index.json")
	mustRun(t, 0, "index", "build", "-o", idx, filepath.Join(work, "foo"))
	mustRun(t, 0, "lock", "--index", idx, "--registry", reg, ourDir)
	nixLock, err := os.ReadFile(filepath.Join(nixDir, "flake.lock"))
	if err != nil {
		t.Fatal(err)
	}
	ours, err := os.ReadFile(filepath.Join(ourDir, "flake.lock"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(nixLock, []byte("\"original\": {\n        \"id\": \"foo\",\n        \"type\": \"indirect\"\n      }")) {
		t.Errorf("Nix's lock keeps no indirect original:\n%s", nixLock)
	}
	if !bytes.Equal(ours, nixLock) {
		t.Errorf("flakeresolve lock --registry wrote\n%s\nNix 2.8 with the same registry\n%s", ours, nixLock)
	}
	// And each takes the other's: Nix's lock is up to date for us.
	mustRun(t, 0, "lock", "--check", "--index", idx, "--registry", reg, nixDir)
}
