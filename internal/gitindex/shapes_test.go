package gitindex

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// offline runs a judge's Nix against a fresh store, offline but for what
// the arguments name.
func offline(t *testing.T, j nixtest.Judge, args ...string) string {
	t.Helper()
	out, stderr, err := j.Offline(t, nixtest.Store(t), "", args...)
	if err != nil {
		t.Fatalf("nix %s (Nix %s): %v\n%s", strings.Join(args, " "), j.Name, err, stderr)
	}
	return out
}

func commit(run func(...string) string, msg string) {
	run("add", "-A")
	run("commit", "-qm", msg)
}

func versionOf(f *pb.Flake, v string) *pb.Version {
	for _, x := range f.Versions {
		if x.Version == v {
			return x
		}
	}
	return nil
}

func versionList(f *pb.Flake) []string {
	var out []string
	for _, v := range f.Versions {
		out = append(out, v.Version)
	}
	return out
}

// TestBuildDirAndNonFlake: a flake in a subdirectory whose flake.lock Nix
// 2.8 itself wrote, with a flake = false input on a repository that has no
// flake.nix at all. Nix is the judge of each tree's narHash, commit count
// and time: for the subdirectory flake through nix flake metadata (Nix 2.8
// and the modern Nix), for the plain tree through the pin Nix wrote for it.
func TestBuildDirAndNonFlake(t *testing.T) {
	judges := nixtest.Judges(t)
	data, runData := gitRepo(t)
	write(t, data, "README", "data, not a flake\n", 0o644)
	commit(runData, "one")
	runData("tag", "v1.0.0")
	write(t, data, "table.txt", "1 2 3\n", 0o644)
	commit(runData, "two")
	runData("tag", "v1.1.0")
	runData("tag", "latest")

	app, runApp := gitRepo(t)
	write(t, app, "README", "the flake lives in nix/\n", 0o644)
	write(t, app, "nix/flake.nix", fmt.Sprintf(`{
  inputs.data = { url = "git+file://%s?ref=v1.1.0"; flake = false; };
  outputs = { self, data }: { };
}
`, data), 0o644)
	runApp("add", "-A")
	offline(t, judges[0], "flake", "lock", "git+file://"+app+"?dir=nix")
	committedLock, err := os.ReadFile(filepath.Join(app, "nix", "flake.lock"))
	if err != nil {
		t.Fatalf("nix flake lock wrote no nix/flake.lock: %v", err)
	}
	commit(runApp, "flake in nix/")
	runApp("tag", "v0.1.0")

	ix, skipped, err := Build(context.Background(), []Repo{{Name: "data", Dir: data}, {Name: "app", Dir: app, Subdir: "nix"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	df, af := ix.Flakes[0], ix.Flakes[1]

	// The repository without flake.nix: its SemVer tags, no inputs, and
	// the index says the trees are not flakes.
	if df.Flake == nil || *df.Flake || !slices.Equal(versionList(df), []string{"1.0.0", "1.1.0"}) {
		t.Errorf("data: flake %v, versions %v; want not a flake, 1.0.0 and 1.1.0", df.Flake, versionList(df))
	}
	for _, v := range df.Versions {
		if v.Inputs != nil || v.LockFile != nil {
			t.Errorf("data %s has inputs %v, lock %v", v.Version, v.Inputs, v.LockFile)
		}
	}
	if !slices.ContainsFunc(skipped, func(s Skipped) bool {
		return s.Repo == "data" && s.Ref == "tag latest" && s.Reason == "the tag is not a SemVer version"
	}) {
		t.Errorf("skipped %v, want data's tag latest", skipped)
	}
	// Nix pinned data 1.1.0 in app's lock: our tree is the one it fetched.
	lock, err := lockfile.Record("nix/flake.lock", committedLock)
	if err != nil {
		t.Fatal(err)
	}
	pin, ours := lock.Nodes["data"].GetLocked(), versionOf(df, "1.1.0").Locked
	if pin.GetNarHash() != ours.NarHash || pin.GetRev() != ours.Rev || pin.GetRevCount() != ours.RevCount || pin.GetLastModified() != ours.LastModified || pin.GetRef() != "v1.1.0" {
		t.Errorf("data 1.1.0 locked %v; Nix pinned %v", ours, pin)
	}

	// The flake in nix/: its source says dir, its version carries the
	// lock Nix wrote, exactly, and the inputs of nix/flake.nix.
	if af.Source.Dir != "nix" || af.Source.Url != "file://"+app {
		t.Errorf("app source = %v, want git+file://%s?dir=nix", af.Source, app)
	}
	v := versionOf(af, "0.1.0")
	if v == nil {
		t.Fatalf("app versions %v, want 0.1.0", versionList(af))
	}
	if !proto.Equal(v.LockFile, lock) {
		t.Errorf("app 0.1.0 lock file = %v, want the committed nix/flake.lock", v.LockFile)
	}
	if in := v.Inputs["data"]; in == nil || in.Flake == nil || *in.Flake {
		t.Errorf("app 0.1.0 inputs = %v, want data with flake = false", v.Inputs)
	}
	if !proto.Equal(af.Refs["main"].GetLockFile(), lock) {
		t.Errorf("app ref main lock file = %v", af.Refs["main"].GetLockFile())
	}
	// What Nix locks for the flake in nix/ at v0.1.0: the whole
	// repository's tree.
	for _, j := range judges {
		var meta struct{ Locked map[string]any }
		if err := json.Unmarshal([]byte(offline(t, j, "flake", "metadata", "--json", "git+file://"+app+"?dir=nix&ref=v0.1.0")), &meta); err != nil {
			t.Fatal(err)
		}
		l := meta.Locked
		if l["narHash"] != v.Locked.NarHash || l["rev"] != v.Locked.Rev || l["revCount"] != float64(v.Locked.RevCount) ||
			l["lastModified"] != float64(v.Locked.LastModified) || l["dir"] != "nix" {
			t.Errorf("app 0.1.0 locked %v; Nix %s locks %v", v.Locked, j.Name, l)
		}
	}
}

// TestBuildTarballVersions: a tarball flake publishes each version at its
// own URL; each version's narHash is what Nix computes for that tarball:
// nix hash path of it unpacked, and each judge's fetch of its URL.
func TestBuildTarballVersions(t *testing.T) {
	judges := nixtest.Judges(t)
	dir, run := gitRepo(t)
	for i, tag := range []string{"v1.0.0", "v1.1.0"} {
		write(t, dir, "flake.nix", fmt.Sprintf("{ outputs = _: { n = %d; }; }\n", i), 0o644)
		commit(run, tag)
		run("tag", tag)
	}
	served := t.TempDir()
	template := "file://" + served + "/greeting-{version}.tar.gz"
	ix, _, err := Build(context.Background(), []Repo{{Name: "greeting", Dir: dir, Source: &pb.FlakeLocation{Type: "tarball", Url: template}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := ix.Flakes[0]
	if f.Source.Url != template || len(f.Refs) != 0 || len(f.Versions) != 2 {
		t.Fatalf("source %v, refs %v, versions %v; want the template, no refs (a URL is one tree), two versions", f.Source, f.Refs, versionList(f))
	}
	hashes := map[string]bool{}
	for _, v := range f.Versions {
		want := "file://" + served + "/greeting-" + v.Version + ".tar.gz"
		if v.Locked.Type != "tarball" || v.Locked.Url != want || len(v.Locked.Rev) != 40 || v.Locked.RevCount == 0 {
			t.Errorf("%s locked = %v, want a tarball at %s with its rev and commit count", v.Version, v.Locked, want)
		}
		// Publish the version as the template says: git archive of its
		// tag under one top directory.
		tarball := filepath.Join(served, "greeting-"+v.Version+".tar.gz")
		prefix := "greeting-" + v.Version + "/"
		if out, err := exec.Command("git", "-C", dir, "archive", "--format=tar.gz", "--prefix="+prefix, "-o", tarball, "v"+v.Version).CombinedOutput(); err != nil {
			t.Fatalf("git archive: %v\n%s", err, out)
		}
		unpacked := t.TempDir()
		if out, err := exec.Command("tar", "-xzf", tarball, "-C", unpacked).CombinedOutput(); err != nil {
			t.Fatalf("tar: %v\n%s", err, out)
		}
		hashed, stderr, err := nixtest.Nix(t, "", "hash", "path", filepath.Join(unpacked, prefix))
		if err != nil {
			t.Fatalf("nix hash path: %v\n%s", err, stderr)
		}
		if strings.TrimSpace(hashed) != v.Locked.NarHash {
			t.Errorf("%s narHash %s; nix hash path of the unpacked tarball %s", v.Version, v.Locked.NarHash, strings.TrimSpace(hashed))
		}
		for _, j := range judges {
			var fetched struct{ Hash string }
			if err := json.Unmarshal([]byte(offline(t, j, "flake", "prefetch", "--json", v.Locked.Url)), &fetched); err != nil {
				t.Fatal(err)
			}
			if fetched.Hash != v.Locked.NarHash {
				t.Errorf("%s narHash %s; Nix %s fetches %s from its URL", v.Version, v.Locked.NarHash, j.Name, fetched.Hash)
			}
		}
		hashes[v.Locked.NarHash] = true
	}
	if len(hashes) != 2 {
		t.Errorf("the two versions share a narHash: %v", hashes)
	}
}

// TestBuildSkipsOddTags: a tag of a tag, a tag of a tree, two tags of one
// version, and trees whose flake.nix or flake.lock cannot be read are each
// skipped with the reason; the good tags still become versions.
func TestBuildSkipsOddTags(t *testing.T) {
	dir, run := gitRepo(t)
	write(t, dir, "flake.nix", "{ outputs = _: {}; }\n", 0o644)
	commit(run, "good")
	run("tag", "v1.0.0")
	run("tag", "1.0.0")          // the same version again
	run("tag", "v1.0.0+build.2") // the same precedence
	run("tag", "-a", "rc", "-m", "annotated")
	run("tag", "-a", "v3.0.0", "-m", "nested", "rc") // a tag of the tag rc
	run("tag", "v4.0.0", "HEAD^{tree}")              // a tag of a tree
	write(t, dir, "flake.nix", "{ outputs = _: {}; inputs.x.url = 3; }\n", 0o644)
	commit(run, "unreadable flake.nix")
	run("tag", "v1.1.0")
	write(t, dir, "flake.nix", "{ outputs = _: {}; }\n", 0o644)
	write(t, dir, "flake.lock", `{"nodes": {"root": {}}, "root": "root", "version": 4}`, 0o644)
	commit(run, "lock of an old format")
	run("tag", "v1.2.0")
	write(t, dir, "flake.lock", `{"nodes": {"root": {}}, "root": "root", "version": 7}`, 0o644)
	commit(run, "good again")
	run("tag", "v2.0.0")

	ix, skipped, err := Build(context.Background(), []Repo{{Name: "lib", Dir: dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := ix.Flakes[0]
	if got := versionList(f); !slices.Equal(got, []string{"1.0.0", "2.0.0"}) {
		t.Errorf("versions %v, want 1.0.0 and 2.0.0", got)
	}
	if lf := versionOf(f, "2.0.0").GetLockFile(); lf == nil || lf.Version != 7 {
		t.Errorf("2.0.0 lock file = %v", lf)
	}
	reasons := map[string]string{}
	for _, s := range skipped {
		reasons[s.Ref] = s.Reason
	}
	for ref, want := range map[string]string{
		"tag v1.0.0":         "version 1.0.0 is already tag 1.0.0",
		"tag v1.0.0+build.2": "version 1.0.0+build.2 is already tag 1.0.0",
		"tag v3.0.0":         "a tag of the tag ",
		"tag v4.0.0":         "points to a tree, not a commit",
		"tag v1.1.0":         "flake.nix (",
		"tag v1.2.0":         "field lockFile.version: 4 is not a lock file version Nix reads",
		"tag rc":             "neither the tag nor its flake.nix is a SemVer version",
	} {
		if !strings.Contains(reasons[ref], want) {
			t.Errorf("%s skipped because %q, want %q", ref, reasons[ref], want)
		}
	}
	if len(skipped) != 7 {
		t.Errorf("skipped %v, want the 7 odd tags", skipped)
	}
}

// TestBuildRolling: a repository without version tags is numbered as
// FlakeHub numbers rolling releases, N the commit count of each head.
func TestBuildRolling(t *testing.T) {
	dir, run := gitRepo(t)
	write(t, dir, "flake.nix", "{ outputs = _: {}; }\n", 0o644)
	commit(run, "one")
	run("branch", "nixos-24.05")
	run("branch", "feature")
	for _, msg := range []string{"two", "three"} {
		write(t, dir, msg, msg, 0o644)
		commit(run, msg)
	}
	run("checkout", "-q", "nixos-24.05")
	write(t, dir, "backport", "x", 0o644)
	commit(run, "backport")
	run("checkout", "-q", "main")

	ix, _, err := Build(context.Background(), []Repo{{Name: "roll", Dir: dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := ix.Flakes[0]
	// main has 3 commits, nixos-24.05 2; feature is no release line.
	if got := versionList(f); f.Numbering != pb.Numbering_NUMBERING_COMMIT_COUNT || !slices.Equal(got, []string{"0.1.3", "0.2405.2"}) {
		t.Errorf("numbering %v, versions %v; want commit count, 0.1.3 and 0.2405.2", f.Numbering, got)
	}
	if v := versionOf(f, "0.2405.2"); v == nil || v.Locked.Ref != "nixos-24.05" || v.Locked.RevCount != 2 {
		t.Errorf("0.2405.2 = %v, want nixos-24.05's head with revCount 2", v)
	}
	if len(f.Refs) != 3 || f.DefaultRef != "main" {
		t.Errorf("refs %v, default %q; want every branch, main the default", f.Refs, f.DefaultRef)
	}
}
