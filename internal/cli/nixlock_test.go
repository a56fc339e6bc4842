package cli

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/txtar"

	"github.com/flakeresolve/flakeresolve/internal/nixtest"
)

// The fixtures in testdata/nixlock describe flakes as git repositories and
// a root flake; TestLockAcceptedByNix builds an index from the repositories
// with index build, locks the root with lock, and has the real Nix judge
// the lock in a fresh store. Sections:
//
//	-- REPO@REF/FILE --   a file of REPO at REF. Each REPO@REF is a commit
//	                      holding exactly its files, made in the order the
//	                      sections appear: a REF starting with v or a digit
//	                      is a tag on main, "main" a commit on main, any
//	                      other REF a branch off main.
//	-- root/FILE --       the root flake (a plain directory, path:)
//	-- args --            extra arguments for lock
//	-- want --            what nix eval ROOT#value prints
//	-- want-flake.nix --  root/flake.nix after lock, when lock edits it
//
// $REPOS in any file is the directory holding the repositories.

func TestLockAcceptedByNix(t *testing.T) {
	nixtest.Need(t, "nix")
	files, err := filepath.Glob("testdata/nixlock/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			work := t.TempDir()
			repos, root := filepath.Join(work, "repos"), filepath.Join(work, "root")
			sections := map[string]string{}
			for _, f := range ar.Files {
				sections[f.Name] = strings.ReplaceAll(string(f.Data), "$REPOS", repos)
			}
			names := makeRepos(t, repos, ar)
			for name, data := range sections {
				if rest, ok := strings.CutPrefix(name, "root/"); ok {
					writeFile(t, filepath.Join(root, rest), data)
				}
			}

			idx := filepath.Join(work, "index.json")
			args := []string{"index", "build", "-o", idx}
			for _, n := range names {
				args = append(args, filepath.Join(repos, n))
			}
			mustRun(t, 0, args...)
			lockArgs := append([]string{"lock", "--index", idx}, strings.Fields(sections["args"])...)
			mustRun(t, 0, append(lockArgs, root)...)
			written, err := os.ReadFile(filepath.Join(root, "flake.lock"))
			if err != nil {
				t.Fatal(err)
			}
			if want, ok := sections["want-flake.nix"]; ok {
				got, _ := os.ReadFile(filepath.Join(root, "flake.nix"))
				if string(got) != want {
					t.Errorf("flake.nix after lock:\n%s\nwant:\n%s", got, want)
				}
			}

			// A second run changes nothing, and --check agrees.
			mustRun(t, 0, "lock", "--check", "--index", idx, root)

			store := nixtest.Store(t)
			nixArgs := func(args ...string) []string {
				return append(args, "--store", store, "--option", "substituters", "", "--offline")
			}
			if _, stderr, err := nixtest.Nix(t, "", nixArgs("flake", "metadata", "--no-update-lock-file", "path:"+root)...); err != nil {
				t.Fatalf("nix flake metadata --no-update-lock-file rejects the lock: %v\n%s\nlock:\n%s", err, stderr, written)
			}
			value, stderr, err := nixtest.Nix(t, "", nixArgs("eval", "--no-update-lock-file", "path:"+root+"#value")...)
			if err != nil {
				t.Fatalf("nix eval: %v\n%s\nlock:\n%s", err, stderr, written)
			}
			if value != sections["want"] {
				t.Errorf("nix eval = %s, want %s", value, sections["want"])
			}
			if _, stderr, err := nixtest.Nix(t, "", nixArgs("flake", "lock", "path:"+root)...); err != nil {
				t.Fatalf("nix flake lock: %v\n%s", err, stderr)
			}
			if after, _ := os.ReadFile(filepath.Join(root, "flake.lock")); !bytes.Equal(after, written) {
				t.Errorf("nix flake lock rewrote the lock:\n%s\nours:\n%s", after, written)
			}
		})
	}
}

// makeRepos creates the fixture's repositories and returns their names.
func makeRepos(t *testing.T, dir string, ar *txtar.Archive) []string {
	type commit struct {
		repo, ref string
		files     map[string]string
	}
	var commits []*commit
	byKey := map[string]*commit{}
	for _, f := range ar.Files {
		key, file, ok := strings.Cut(f.Name, "/")
		repo, ref, isRepo := strings.Cut(key, "@")
		if !ok || !isRepo {
			continue
		}
		c := byKey[key]
		if c == nil {
			c = &commit{repo: repo, ref: ref, files: map[string]string{}}
			byKey[key] = c
			commits = append(commits, c)
		}
		c.files[file] = strings.ReplaceAll(string(f.Data), "$REPOS", dir)
	}
	seen := map[string]bool{}
	var names []string
	for i, c := range commits {
		repo := filepath.Join(dir, c.repo)
		git := func(args ...string) {
			cmd := exec.Command("git", append([]string{"-C", repo}, args...)...)
			date := fmt.Sprintf("2024-05-%02dT12:00:00Z", i+1)
			cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t",
				"GIT_COMMITTER_EMAIL=t@example.org", "GIT_AUTHOR_DATE="+date, "GIT_COMMITTER_DATE="+date)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("git %v: %v\n%s", args, err, out)
			}
		}
		if !seen[c.repo] {
			seen[c.repo] = true
			names = append(names, c.repo)
			if err := os.MkdirAll(repo, 0o755); err != nil {
				t.Fatal(err)
			}
			git("init", "-q", "-b", "main")
		} else {
			git("rm", "-rq", ".")
		}
		branch := c.ref != "main" && !(c.ref[0] == 'v' || c.ref[0] >= '0' && c.ref[0] <= '9')
		if branch {
			git("checkout", "-q", "-b", c.ref)
		}
		for name, data := range c.files {
			writeFile(t, filepath.Join(repo, name), data)
		}
		git("add", "-A")
		git("commit", "-qm", c.ref)
		switch {
		case branch:
			git("checkout", "-q", "main")
		case c.ref != "main":
			git("tag", c.ref)
		}
	}
	sort.Strings(names)
	return names
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mustRun runs the command line in-process and checks its exit code.
func mustRun(t *testing.T, code int, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if got := run(args, &stdout, &stderr); got != code {
		t.Fatalf("flakeresolve %s: exit %d, want %d\n%s%s", strings.Join(args, " "), got, code, stdout.String(), stderr.String())
	}
	return stdout.String()
}
