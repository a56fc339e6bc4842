package cli

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	"github.com/flakeresolve/flakeresolve/internal/nixtest/flakeworld"
)

var updateShapes = flag.Bool("update", false, "rewrite the golden sections of testdata/nixshapes/*.txtar from what the Nix judges do now")

// The fixtures in testdata/nixshapes are flake shapes that real flakes use
// (flakeworld's package doc tells how a fixture makes its repositories and
// tarballs), each with what every Nix judge does with it, as golden
// sections:
//
//	-- lock-NIX --           the flake.lock `nix flake lock` writes (NIX is
//	                         the judge's name, "2.8" or "2.26"); "= root/
//	                         flake.lock" when it leaves the given lock as it
//	                         is; the error when it fails
//	-- warnings-NIX --       what it warns while locking, when anything
//	-- value --              what `nix eval ROOT#value` prints through that
//	                         lock, with every judge (value-NIX when they
//	                         differ)
//	-- judge-A-of-B --       what Nix A says of the lock Nix B wrote (A
//	                         and B may be the same: Nix does not always
//	                         accept its own lock): metadata
//	                         --no-update-lock-file, eval, and whether nix
//	                         flake lock leaves it
//
// TestNixShapes rebuilds each fixture's world, runs every judge, and
// checks they still do what the golden sections say; -update rewrites them.
// It pins down how Nix locks, so that a Nix that locks differently is seen.
func TestNixShapes(t *testing.T) {
	judges := nixtest.Judges(t)
	forEachShape(t, func(t *testing.T, file string, w *flakeworld.World) {
		got := judgeShape(t, w, judges)
		if *updateShapes {
			writeGolden(t, file, w.Archive, got)
			return
		}
		want := goldenSections(w.Archive)
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for n := range got {
				if !yield(n) {
					return
				}
			}
			for n := range want {
				if _, ok := got[n]; !ok && !yield(n) {
					return
				}
			}
		}) {
			if got[name] != want[name] {
				t.Errorf("%s: -- %s -- is\n%s\nwant\n%s(go test ./internal/cli -run TestNixShapes -update rewrites it)", file, name, got[name], want[name])
			}
		}
	})
}

// forEachShape runs f on the world of every testdata/nixshapes fixture,
// each in a parallel subtest.
func forEachShape(t *testing.T, f func(t *testing.T, file string, w *flakeworld.World)) {
	files, err := filepath.Glob("testdata/nixshapes/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			f(t, file, flakeworld.Build(t, file))
		})
	}
}

// shapeLocks runs every judge's nix flake lock on a copy of the root and
// returns what each wrote, nil where it failed, and the golden sections of
// that: lock-*, warnings-*, value*.
func shapeLocks(t *testing.T, w *flakeworld.World, judges []nixtest.Judge) (map[string][]byte, map[string]string) {
	locks := map[string][]byte{}
	got := map[string]string{}
	given, _ := os.ReadFile(filepath.Join(w.Root, "flake.lock"))
	values := map[string]string{}
	for _, j := range judges {
		dir := copyRoot(t, w.Root, given)
		store := nixtest.Store(t)
		_, stderr, err := j.Offline(t, store, "", "flake", "lock", "path:"+dir)
		if warns := nixMessages(w, dir, stderr, "warning:"); warns != "" {
			got["warnings-"+j.Name] = warns
		}
		if err != nil {
			got["lock-"+j.Name] = nixMessages(w, dir, stderr, "error:")
			continue
		}
		lock, err := os.ReadFile(filepath.Join(dir, "flake.lock"))
		if err != nil {
			t.Fatalf("Nix %s locked without writing flake.lock: %v", j.Version, err)
		}
		locks[j.Name] = lock
		if given != nil && bytes.Equal(lock, given) {
			got["lock-"+j.Name] = "= root/flake.lock\n"
		} else {
			got["lock-"+j.Name] = w.Normalize(string(lock))
		}
		values[j.Name] = evalValue(t, w, j, store, dir)
	}
	same := len(values) == len(judges)
	for _, v := range values {
		same = same && v == values[judges[0].Name]
	}
	for name, v := range values {
		if same {
			got["value"] = v
		} else {
			got["value-"+name] = v
		}
	}
	return locks, got
}

// judgeShape is every golden section of a fixture, as the judges do it now.
func judgeShape(t *testing.T, w *flakeworld.World, judges []nixtest.Judge) map[string]string {
	locks, got := shapeLocks(t, w, judges)
	for _, a := range judges {
		for _, b := range judges {
			if locks[b.Name] != nil {
				got["judge-"+a.Name+"-of-"+b.Name] = judgeLock(t, w, a, locks[b.Name], locks[a.Name], "lock-"+a.Name)
			}
		}
	}
	return got
}

// judgeLock is what judge j says of a lock: does metadata
// --no-update-lock-file accept it, what eval prints through it (in an empty
// store, so every pin it reaches is fetched and its narHash checked), and
// what nix flake lock makes of it. own is j's own lock, named ownName.
func judgeLock(t *testing.T, w *flakeworld.World, j nixtest.Judge, lock, own []byte, ownName string) string {
	dir := copyRoot(t, w.Root, lock)
	store := nixtest.Store(t)
	var b strings.Builder
	if _, stderr, err := j.Offline(t, store, "", "flake", "metadata", "--no-update-lock-file", "path:"+dir); err != nil {
		fmt.Fprintf(&b, "metadata --no-update-lock-file: rejects\n%s", nixMessages(w, dir, stderr, "error:"))
	} else {
		b.WriteString("metadata --no-update-lock-file: accepts\n")
	}
	fmt.Fprintf(&b, "eval: %s", evalValue(t, w, j, store, dir))
	_, stderr, err := j.Offline(t, store, "", "flake", "lock", "path:"+dir)
	after, _ := os.ReadFile(filepath.Join(dir, "flake.lock"))
	switch {
	case err != nil:
		fmt.Fprintf(&b, "flake lock: fails\n%s", nixMessages(w, dir, stderr, "error:"))
	case bytes.Equal(after, lock):
		b.WriteString("flake lock: leaves it\n")
	case own != nil && bytes.Equal(after, own):
		fmt.Fprintf(&b, "flake lock: rewrites it to %s\n", ownName)
	default:
		fmt.Fprintf(&b, "flake lock: rewrites it to\n%s", w.Normalize(string(after)))
	}
	return b.String()
}

// evalValue is what nix eval prints of the root's value without touching
// its lock, or the error.
func evalValue(t *testing.T, w *flakeworld.World, j nixtest.Judge, store, dir string) string {
	out, stderr, err := j.Offline(t, store, "", "eval", "--no-update-lock-file", "path:"+dir+"#value")
	if err != nil {
		return "fails\n" + nixMessages(w, dir, stderr, "error:")
	}
	return w.Normalize(out)
}

// copyRoot copies the root flake into a new directory, with lock as its
// flake.lock (none when nil).
func copyRoot(t *testing.T, root string, lock []byte) string {
	dir := filepath.Join(t.TempDir(), "root")
	if err := os.CopyFS(dir, os.DirFS(root)); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "flake.lock")
	os.Remove(p)
	if lock != nil {
		if err := os.WriteFile(p, lock, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// nixNoise are messages Nix prints on every lock.
var nixNoise = []string{
	"warning: creating lock file",
	"warning: updating lock file",
	"warning: the group 'nixbld' specified in 'build-users-group' does not exist",
}

var (
	storePathRE = regexp.MustCompile(`/nix/store/[0-9a-z]{32}-`)
	// Nix 2.26 names the root with its mtime and narHash, which hold the
	// world's paths.
	rootQueryRE = regexp.MustCompile(`(path:\$ROOT)\?[^' ]*`)
)

// nixMessages are the messages in Nix's stderr that start with kind
// ("error:", "warning:"), each with its continuation lines, without the
// noise, with the world's paths, the root's and store hashes made
// placeholders.
func nixMessages(w *flakeworld.World, root, stderr, kind string) string {
	var out []string
	keep := false
	for _, line := range strings.Split(stderr, "\n") {
		// A message goes on until the next one starts.
		if strings.HasPrefix(line, "error:") || strings.HasPrefix(line, "warning:") {
			keep = strings.HasPrefix(line, kind)
			for _, n := range nixNoise {
				keep = keep && !strings.HasPrefix(line, n)
			}
		}
		if keep {
			out = append(out, strings.TrimRight(line, " "))
		}
	}
	for len(out) > 0 && out[len(out)-1] == "" {
		out = out[:len(out)-1]
	}
	if len(out) == 0 {
		return ""
	}
	s := strings.ReplaceAll(w.Normalize(strings.Join(out, "\n")+"\n"), root, "$ROOT")
	s = rootQueryRE.ReplaceAllString(s, "$1?…")
	return storePathRE.ReplaceAllString(s, "/nix/store/HASH-")
}

// goldenSections are the fixture's sections that TestNixShapes writes.
func goldenSections(ar *txtar.Archive) map[string]string {
	m := map[string]string{}
	for _, f := range ar.Files {
		if isGolden(f.Name) {
			m[f.Name] = string(f.Data)
		}
	}
	return m
}

func isGolden(name string) bool {
	for _, p := range []string{"lock-", "warnings-", "value", "judge-"} {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

// writeGolden replaces the fixture's golden sections by got, in a fixed
// order after the other sections.
func writeGolden(t *testing.T, file string, ar *txtar.Archive, got map[string]string) {
	out := &txtar.Archive{Comment: ar.Comment}
	for _, f := range ar.Files {
		if !isGolden(f.Name) {
			out.Files = append(out.Files, f)
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range got {
			if !yield(n) {
				return
			}
		}
	})
	rank := func(n string) int {
		for i, p := range []string{"lock-", "warnings-", "value", "judge-"} {
			if strings.HasPrefix(n, p) {
				return i
			}
		}
		return 4
	}
	slices.SortStableFunc(names, func(a, b string) int { return rank(a) - rank(b) })
	for _, n := range names {
		out.Files = append(out.Files, txtar.File{Name: n, Data: []byte(got[n])})
	}
	if err := os.WriteFile(file, txtar.Format(out), 0o644); err != nil {
		t.Fatal(err)
	}
}
