package registry

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// TestLookupAgainstNix resolves references through one registry with
// Lookup and with Nix 2.8 (nix flake metadata --flake-registry), whose
// "resolved" reference is the answer: chains that restart, refs applied
// to an entry's to, a from with a ref, an exact entry, a to with a
// subdirectory.
func TestLookupAgainstNix(t *testing.T) {
	nixtest.Need(t, "nix")
	work := t.TempDir()
	repo := filepath.Join(work, "repo")
	for _, args := range [][]string{{"init", "-q", "-b", "main", repo}, {"-C", repo, "add", "-A"}, {"-C", repo, "commit", "-qm", "x"}, {"-C", repo, "branch", "dev"}} {
		if args[0] == "-C" && args[2] == "add" {
			writeFile(t, filepath.Join(repo, "flake.nix"), "{ outputs = _: { }; }\n")
			writeFile(t, filepath.Join(repo, "sub", "flake.nix"), "{ outputs = _: { }; }\n")
		}
		cmd := exec.Command("git", args...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@e.org", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@e.org", "GIT_CONFIG_GLOBAL=/dev/null")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	url := "file://" + repo
	file := filepath.Join(work, "registry.json")
	writeFile(t, file, `{"version": 2, "flakes": [
  {"from": {"type": "indirect", "id": "a"}, "to": {"type": "indirect", "id": "b", "ref": "dev"}},
  {"from": {"type": "indirect", "id": "b"}, "to": {"type": "git", "url": "`+url+`"}},
  {"from": {"type": "indirect", "id": "c"}, "to": {"type": "git", "url": "`+url+`", "ref": "main"}, "exact": true},
  {"from": {"type": "indirect", "id": "d", "ref": "dev"}, "to": {"type": "git", "url": "`+url+`", "ref": "main"}},
  {"from": {"type": "indirect", "id": "d"}, "to": {"type": "git", "url": "`+url+`", "ref": "dev"}},
  {"from": {"type": "indirect", "id": "e"}, "to": {"type": "git", "url": "`+url+`", "dir": "sub"}}
]}`)
	reg, err := Read(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"a", "a/main", "b", "flake:b/main", "c", "c/dev", "d", "d/dev", "e", "e/dev", "zzz"} {
		in, err := flakeref.Parse(ref)
		if err != nil {
			t.Fatal(err)
		}
		got, ok, err := Chain{reg}.Lookup(in)
		out, stderr, nerr := nixtest.Nix(t, "", "flake", "metadata", "--offline", "--flake-registry", file, "--json", ref)
		if nerr != nil {
			if ok || !strings.Contains(stderr, "cannot find flake") {
				t.Errorf("%s: Nix fails (%s), Lookup gives %v, %v, %v", ref, strings.TrimSpace(stderr), got, ok, err)
			}
			continue
		}
		var meta struct {
			Resolved map[string]any `json:"resolved"`
		}
		if err := json.Unmarshal([]byte(out), &meta); err != nil {
			t.Fatal(err)
		}
		ours := map[string]any{}
		if ok && err == nil {
			b, _ := json.Marshal(flakeref.Attrs(got))
			json.Unmarshal(b, &ours)
		}
		if !reflect.DeepEqual(ours, meta.Resolved) {
			t.Errorf("%s: Lookup gives %v (%v, %v); Nix resolves %v", ref, ours, ok, err, meta.Resolved)
		}
	}
}

// TestLookupRules: what Nix refuses, and the order of registries.
func TestLookupRules(t *testing.T) {
	first := &Registry{File: "flag", Entries: []Entry{{From: mustParse(t, "nixpkgs"), To: mustParse(t, "github:me/nixpkgs")}}}
	second := &Registry{File: "global", Entries: []Entry{
		{From: mustParse(t, "nixpkgs"), To: mustParse(t, "github:NixOS/nixpkgs")},
		{From: mustParse(t, "loop"), To: mustParse(t, "flake:loop2")},
		{From: mustParse(t, "loop2"), To: mustParse(t, "flake:loop")},
		{From: mustParse(t, "dl"), To: mustParse(t, "https://e.org/x.tar.gz")},
	}}
	if got, ok, err := (Chain{first, second}).Lookup(mustParse(t, "nixpkgs/nixos-24.05")); !ok || err != nil || flakeref.String(got) != "github:me/nixpkgs/nixos-24.05" {
		t.Errorf("the first registry wins: %v %v %v", flakeref.String(got), ok, err)
	}
	if _, _, err := (Chain{second}).Lookup(mustParse(t, "loop")); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("a cycle: %v", err)
	}
	if _, _, err := (Chain{second}).Lookup(mustParse(t, "dl/main")); err == nil {
		t.Error("a tarball took a ref")
	}
	if got, ok, err := (Chain{second}).Lookup(mustParse(t, "nixpkgs/0123456789abcdef0123456789abcdef01234567")); !ok || err != nil || got.Rev == "" || got.Ref != "" {
		t.Errorf("a rev on a forge: %v %v %v", got, ok, err)
	}
}

func mustParse(t *testing.T, s string) *pb.FlakeRef {
	t.Helper()
	r, err := flakeref.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func writeFile(t *testing.T, p, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
