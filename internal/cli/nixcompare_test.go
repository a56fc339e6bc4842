package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/diff"

	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	"github.com/flakeresolve/flakeresolve/internal/nixtest/flakeworld"
)

// TestLockMatchesNix locks every testdata/nixshapes fixture with
// flakeresolve (index build over the fixture's repositories, then lock)
// and holds the lock to what real Nix does with the same flake, as the
// fixture's golden sections record it:
//
//   - where some Nix locks the shape, flakeresolve's lock is byte for byte
//     the lock one of them writes, and every judge says of it what it says
//     of that Nix's lock (metadata --no-update-lock-file, eval through
//     every input in an empty store, nix flake lock leaving it);
//   - where no Nix can lock the shape, flakeresolve refuses too, since no
//     lock it wrote could be used.
func TestLockMatchesNix(t *testing.T) {
	judges := nixtest.Judges(t)
	forEachShape(t, func(t *testing.T, file string, w *flakeworld.World) {
		golden := goldenSections(w.Archive)
		given, _ := os.ReadFile(filepath.Join(w.Root, "flake.lock"))
		nixLocks := map[string][]byte{} // judge -> the lock it writes
		for _, j := range judges {
			g, ok := golden["lock-"+j.Name]
			switch {
			case !ok:
				t.Fatalf("%s has no lock-%s section (go test ./internal/cli -run TestNixShapes -update writes it)", file, j.Name)
			case g == "= root/flake.lock\n":
				nixLocks[j.Name] = given
			case !strings.HasPrefix(g, "error:"):
				nixLocks[j.Name] = []byte(w.Expand(g))
			}
		}

		dir := copyRoot(t, w.Root, given)
		idx := filepath.Join(t.TempDir(), "index.json")
		// The repositories as they are, unless the fixture says how they
		// are published (a subdirectory, tarball URLs).
		sources := w.RepoDirs()
		for _, f := range w.Archive.Files {
			if f.Name == "index-build" {
				sources = strings.Fields(w.Expand(string(f.Data)))
			}
		}
		if code, out := runCLI(append([]string{"index", "build", "-o", idx}, sources...)...); code != 0 {
			t.Fatalf("flakeresolve index build: exit %d\n%s", code, w.Normalize(out))
		}
		// A lock either Nix wrote is kept byte for byte: nothing moved.
		for name, lock := range nixLocks {
			kept := copyRoot(t, w.Root, lock)
			if code, out := runCLI("lock", "--check", "--index", idx, kept); code != 0 {
				t.Errorf("lock --check on Nix %s's own lock: exit %d\n%s", name, code, strings.ReplaceAll(w.Normalize(out), kept, "$ROOT"))
			}
		}
		code, out := runCLI("lock", "--index", idx, dir)
		if len(nixLocks) == 0 {
			if code == 0 {
				ours, _ := os.ReadFile(filepath.Join(dir, "flake.lock"))
				t.Errorf("no Nix can lock this shape, yet flakeresolve wrote\n%s", w.Normalize(string(ours)))
			}
			return
		}
		if code != 0 {
			t.Fatalf("flakeresolve lock: exit %d\n%s", code, strings.ReplaceAll(w.Normalize(out), dir, "$ROOT"))
		}
		ours, err := os.ReadFile(filepath.Join(dir, "flake.lock"))
		if err != nil {
			t.Fatal(err)
		}

		matched := ""
		var diffs strings.Builder
		for _, j := range judges {
			want, ok := nixLocks[j.Name]
			if !ok {
				continue
			}
			if bytes.Equal(ours, want) {
				matched = j.Name
				break
			}
			fmt.Fprintf(&diffs, "%s", diff.Diff("nix-"+j.Name, []byte(w.Normalize(string(want))), "flakeresolve", []byte(w.Normalize(string(ours)))))
		}
		if matched == "" {
			t.Errorf("flakeresolve's lock is no Nix's:\n%s", diffs.String())
		} else {
			t.Logf("flakeresolve's lock is Nix %s's, byte for byte", matched)
		}

		for _, j := range judges {
			got := judgeLock(t, w, j, ours, nixLocks[j.Name], "lock-"+j.Name)
			want := "metadata --no-update-lock-file: accepts\neval: " + golden["value"] + "flake lock: leaves it\n"
			if v, ok := golden["value-"+j.Name]; ok {
				want = "metadata --no-update-lock-file: accepts\neval: " + v + "flake lock: leaves it\n"
			}
			if matched != "" {
				// As well as Nix, where Nix itself does not accept a
				// lock (its own, or another Nix's).
				want = golden["judge-"+j.Name+"-of-"+matched]
			}
			if got != want {
				t.Errorf("Nix %s on flakeresolve's lock:\n%swant:\n%s", j.Version, got, want)
			}
		}
	})
}

// runCLI runs the command line in-process and returns its exit code and
// everything it printed.
func runCLI(args ...string) (int, string) {
	var out bytes.Buffer
	code := run(args, &out, &out)
	return code, out.String()
}
