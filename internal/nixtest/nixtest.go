// Package nixtest runs real Nix from tests, as the judge of what
// flakeresolve reads and writes: flake references, flake.nix inputs and
// lock files.
//
// There are two judges, because Nix changed how it writes locks: the
// machine's Nix (Debian bookworm's nix-bin, Nix 2.8) and a modern Nix
// (Debian trixie's nix-bin, Nix 2.26) that .ci/nix-modern builds in a
// trixie root and runs through a shim. Judges returns both; Nix and Need
// run the machine's Nix, for tests that only ask how Nix reads something.
//
// Outside CI a machine without a judge skips those tests, saying how to get
// it; under CI (CI=true) a missing judge fails them, so that a broken
// install cannot pass unnoticed.
package nixtest

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Need returns the path of a program from nix-bin, or stops the test when
// it is missing.
func Need(t testing.TB, program string) string {
	t.Helper()
	p, err := exec.LookPath(program)
	if err != nil {
		missing(t, fmt.Sprintf("%s is not installed", program), "apt-get install nix-bin (or run .ci/deps as root)")
	}
	return p
}

// missing stops a test whose judge is absent: a skip outside CI, a failure
// under it.
func missing(t testing.TB, what, how string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; .ci/deps installs it (by hand: %s)", what, how)
	}
	t.Skipf("%s (%s)", what, how)
}

// Flags turn on the flake commands, which Nix 2.8 still calls experimental.
var Flags = []string{"--extra-experimental-features", "nix-command flakes"}

// Nix runs the machine's `nix ARGS...` in dir and returns its stdout,
// stderr and error.
func Nix(t testing.TB, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return Judge{bin: Need(t, "nix")}.Nix(t, dir, args...)
}

// A Judge is one Nix.
type Judge struct {
	// Name is the Nix's major.minor version ("2.8", "2.26"), the name its
	// golden files carry.
	Name string
	// Version is what nix --version prints last ("2.26.3").
	Version string
	bin     string
}

// ModernEnv names the directory .ci/nix-modern builds the modern Nix in;
// ModernDefault is where it is when the variable is unset.
const (
	ModernEnv     = "FLAKERESOLVE_NIX_MODERN"
	ModernDefault = "/var/lib/flakeresolve/nix-modern"
)

// ModernBin is the modern Nix's shim.
func ModernBin() string {
	dir := os.Getenv(ModernEnv)
	if dir == "" {
		dir = ModernDefault
	}
	return filepath.Join(dir, "bin", "nix")
}

// Judges returns the machine's Nix and the modern Nix, oldest first.
func Judges(t testing.TB) []Judge {
	t.Helper()
	old := judge(t, Need(t, "nix"))
	bin := ModernBin()
	if _, err := os.Stat(bin); err != nil {
		missing(t, fmt.Sprintf("the modern Nix is not built (%s is missing)", bin),
			"run .ci/nix-modern as root: a Debian trixie root with Nix 2.26, about two minutes")
	}
	return []Judge{old, judge(t, bin)}
}

var versions sync.Map // bin -> version, or error

var versionRE = regexp.MustCompile(`(\d+)\.(\d+)(\.\d+)?\S*\s*$`)

func judge(t testing.TB, bin string) Judge {
	t.Helper()
	v, ok := versions.Load(bin)
	if !ok {
		out, err := exec.Command(bin, "--version").CombinedOutput()
		m := versionRE.FindStringSubmatch(strings.TrimSpace(string(out)))
		switch {
		case err != nil:
			v = fmt.Errorf("%s --version: %v\n%s", bin, err, out)
		case m == nil:
			v = fmt.Errorf("%s --version printed %q, which ends in no version", bin, out)
		default:
			v = strings.TrimSpace(m[0])
		}
		versions.Store(bin, v)
	}
	if err, bad := v.(error); bad {
		t.Fatal(err)
	}
	full := v.(string)
	m := versionRE.FindStringSubmatch(full)
	return Judge{Name: m[1] + "." + m[2], Version: full, bin: bin}
}

// Nix runs `nix ARGS...` in dir (the test's directory when empty), with
// the flake commands turned on and a home of its own, and returns its
// stdout, stderr and error.
func (j Judge) Nix(t testing.TB, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(j.bin, append(append([]string{}, Flags...), args...)...)
	cmd.Dir = dir
	// A test must not read or write the user's Nix configuration, registry
	// or caches. The home is under the test's temporary directory, which
	// the modern Nix's shim sees at the same path.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HOME="+home, "XDG_CACHE_HOME="+home+"/cache", "XDG_CONFIG_HOME="+home+"/config", "NIX_CONFIG=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

// Offline runs `nix ARGS...` like Nix, against store, with no substituters,
// an empty global flake registry and no network beyond what the arguments
// name: an indirect flake reference fails the same way on every machine,
// instead of downloading the registry where the network allows it.
func (j Judge) Offline(t testing.TB, store, dir string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	registry := filepath.Join(t.TempDir(), "registry.json")
	if err := os.WriteFile(registry, []byte(`{"flakes":[],"version":2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return j.Nix(t, dir, append(args, "--store", store, "--option", "substituters", "",
		"--option", "flake-registry", registry, "--offline")...)
}

// Store returns a new, empty Nix store for Offline. An empty store makes
// Nix fetch every locked tree and check its narHash: Nix uses a store path
// that matches a narHash without fetching anything.
func Store(t testing.TB) string {
	t.Helper()
	store := filepath.Join(t.TempDir(), "store")
	// Store paths are read-only; make them removable for the cleanup.
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
