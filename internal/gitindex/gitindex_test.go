package gitindex

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// gitRepo makes a repository in a temporary directory and returns a
// function that runs git in it.
func gitRepo(t *testing.T) (string, func(args ...string) string) {
	dir := t.TempDir()
	run := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-C", dir}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.org", "GIT_COMMITTER_NAME=t",
			"GIT_COMMITTER_EMAIL=t@example.org", "GIT_AUTHOR_DATE=2024-05-01T00:00:00Z", "GIT_COMMITTER_DATE=2024-05-01T00:00:00Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("init", "-q", "-b", "main")
	return dir, run
}

func write(t *testing.T, dir, name, data string, mode os.FileMode) {
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
}

// TestNarHashMatchesNix hashes a tree with the orderings, modes and links
// that NAR serialisation is particular about, and compares the result with
// `nix hash path` of the same tree unpacked.
func TestNarHashMatchesNix(t *testing.T) {
	nixtest.Need(t, "nix")
	dir, run := gitRepo(t)
	write(t, dir, "flake.nix", "{ outputs = _: {}; }\n", 0o644)
	write(t, dir, "a.txt", "dot sorts before slash\n", 0o644)
	write(t, dir, "a/b", "inside a\n", 0o644)
	write(t, dir, "a-b/c", "dash\n", 0o644)
	write(t, dir, "bin/run", "#!/bin/sh\n", 0o755)
	write(t, dir, "empty", "", 0o644)
	write(t, dir, "Z", "capital sorts first\n", 0o644)
	if err := os.Symlink("a/b", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	write(t, dir, "ignored.txt", "not in the archive\n", 0o644)
	write(t, dir, ".gitignore", "ignored.txt\n", 0o644)
	run("add", "-A")
	run("commit", "-qm", "tree")

	archive, err := exec.Command("git", "-C", dir, "archive", "--format=tar", "HEAD").Output()
	if err != nil {
		t.Fatal(err)
	}
	ours, err := NarHash(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	unpacked := t.TempDir()
	tar := exec.Command("tar", "-x", "-C", unpacked)
	tar.Stdin = bytes.NewReader(archive)
	if out, err := tar.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	theirs, stderr, err := nixtest.Nix(t, "", "hash", "path", unpacked)
	if err != nil {
		t.Fatalf("nix hash path: %v\n%s", err, stderr)
	}
	if strings.TrimSpace(theirs) != ours {
		t.Errorf("NarHash = %s, nix hash path = %s", ours, strings.TrimSpace(theirs))
	}
}

func TestBuild(t *testing.T) {
	dir, run := gitRepo(t)
	write(t, dir, "flake.nix", `{ inputs.nixpkgs.url = "github:NixOS/nixpkgs"; outputs = _: {}; }`, 0o644)
	run("add", "-A")
	run("commit", "-qm", "one")
	run("tag", "v1.0.0")
	write(t, dir, "flake.versions.nix", `{ inputs.nixpkgs.version = "^0.2405"; }`, 0o644)
	run("add", "-A")
	run("commit", "-qm", "two")
	run("tag", "-a", "1.1.0", "-m", "annotated")
	run("tag", "not-a-version")
	write(t, dir, "flake.nix", `{ version = "1.2.0"; outputs = _: {}; }`, 0o644)
	run("rm", "-q", "flake.versions.nix")
	run("commit", "-qam", "three")
	run("tag", "release-three")
	run("tag", "v9.9.9") // disagrees with flake.nix's 1.2.0

	var events []Event
	ix, skipped, err := Build(context.Background(), []Repo{{Name: "lib", Dir: dir}}, func(e Event) { events = append(events, e) })
	if err != nil {
		t.Fatal(err)
	}
	f := ix.Flakes[0]
	var got []string
	for _, v := range f.Versions {
		req := ""
		if in := v.Inputs["nixpkgs"]; in != nil {
			req = in.Version
		}
		got = append(got, v.Version+" ref="+v.Locked.Ref+" req="+req)
	}
	want := []string{"1.0.0 ref=v1.0.0 req=", "1.1.0 ref=1.1.0 req=^0.2405", "1.2.0 ref=release-three req="}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("versions:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(skipped) != 2 {
		t.Errorf("skipped %v, want not-a-version and v9.9.9", skipped)
	}
	for _, s := range skipped {
		if s.Ref == "tag v9.9.9" && !strings.Contains(s.Reason, `the tag says 9.9.9 but its flake.nix says version "1.2.0"`) {
			t.Errorf("v9.9.9 skipped because %q", s.Reason)
		}
	}
	if f.Numbering != pb.Numbering_NUMBERING_TAGS || f.Flake != nil || f.Versions[0].LockFile != nil {
		t.Errorf("numbering %v, flake %v, lock %v; want tags, a flake, no flake.lock", f.Numbering, f.Flake, f.Versions[0].LockFile)
	}
	v := f.Versions[0]
	if v.Locked.LastModified != 1714521600 || v.Locked.RevCount != 1 || !strings.HasPrefix(v.Locked.NarHash, "sha256-") || len(v.Locked.Rev) != 40 {
		t.Errorf("1.0.0 locked = %v", v.Locked)
	}
	if f.DefaultRef != "main" || f.Refs["main"] == nil || f.Refs["main"].RevCount != 3 {
		t.Errorf("refs = %v, default %q", f.Refs, f.DefaultRef)
	}
	if f.Source.Type != "git" || f.Source.Url != "file://"+dir {
		t.Errorf("source = %v", f.Source)
	}
	if len(events) == 0 || events[len(events)-1].Done != events[len(events)-1].Total {
		t.Errorf("progress events %v do not end complete", events)
	}
}

func TestBuildErrors(t *testing.T) {
	if _, _, err := Build(context.Background(), []Repo{{Dir: t.TempDir()}}, nil); err == nil || !strings.Contains(err.Error(), "not a git repository") {
		t.Errorf("a plain directory: %v", err)
	}
	// Every tree's flake.nix is broken: each is skipped, and a repository
	// left with nothing is an error that says why.
	dir, run := gitRepo(t)
	write(t, dir, "flake.nix", `{ inputs.a.url = "github:o"; outputs = _: {}; }`, 0o644)
	run("add", "-A")
	run("commit", "-qm", "bad")
	run("tag", "v1.0.0")
	_, _, err := Build(context.Background(), []Repo{{Dir: dir}}, nil)
	if err == nil || !strings.Contains(err.Error(), "tag v1.0.0: "+dir+":flake.nix (") || !strings.Contains(err.Error(), "URL 'github:o' is invalid") {
		t.Errorf("a bad flake.nix: %v", err)
	}
	for _, tc := range []struct {
		src  *pb.FlakeLocation
		want string
	}{
		{&pb.FlakeLocation{Type: "tarball", Url: "https://example.org/x.tar.gz"}, "has no {version}, {tag} or {rev}: one URL serves one tree"},
		{&pb.FlakeLocation{Type: "tarball", Url: "https://example.org/x-{ver}.tar.gz"}, "unknown placeholder {ver}"},
		{&pb.FlakeLocation{Type: "indirect", Id: "x"}, "indirect sources cannot publish a git repository"},
	} {
		if _, _, err := Build(context.Background(), []Repo{{Dir: dir, Source: tc.src}}, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("source %v: %v, want %q", tc.src, err, tc.want)
		}
	}
	if _, _, err := Build(context.Background(), []Repo{{Dir: dir, Subdir: "../up"}}, nil); err == nil || !strings.Contains(err.Error(), `dir "../up" is not a directory within the repository`) {
		t.Errorf("dir ../up: %v", err)
	}
}

// Two tags on one commit without a flake.nix: both are skipped, the commit
// is read once, and the flake on main still builds.
func TestBuildSkipsCommitsWithoutFlake(t *testing.T) {
	dir, run := gitRepo(t)
	write(t, dir, "README", "before the flake\n", 0o644)
	run("add", "-A")
	run("commit", "-qm", "no flake")
	run("tag", "v0.1.0")
	run("tag", "v0.1.1")
	write(t, dir, "flake.nix", `{ outputs = _: {}; }`, 0o644)
	run("add", "-A")
	run("commit", "-qm", "flake")
	run("tag", "v1.0.0")
	ix, skipped, err := Build(context.Background(), []Repo{{Dir: dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.Flakes[0].Versions) != 1 || len(skipped) != 2 {
		t.Fatalf("versions %v, skipped %v; want 1.0.0, and both early tags skipped", ix.Flakes[0].Versions, skipped)
	}
	for _, s := range skipped {
		if !strings.HasPrefix(s.Reason, "no flake.nix at ") {
			t.Errorf("%s skipped because %q", s.Ref, s.Reason)
		}
	}
}
