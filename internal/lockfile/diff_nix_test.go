package lockfile_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	"github.com/flakeresolve/flakeresolve/internal/nixtest/flakeworld"
)

// TestDiffAgainstNix has Nix 2.8 lock a flake step by step (an initial
// lock, a branch that moved and --update-input, inputs redirected by
// follows, removed and added, a tarball and a path, two inputs sharing a
// node key, pins of every other type) and checks that Diff
// and Change.String print for its old and new lock files exactly what Nix
// printed while writing them. Nothing is normalised: both sides name the
// same repositories.
func TestDiffAgainstNix(t *testing.T) {
	nixtest.Need(t, "nix")
	w := flakeworld.Build(t, "testdata/diff-world.txtar")
	store := nixtest.Store(t)
	lockPath := filepath.Join(w.Root, "flake.lock")
	git := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("git", append([]string{"-C", filepath.Join(w.Repos, "a")}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	section := func(name string) string {
		for _, f := range w.Archive.Files {
			if f.Name == name {
				return w.Expand(string(f.Data))
			}
		}
		t.Fatalf("no section %s", name)
		return ""
	}
	write := func(path, data string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	git("branch", "stable", w.Expand("$REV(a@1)"))
	// Nix prints a diff only when a lock file exists: an empty one.
	write(lockPath, `{"nodes":{"root":{}},"root":"root","version":7}`+"\n")
	steps := []struct {
		name   string
		before func()
		args   []string
		// want is each change as "KIND PATH", in order: the test must
		// see these, so that it cannot pass on two empty diffs.
		want []string
	}{
		{"initial lock", nil, nil,
			[]string{"Added a", "Added b", "Added b/c", "Added b/c/e", "Added b-sub", "Added t"}},
		{"branch moved, --update-input", func() { git("branch", "-f", "stable", w.Expand("$REV(a@2)")) },
			[]string{"--update-input", "a"}, []string{"Updated a"}},
		{"follows, path, tarball", func() { write(filepath.Join(w.Root, "flake.nix"), section("follows.nix")) }, nil,
			[]string{"Updated b/c", "Removed b/c/e", "Removed b-sub", "Added p", "Updated t"}},
		{"follows the root", func() { write(filepath.Join(w.Root, "flake.nix"), section("follows-root.nix")) }, nil,
			[]string{"Updated b/c", "Removed p"}},
		{"back to a tree", func() { write(filepath.Join(w.Root, "flake.nix"), section("root/flake.nix")) }, nil,
			[]string{"Updated b/c", "Added b/c/e", "Added b-sub", "Updated t"}},
		{"two inputs, one tree", func() { write(filepath.Join(w.Root, "flake.nix"), section("shared.nix")) }, nil,
			[]string{"Removed b-sub", "Added b2", "Added b2/c", "Added b2/c/e", "Removed t"}},
		// Nix reads two inputs that name one node key as one node, lists
		// its inputs under the first path only, and writes the node again
		// for the second path: b2's inputs are "added".
		{"one node key for two inputs", func() { shareNode(t, lockPath, "b2", "b") }, nil,
			[]string{"Added b2/c", "Added b2/c/e"}},
		{"pins of every type, followed", func() {
			write(lockPath, section("typed.lock"))
			write(filepath.Join(w.Root, "flake.nix"), section("followed.nix"))
		}, nil, []string{"Updated gh", "Updated gl", "Updated gs", "Updated hg", "Updated sh"}},
	}
	for _, step := range steps {
		if step.before != nil {
			step.before()
		}
		oldData, err := os.ReadFile(lockPath)
		if err != nil {
			t.Fatal(err)
		}
		args := append([]string{"flake", "lock", "path:" + w.Root}, step.args...)
		args = append(args, "--store", store, "--option", "substituters", "", "--offline")
		_, stderr, err := nixtest.Nix(t, "", args...)
		if err != nil {
			t.Fatalf("%s: nix %s: %v\n%s", step.name, strings.Join(args, " "), err, stderr)
		}
		newData, err := os.ReadFile(lockPath)
		if err != nil {
			t.Fatal(err)
		}
		old, err := lockfile.Parse("old flake.lock", oldData)
		if err != nil {
			t.Fatal(err)
		}
		new, err := lockfile.Parse("new flake.lock", newData)
		if err != nil {
			t.Fatal(err)
		}
		changes := lockfile.Diff(old, new)
		var got strings.Builder
		var kinds []string
		for _, c := range changes {
			got.WriteString(c.String())
			kinds = append(kinds, map[lockfile.ChangeKind]string{lockfile.Added: "Added", lockfile.Removed: "Removed", lockfile.Updated: "Updated"}[c.Kind]+" "+strings.Join(c.Path, "/"))
		}
		t.Logf("%s:\n%s", step.name, got.String())
		if nix := nixDiff(t, stderr, lockPath); got.String() != nix {
			t.Errorf("%s: Diff prints\n%s\nNix 2.8 printed\n%s\n(all of stderr:\n%s)", step.name, got.String(), nix, stderr)
		}
		if strings.Join(kinds, ", ") != strings.Join(step.want, ", ") {
			t.Errorf("%s: changes %q, want %q", step.name, kinds, step.want)
		}
	}
}

// shareNode rewrites a lock so that the root's input names the node key
// of another root input, and drops the nodes no longer reachable.
func shareNode(t *testing.T, lockPath, input, as string) {
	t.Helper()
	data, err := os.ReadFile(lockPath)
	if err != nil {
		t.Fatal(err)
	}
	var lock struct {
		Nodes   map[string]map[string]any `json:"nodes"`
		Root    string                    `json:"root"`
		Version int                       `json:"version"`
	}
	if err := json.Unmarshal(data, &lock); err != nil {
		t.Fatal(err)
	}
	rootInputs := lock.Nodes[lock.Root]["inputs"].(map[string]any)
	rootInputs[input] = rootInputs[as]
	reached := map[string]bool{}
	var walk func(key string)
	walk = func(key string) {
		if reached[key] {
			return
		}
		reached[key] = true
		inputs, _ := lock.Nodes[key]["inputs"].(map[string]any)
		for _, v := range inputs {
			if k, ok := v.(string); ok {
				walk(k)
			}
		}
	}
	walk(lock.Root)
	for key := range lock.Nodes {
		if !reached[key] {
			delete(lock.Nodes, key)
		}
	}
	out, err := json.MarshalIndent(lock, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lockPath, append(out, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nixDiff is the diff in what Nix 2.8 printed while writing lockPath: the
// lines after "warning: updating lock file 'PATH':", up to its next
// message.
func nixDiff(t *testing.T, stderr, lockPath string) string {
	t.Helper()
	head := "warning: updating lock file '" + lockPath + "':\n"
	_, rest, ok := strings.Cut(stderr, head)
	if !ok {
		t.Fatalf("Nix did not print %q:\n%s", head, stderr)
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(rest, "\n") {
		if strings.HasPrefix(line, "warning: ") || strings.HasPrefix(line, "error: ") {
			break
		}
		b.WriteString(line)
	}
	return b.String()
}
