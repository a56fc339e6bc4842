package flakeworld

import (
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const fixture = `# prose
commit leaf 1
tag leaf v1.0.0
commit leaf 2 dev
commit user 1
tarball tb 1
-- leaf@1/flake.nix --
{ outputs = { self }: { }; }
-- leaf@2/flake.nix --
{ outputs = { self }: { dev = true; }; }
-- user@1/flake.nix --
{ inputs.leaf.url = "git+file://$REPOS/leaf?rev=$REV(leaf@1)"; outputs = { self, leaf }: { }; }
-- tb@1/sub/data.txt --
data
-- root/flake.nix --
{ inputs.user.url = "git+file://$REPOS/user"; outputs = { self, user }: { }; }
-- root/template --
$REV(leaf@1) $NARHASH(leaf@2) $LASTMODIFIED(leaf@2) $REVCOUNT(leaf@2) $REV(user@1) $SERVER/tb/1.tar.gz $REV(none@1)
`

func build(t *testing.T) *World {
	file := filepath.Join(t.TempDir(), "f.txtar")
	if err := os.WriteFile(file, []byte(fixture), 0o644); err != nil {
		t.Fatal(err)
	}
	return Build(t, file)
}

// Two builds of one fixture give a tree whose files name no world path the
// same rev and narHash, and Normalize undoes Expand.
func TestReproducibleAndReversible(t *testing.T) {
	a, b := build(t), build(t)
	for _, key := range []string{"leaf@1", "leaf@2", "tb@1"} {
		if *a.objects[key] != *b.objects[key] {
			t.Errorf("%s: %+v in one build, %+v in another", key, *a.objects[key], *b.objects[key])
		}
	}
	if a.objects["user@1"].rev == b.objects["user@1"].rev {
		t.Errorf("user@1 names $REPOS, yet two worlds in two places gave it one rev")
	}
	tmpl := "$REV(leaf@1) $NARHASH(leaf@2) $REV(user@1) $SERVER/tb/1.tar.gz $REPOS/x $REV(none@1)"
	exp := a.Expand(tmpl)
	if strings.Contains(exp, "(leaf@") || !strings.Contains(exp, "$REV(none@1)") {
		t.Errorf("Expand(%q) = %q: want every known placeholder replaced and the unknown one kept", tmpl, exp)
	}
	if got := a.Normalize(exp); got != tmpl {
		t.Errorf("Normalize(Expand(x)) = %q, want %q", got, tmpl)
	}
	root, err := os.ReadFile(filepath.Join(a.Root, "template"))
	if err != nil {
		t.Fatal(err)
	}
	wantRoot := strings.Join([]string{a.objects["leaf@1"].rev, a.objects["leaf@2"].narHash, "1714651200", "2",
		a.objects["user@1"].rev, a.Server + "/tb/1.tar.gz", "$REV(none@1)"}, " ") + "\n"
	if string(root) != wantRoot {
		t.Errorf("root/template = %q, want %q", root, wantRoot)
	}
}

// The script's refs are where it says, the repository is left on main,
// and the tarball is served with its files under one top directory.
func TestRefsAndTarball(t *testing.T) {
	w := build(t)
	leaf := filepath.Join(w.Repos, "leaf")
	for ref, key := range map[string]string{"v1.0.0": "leaf@1", "main": "leaf@1", "dev": "leaf@2"} {
		out, err := exec.Command("git", "-C", leaf, "rev-parse", ref).Output()
		if err != nil || strings.TrimSpace(string(out)) != w.objects[key].rev {
			t.Errorf("%s is %s (%v), want %s", ref, out, err, key)
		}
	}
	if out, _ := exec.Command("git", "-C", leaf, "symbolic-ref", "--short", "HEAD").Output(); strings.TrimSpace(string(out)) != "main" {
		t.Errorf("leaf is left on %q, want main", out)
	}
	resp, err := http.Get(w.Server + "/tb/1.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || len(data) == 0 {
		t.Fatalf("GET tb/1.tar.gz: %s, %d bytes", resp.Status, len(data))
	}
	cmd := exec.Command("tar", "-tzf", "-")
	cmd.Stdin = strings.NewReader(string(data))
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "tb-1/ tb-1/sub/ tb-1/sub/data.txt" {
		t.Errorf("tarball holds %v", got)
	}
}
