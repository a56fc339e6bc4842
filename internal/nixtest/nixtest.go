// Package nixtest runs the real Nix (Debian's nix-bin, Nix 2.8) from tests,
// as the judge of what flakeresolve reads and writes: flake references,
// flake.nix inputs and lock files.
//
// Outside CI a machine without Nix skips those tests; under CI (CI=true)
// a missing Nix fails them, so that a broken install cannot pass unnoticed.
package nixtest

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Need returns the path of a program from nix-bin, or stops the test when
// it is missing.
func Need(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed; .ci/deps installs Debian's nix-bin", program)
		}
		t.Skipf("%s is not installed (apt-get install nix-bin)", program)
	}
	return p
}

// Flags turn on the flake commands, which Nix 2.8 still calls experimental.
var Flags = []string{"--extra-experimental-features", "nix-command flakes"}

// Nix runs `nix ARGS...` in dir and returns its stdout, stderr and error.
func Nix(t testing.TB, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(Need(t, "nix"), append(append([]string{}, Flags...), args...)...)
	cmd.Dir = dir
	// A test must not read or write the user's Nix configuration, registry
	// or caches.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+home+"/cache", "XDG_CONFIG_HOME="+home+"/config", "NIX_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Store returns a fresh, empty store for one test (for --store), so that
// Nix fetches every tree itself and checks its narHash, rather than trust
// a store path it already has. Store paths are read-only; they are made
// removable for the cleanup.
func Store(t testing.TB) string {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	t.Cleanup(func() {
		filepath.WalkDir(store, func(p string, d fs.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return store
}
