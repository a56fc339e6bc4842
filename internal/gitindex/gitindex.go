// Package gitindex pre-evaluates local git repositories of flakes into an
// index, the way a registry evaluates published flakes: one version per
// SemVer tag, each with the exact tree Nix will fetch for it.
//
// A version's tree is what Nix's git fetcher unpacks, the output of
// `git archive REV`, so its narHash is computed from that archive (with
// go-nix's NAR writer) rather than from a working tree, which may hold
// untracked or ignored files. Inputs come from the tagged flake.nix (and
// flake.versions.nix), read by flakenix, never from the working tree.
// Branch heads become refs, so that unversioned inputs resolve as today.
package gitindex

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/nix-community/go-nix/pkg/nar"

	"github.com/flakeresolve/flakeresolve/internal/flakenix"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Repo is one repository to index.
type Repo struct {
	// Name is the flake's name in the index; the directory's base name
	// when empty.
	Name string
	// Dir is the repository's directory.
	Dir string
	// Source is where the flake is published (github:owner/repo, say);
	// the repository itself, as git+file://DIR, when nil.
	Source *pb.Source
}

// Event reports progress: a repository started, or a version indexed.
type Event struct {
	Repo           string
	Version        string // empty when a repository starts
	Done, Total    int    // versions of this repository
	RepoN, RepoMax int
}

// Skipped is a tag that did not become a version, and why.
type Skipped struct {
	Repo, Tag, Reason string
}

// Build indexes the repositories.
func Build(ctx context.Context, repos []Repo, progress func(Event)) (*pb.Index, []Skipped, error) {
	ix := &pb.Index{Schema: 1}
	var skipped []Skipped
	seen := map[string]string{}
	for i, r := range repos {
		abs, err := filepath.Abs(r.Dir)
		if err != nil {
			return nil, nil, err
		}
		r.Dir = abs
		if r.Name == "" {
			r.Name = filepath.Base(abs)
		}
		if prev, dup := seen[r.Name]; dup {
			return nil, nil, fmt.Errorf("%s and %s would both be the flake %q; name one with NAME=DIR", prev, r.Dir, r.Name)
		}
		seen[r.Name] = r.Dir
		f, sk, err := buildRepo(ctx, r, i, len(repos), progress)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.Dir, err)
		}
		skipped = append(skipped, sk...)
		ix.Flakes = append(ix.Flakes, f)
	}
	return ix, skipped, nil
}

type git struct {
	ctx context.Context
	dir string
}

func (g git) run(args ...string) ([]byte, error) {
	cmd := exec.CommandContext(g.ctx, "git", append([]string{"-C", g.dir}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// tree is one commit's facts.
type tree struct {
	rev          string
	lastModified int64
	revCount     int64
	narHash      string
	flake        *flakenix.Flake
}

// errNoFlake marks a commit without a flake.nix, which is skipped rather
// than failing the build.
var errNoFlake = errors.New("no flake.nix")

func (g git) tree(rev string) (*tree, error) {
	t := &tree{rev: rev}
	// flake.nix first: it is cheap, and a commit without one needs no
	// archive.
	src, err := g.run("show", rev+":flake.nix")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", rev, errNoFlake)
	}
	label := fmt.Sprintf("%s:flake.nix (%.12s)", g.dir, rev)
	if t.flake, err = flakenix.Parse(label, src); err != nil {
		return nil, err
	}
	if side, err := g.run("show", rev+":"+flakenix.SideFile); err == nil {
		if err := t.flake.MergeSide(fmt.Sprintf("%s:%s (%.12s)", g.dir, flakenix.SideFile, rev), side); err != nil {
			return nil, err
		}
	}
	out, err := g.run("show", "-s", "--format=%ct", rev)
	if err != nil {
		return nil, err
	}
	if t.lastModified, err = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil {
		return nil, fmt.Errorf("committer time of %s: %v", rev, err)
	}
	if out, err = g.run("rev-list", "--count", rev); err != nil {
		return nil, err
	}
	if t.revCount, err = strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err != nil {
		return nil, fmt.Errorf("commit count of %s: %v", rev, err)
	}
	archive, err := g.run("archive", "--format=tar", rev)
	if err != nil {
		return nil, err
	}
	if t.narHash, err = NarHash(bytes.NewReader(archive)); err != nil {
		return nil, fmt.Errorf("hashing %s: %v", rev, err)
	}
	return t, nil
}

func buildRepo(ctx context.Context, r Repo, n, max int, progress func(Event)) (*pb.Flake, []Skipped, error) {
	g := git{ctx, r.Dir}
	if _, err := g.run("rev-parse", "--git-dir"); err != nil {
		return nil, nil, fmt.Errorf("not a git repository")
	}
	source := r.Source
	if source == nil {
		source = &pb.Source{Type: "git", Url: "file://" + r.Dir}
	}
	f := &pb.Flake{Name: r.Name, Source: source, Refs: map[string]*pb.Ref{}}
	var skipped []Skipped

	out, err := g.run("for-each-ref", "--format=%(refname)%00%(objectname)%00%(*objectname)", "refs/tags", "refs/heads")
	if err != nil {
		return nil, nil, err
	}
	type ref struct{ name, rev string }
	var tags, heads []ref
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		parts := strings.Split(line, "\x00")
		rev := parts[1]
		if parts[2] != "" {
			rev = parts[2] // an annotated tag: the commit it points to
		}
		if name, ok := strings.CutPrefix(parts[0], "refs/tags/"); ok {
			tags = append(tags, ref{name, rev})
		} else {
			heads = append(heads, ref{strings.TrimPrefix(parts[0], "refs/heads/"), rev})
		}
	}
	total := len(tags) + len(heads)
	report := func(done int, what string) {
		if progress != nil {
			progress(Event{Repo: r.Name, Version: what, Done: done, Total: total, RepoN: n + 1, RepoMax: max})
		}
	}
	report(0, "")
	// Tags and branches often share commits; each is read once.
	type result struct {
		t   *tree
		err error
	}
	trees := map[string]result{}
	get := func(rev string) (*tree, error) {
		if r, ok := trees[rev]; ok {
			return r.t, r.err
		}
		t, err := g.tree(rev)
		trees[rev] = result{t, err}
		return t, err
	}
	versions := map[string]string{} // version -> tag, to catch two tags of one version
	for i, tg := range tags {
		t, err := get(tg.rev)
		if err != nil {
			if errors.Is(err, errNoFlake) {
				skipped = append(skipped, Skipped{r.Name, tg.name, "no flake.nix at " + tg.rev[:12]})
				continue
			}
			return nil, nil, err
		}
		v, why := tagVersion(tg.name, t.flake)
		if v == "" {
			skipped = append(skipped, Skipped{r.Name, tg.name, why})
			continue
		}
		if other, dup := versions[v]; dup {
			return nil, nil, fmt.Errorf("tags %s and %s are both version %s", other, tg.name, v)
		}
		versions[v] = tg.name
		locked := &pb.Source{Rev: t.rev, NarHash: t.narHash, LastModified: t.lastModified}
		if source.Type == "git" {
			// Nix's git fetcher records the ref it fetched and the
			// commit count; the forges' fetchers record neither.
			locked.Ref, locked.RevCount = tg.name, t.revCount
		}
		f.Versions = append(f.Versions, &pb.Version{Version: v, Locked: locked, Inputs: flakenix.ToProto(t.flake.Inputs)})
		report(i+1, v)
	}
	for i, h := range heads {
		t, err := get(h.rev)
		if err != nil {
			if errors.Is(err, errNoFlake) {
				continue
			}
			return nil, nil, err
		}
		ref := &pb.Ref{Rev: t.rev, NarHash: t.narHash, LastModified: t.lastModified, Inputs: flakenix.ToProto(t.flake.Inputs)}
		if source.Type == "git" {
			ref.RevCount = t.revCount
		}
		f.Refs[h.name] = ref
		report(len(tags)+i+1, h.name)
	}
	if head, err := g.run("symbolic-ref", "--short", "HEAD"); err == nil {
		if name := strings.TrimSpace(string(head)); f.Refs[name] != nil {
			f.DefaultRef = name
		}
	}
	// Loaders sort versions themselves; this keeps the written index in
	// version order rather than in the tags' alphabetical order.
	sort.Slice(f.Versions, func(i, j int) bool {
		return semver.MustParse(f.Versions[i].Version).LessThan(semver.MustParse(f.Versions[j].Version))
	})
	if len(f.Versions) == 0 && len(f.Refs) == 0 {
		return nil, nil, errors.New("no tag or branch holds a flake.nix")
	}
	return f, skipped, nil
}

// tagVersion is a tag's version: the tag itself when it is SemVer (with
// or without a "v"), else the tagged flake.nix's own version.
func tagVersion(tag string, f *flakenix.Flake) (string, string) {
	fromTag := ""
	if v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v")); err == nil {
		fromTag = v.String()
	}
	switch {
	case fromTag != "" && f.Version != "" && f.Version != fromTag:
		return "", fmt.Sprintf("the tag says %s but its flake.nix says version %q", fromTag, f.Version)
	case fromTag != "":
		return fromTag, ""
	case f.Version != "":
		if _, err := semver.StrictNewVersion(f.Version); err != nil {
			return "", fmt.Sprintf("flake.nix version %q is not SemVer", f.Version)
		}
		return f.Version, ""
	}
	return "", "neither the tag nor its flake.nix is a SemVer version"
}

// NarHash computes the SRI sha256 of the NAR serialisation of the tree a
// tar archive holds, which is what Nix records as the narHash of the tree
// it unpacks from that archive.
func NarHash(archive io.Reader) (string, error) {
	root := &dirNode{children: map[string]*fileNode{}}
	tr := tar.NewReader(archive)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		name := strings.Trim(path.Clean("/"+h.Name), "/")
		if name == "" || h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		n := root.make(name)
		switch h.Typeflag {
		case tar.TypeDir:
			if n.dir == nil {
				n.dir = &dirNode{children: map[string]*fileNode{}}
			}
		case tar.TypeSymlink:
			n.link = h.Linkname
			n.isLink = true
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return "", err
			}
			n.data, n.exec = data, h.Mode&0o100 != 0
		default:
			return "", fmt.Errorf("%s: unsupported entry type %q", h.Name, h.Typeflag)
		}
	}
	sum := sha256.New()
	w, err := nar.NewWriter(sum)
	if err != nil {
		return "", err
	}
	if err := root.write(w, "/"); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return "sha256-" + base64.StdEncoding.EncodeToString(sum.Sum(nil)), nil
}

type dirNode struct{ children map[string]*fileNode }

type fileNode struct {
	dir    *dirNode
	data   []byte
	exec   bool
	link   string
	isLink bool
}

// make finds or creates the node at a slash-separated path, with the
// directories above it.
func (d *dirNode) make(p string) *fileNode {
	parts := strings.Split(p, "/")
	cur := d
	var n *fileNode
	for i, part := range parts {
		n = cur.children[part]
		if n == nil {
			n = &fileNode{}
			cur.children[part] = n
		}
		if i < len(parts)-1 {
			if n.dir == nil {
				n.dir = &dirNode{children: map[string]*fileNode{}}
			}
			cur = n.dir
		}
	}
	return n
}

// write emits the directory in NAR order: entries sorted by name, each
// directory's contents right after it.
func (d *dirNode) write(w *nar.Writer, p string) error {
	if err := w.WriteHeader(&nar.Header{Path: p, Type: nar.TypeDirectory}); err != nil {
		return err
	}
	names := make([]string, 0, len(d.children))
	for n := range d.children {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		n := d.children[name]
		child := path.Join(p, name)
		switch {
		case n.dir != nil:
			if err := n.dir.write(w, child); err != nil {
				return err
			}
		case n.isLink:
			if err := w.WriteHeader(&nar.Header{Path: child, Type: nar.TypeSymlink, LinkTarget: n.link}); err != nil {
				return err
			}
		default:
			if err := w.WriteHeader(&nar.Header{Path: child, Type: nar.TypeRegular, Size: int64(len(n.data)), Executable: n.exec}); err != nil {
				return err
			}
			if _, err := w.Write(n.data); err != nil {
				return err
			}
		}
	}
	return nil
}
