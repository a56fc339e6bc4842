// Package gitindex pre-evaluates local git repositories of flakes into an
// index, the way a registry evaluates published flakes: one version per
// SemVer tag, each with the exact tree Nix will fetch for it.
//
// A version's tree is what Nix's git fetcher unpacks, the output of
// `git archive REV` (the whole repository, also when the flake lives in a
// subdirectory), so its narHash is computed from that archive (with
// go-nix's NAR writer) rather than from a working tree, which may hold
// untracked or ignored files. A tarball made with `git archive
// --prefix=NAME/ REV` unpacks to the same tree under its one top
// directory, which is what Nix hashes, so the narHash serves tarball
// sources too. Inputs come from the tagged flake.nix (and
// flake.versions.nix), read by flakenix, and the tagged flake.lock is
// recorded as committed (lockfile.Record), never from the working tree.
// Branch heads become refs, so that unversioned inputs resolve as today.
//
// Shapes, as Nix locks them:
//   - A flake in a subdirectory (Repo.Subdir, a reference's ?dir=) is read
//     from SUBDIR/flake.nix and SUBDIR/flake.lock; the source records dir.
//   - A repository with no flake.nix in any tag or branch is a plain
//     source tree for flake = false inputs: its SemVer tags become versions
//     without inputs, and the flake is marked flake = false.
//   - A repository with no version tag is numbered as FlakeHub numbers
//     rolling releases: the default branch's head is 0.1.N and a release
//     branch's head (release-24.05, nixos-24.05, ...; flakeref.ReleaseLine)
//     is 0.2405.N, N the commit count of the head (NUMBERING_COMMIT_COUNT).
//   - A tarball source is published at one URL per version: its url is a
//     template whose placeholders {version}, {tag} (the tag, or the branch
//     of a rolling version) and {rev} each version fills in, so that no
//     lock pins one version's narHash to another's URL. A tarball URL
//     names one tree, so tarball flakes have no refs.
//
// One odd tag never fails the run: a tag of a tag, a tag of something other
// than a commit, a second tag of one version, or a tree whose flake.nix,
// flake.versions.nix or flake.lock cannot be read is skipped with its
// reason, and the repository's other tags go on.
package gitindex

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"
	"github.com/nix-community/go-nix/pkg/nar"
	"github.com/nix-community/go-nix/pkg/nixhash"
	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakenix"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Repo is one repository to index.
type Repo struct {
	// Name is the flake's name in the index; the directory's base name
	// when empty.
	Name string
	// Dir is the repository's directory.
	Dir string
	// Subdir is the flake's directory within the repository (the dir of
	// its references); empty for the top. A Source with a dir says the
	// same.
	Subdir string
	// Source is where the flake is published (github:owner/repo, a
	// tarball URL template, ...); the repository itself, as
	// git+file://DIR, when nil.
	Source *pb.FlakeLocation
}

// Event reports progress: a repository started, or a tag or branch read.
type Event struct {
	Repo           string
	Ref            string // the tag or branch read; empty when a repository starts
	Done, Total    int    // tags and branches of this repository
	RepoN, RepoMax int
}

// Skipped is a tag or branch that did not become a version or ref, and why.
type Skipped struct {
	Repo string
	Ref  string // "tag v1.0.0", "branch main"
	// Reason says what was found and why it cannot be used.
	Reason string
}

// Build indexes the repositories.
func Build(ctx context.Context, repos []Repo, progress func(Event)) (*pb.Index, []Skipped, error) {
	ix := &pb.Index{Schema: index.Schema}
	var skipped []Skipped
	var builders []*builder
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
		b, err := buildRepo(ctx, r, i, len(repos), progress)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", r.Dir, err)
		}
		builders = append(builders, b)
		ix.Flakes = append(ix.Flakes, b.flake)
	}
	if err := addPinnedRevs(builders); err != nil {
		return nil, nil, err
	}
	for _, b := range builders {
		skipped = append(skipped, b.skipped...)
	}
	return ix, skipped, nil
}

// addPinnedRevs records the trees that inputs of the built flakes name by
// rev in a repository being built, when they are neither a version nor a
// ref head: Nix fetches such a rev, so the index must know its tree. The
// trees' own inputs may name more revs; it repeats until none is new.
func addPinnedRevs(builders []*builder) error {
	for {
		grew := false
		for _, b := range builders {
			for _, decls := range declarations(b.flake) {
				for _, url := range inputURLs(decls) {
					src, err := flakeref.Parse(url)
					if err != nil || src.Rev == "" {
						continue
					}
					target := builderOf(builders, src)
					if target == nil || target.knows(src.Rev) {
						continue
					}
					t, err := target.read("rev "+src.Rev, src.Rev)
					if err != nil {
						return fmt.Errorf("%s: rev %s, which %s names: %w", target.g.dir, src.Rev, b.repo, err)
					}
					if t == nil {
						continue
					}
					if target.flake.Revs == nil {
						target.flake.Revs = map[string]*pb.Ref{}
					}
					target.flake.Revs[src.Rev] = target.ref(t)
					grew = true
				}
			}
		}
		if !grew {
			return nil
		}
	}
}

// declarations are the input declarations of a flake's versions, refs and
// pinned revs.
func declarations(f *pb.Flake) []map[string]*pb.Input {
	var out []map[string]*pb.Input
	for _, v := range f.Versions {
		out = append(out, v.Inputs)
	}
	for _, name := range slices.Sorted(maps.Keys(f.Refs)) {
		out = append(out, f.Refs[name].Inputs)
	}
	for _, rev := range slices.Sorted(maps.Keys(f.Revs)) {
		out = append(out, f.Revs[rev].Inputs)
	}
	return out
}

// inputURLs lists the URLs of declarations and of the overrides in them.
func inputURLs(decls map[string]*pb.Input) []string {
	var out []string
	for _, name := range slices.Sorted(maps.Keys(decls)) {
		if d := decls[name]; d.Url != "" {
			out = append(out, d.Url)
		}
		out = append(out, inputURLs(decls[name].Inputs)...)
	}
	return out
}

// builderOf is the repository being built that a reference points at.
func builderOf(builders []*builder, src *pb.FlakeRef) *builder {
	for _, b := range builders {
		s := b.flake.Source
		if s.Type == src.Type && s.Type == "git" && flakeref.RepoURL(s.Url) == flakeref.RepoURL(src.Url) && s.Dir == src.Dir {
			return b
		}
	}
	return nil
}

// knows says whether the flake already has the tree at rev.
func (b *builder) knows(rev string) bool {
	for _, v := range b.flake.Versions {
		if v.Locked.GetRev() == rev {
			return true
		}
	}
	for _, r := range b.flake.Refs {
		if r.Rev == rev {
			return true
		}
	}
	return b.flake.Revs[rev] != nil
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

func (g git) number(args ...string) (int64, error) {
	out, err := g.run(args...)
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("git %s printed %q, not a number", strings.Join(args, " "), out)
	}
	return n, nil
}

// tree is one commit's facts.
type tree struct {
	rev          string
	lastModified int64
	revCount     int64
	narHash      string
	flake        *flakenix.Flake // nil when the tree has no flake.nix
	lock         *pb.LockFile    // nil when it has no flake.lock
}

// oddTree is a tree whose flake files cannot be read: the tags on it are
// skipped, the run goes on.
type oddTree struct{ err error }

func (e *oddTree) Error() string { return e.err.Error() }
func (e *oddTree) Unwrap() error { return e.err }

// hasFlake reports whether a commit holds SUBDIR/flake.nix.
func (g git) hasFlake(rev, subdir string) (bool, error) {
	out, err := g.run("ls-tree", "--name-only", rev, "--", path.Join(subdir, "flake.nix"))
	return len(bytes.TrimSpace(out)) > 0, err
}

// tree reads a commit: its flake files in subdir (when isFlake), times,
// commit count and the narHash of the whole repository's archive.
func (g git) tree(rev, subdir string, isFlake bool) (*tree, error) {
	t := &tree{rev: rev}
	if isFlake {
		if err := g.readFlake(t, subdir); err != nil {
			return nil, err
		}
	}
	var err error
	if t.lastModified, err = g.number("show", "-s", "--format=%ct", rev); err != nil {
		return nil, err
	}
	if t.revCount, err = g.number("rev-list", "--count", rev); err != nil {
		return nil, err
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

// readFlake reads flake.nix, flake.versions.nix and flake.lock of a commit;
// a tree without flake.nix keeps a nil flake.
func (g git) readFlake(t *tree, subdir string) error {
	out, err := g.run("ls-tree", "--name-only", t.rev, "--", path.Join(subdir, "flake.nix"), path.Join(subdir, flakenix.SideFile), path.Join(subdir, "flake.lock"))
	if err != nil {
		return err
	}
	has := map[string]bool{}
	for _, p := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		has[path.Base(p)] = p != ""
	}
	if !has["flake.nix"] {
		return nil
	}
	read := func(name string) ([]byte, string, error) {
		p := path.Join(subdir, name)
		data, err := g.run("show", t.rev+":"+p)
		return data, fmt.Sprintf("%s:%s (%.12s)", g.dir, p, t.rev), err
	}
	src, label, err := read("flake.nix")
	if err != nil {
		return err
	}
	if t.flake, err = flakenix.Parse(label, src); err != nil {
		return &oddTree{err}
	}
	if has[flakenix.SideFile] {
		side, label, err := read(flakenix.SideFile)
		if err != nil {
			return err
		}
		if err := t.flake.MergeSide(label, side); err != nil {
			return &oddTree{err}
		}
	}
	if has["flake.lock"] {
		data, label, err := read("flake.lock")
		if err != nil {
			return err
		}
		if t.lock, err = lockfile.Record(label, data); err != nil {
			return &oddTree{err}
		}
		if probs := index.CheckLockFile(t.lock); len(probs) > 0 {
			return &oddTree{fmt.Errorf("%s: %v", label, probs[0])}
		}
	}
	return nil
}

// ref is a tag or branch head, peeled to the commit it names.
type ref struct {
	name, rev string
	// odd says why a tag cannot be a version (it names no commit, or
	// names a tag); empty for usable refs.
	odd string
}

// refs lists the repository's tags and branch heads.
func (g git) refs() (tags, heads []ref, err error) {
	out, err := g.run("for-each-ref", "--format=%(refname)%00%(objecttype)%00%(objectname)%00%(*objecttype)%00%(*objectname)", "refs/tags", "refs/heads")
	if err != nil {
		return nil, nil, err
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\x00")
		name, typ, rev, peeledType, peeled := f[0], f[1], f[2], f[3], f[4]
		if branch, ok := strings.CutPrefix(name, "refs/heads/"); ok {
			heads = append(heads, ref{name: branch, rev: rev})
			continue
		}
		r := ref{name: strings.TrimPrefix(name, "refs/tags/"), rev: rev}
		switch {
		case typ == "commit":
		case typ == "tag" && peeledType == "commit":
			r.rev = peeled // an annotated tag: the commit it points to
		case typ == "tag" && peeledType == "tag":
			r.odd = fmt.Sprintf("a tag of the tag %.12s (a nested tag); tag the commit itself", peeled)
		case typ == "tag":
			r.odd = fmt.Sprintf("points to a %s, not a commit", peeledType)
		default:
			r.odd = fmt.Sprintf("points to a %s, not a commit", typ)
		}
		tags = append(tags, r)
	}
	return tags, heads, nil
}

func buildRepo(ctx context.Context, r Repo, n, max int, progress func(Event)) (*builder, error) {
	g := git{ctx, r.Dir}
	if _, err := g.run("rev-parse", "--git-dir"); err != nil {
		return nil, fmt.Errorf("not a git repository")
	}
	source, err := repoSource(r)
	if err != nil {
		return nil, err
	}
	subdir := source.Dir
	f := &pb.Flake{Name: r.Name, Source: source, Refs: map[string]*pb.Ref{}, Numbering: pb.Numbering_NUMBERING_TAGS}
	tags, heads, err := g.refs()
	if err != nil {
		return nil, err
	}
	defaultBranch := ""
	if head, err := g.run("symbolic-ref", "--short", "HEAD"); err == nil {
		defaultBranch = strings.TrimSpace(string(head))
	}

	// A repository is a flake when any of its tags or branches holds a
	// flake.nix; one with none is a plain source tree.
	isFlake := false
	for _, rf := range append(append([]ref{}, heads...), tags...) {
		if rf.odd != "" {
			continue
		}
		if isFlake, err = g.hasFlake(rf.rev, subdir); err != nil {
			return nil, err
		}
		if isFlake {
			break
		}
	}
	if !isFlake {
		f.Flake = new(bool)
	}

	total := len(tags) + len(heads)
	report := func(done int, what string) {
		if progress != nil {
			progress(Event{Repo: r.Name, Ref: what, Done: done, Total: total, RepoN: n + 1, RepoMax: max})
		}
	}
	report(0, "")
	b := &builder{g: g, repo: r.Name, subdir: subdir, isFlake: isFlake, flake: f, trees: map[string]treeResult{}, byPrecedence: map[string]string{}}
	for i, tg := range tags {
		if err := b.tag(tg); err != nil {
			return nil, err
		}
		report(i+1, tg.name)
	}
	rolling := len(f.Versions) == 0
	if rolling {
		f.Numbering = pb.Numbering_NUMBERING_COMMIT_COUNT
	}
	for i, h := range heads {
		if err := b.head(h, rolling, defaultBranch); err != nil {
			return nil, err
		}
		report(len(tags)+i+1, h.name)
	}
	if f.Refs[defaultBranch] != nil {
		f.DefaultRef = defaultBranch
	}
	// Loaders sort versions themselves; this keeps the written index in
	// version order rather than in the tags' alphabetical order.
	sort.Slice(f.Versions, func(i, j int) bool {
		return semver.MustParse(f.Versions[i].Version).LessThan(semver.MustParse(f.Versions[j].Version))
	})
	if len(f.Versions) == 0 && len(f.Refs) == 0 {
		var why []string
		for _, s := range b.skipped {
			why = append(why, s.Ref+": "+s.Reason)
		}
		return nil, fmt.Errorf("no tag or branch gives a version or ref (%s)", strings.Join(why, "; "))
	}
	return b, nil
}

// repoSource is where a repository's flake is published, with its dir.
func repoSource(r Repo) (*pb.FlakeLocation, error) {
	source := &pb.FlakeLocation{Type: "git", Url: "file://" + r.Dir}
	if r.Source != nil {
		source = proto.Clone(r.Source).(*pb.FlakeLocation)
		switch t, _ := flakeref.LookupType(source.Type); {
		case t == nil || t.Kind != flakeref.KindForge && t.Name != "git" && t.Name != "tarball":
			return nil, fmt.Errorf("%s sources cannot publish a git repository; expected github, gitlab, sourcehut, git or tarball", source.Type)
		case t.Name == "tarball":
			if err := checkTemplate(source.Url); err != nil {
				return nil, err
			}
		}
	}
	switch {
	case r.Subdir != "" && source.Dir != "" && r.Subdir != source.Dir:
		return nil, fmt.Errorf("the flake's directory is given twice, %q and %q (dir of its source)", r.Subdir, source.Dir)
	case r.Subdir != "":
		source.Dir = r.Subdir
	}
	if source.Dir != "" {
		clean := path.Clean(source.Dir)
		if path.IsAbs(clean) || clean == ".." || strings.HasPrefix(clean, "../") {
			return nil, fmt.Errorf("dir %q is not a directory within the repository", source.Dir)
		}
		if clean == "." {
			clean = "" // the top, as no dir says
		}
		source.Dir = clean
	}
	return source, nil
}

var placeholderRE = regexp.MustCompile(`\{[^{}]*\}`)

// placeholders are what a tarball URL template may say, and the fields of
// a version they stand for.
var placeholders = []string{"{version}", "{tag}", "{rev}"}

func checkTemplate(url string) error {
	found := placeholderRE.FindAllString(url, -1)
	if len(found) == 0 {
		return fmt.Errorf("tarball URL %s has no {version}, {tag} or {rev}: one URL serves one tree, so every version needs its own", url)
	}
	for _, p := range found {
		if !slices.Contains(placeholders, p) {
			return fmt.Errorf("tarball URL %s: unknown placeholder %s (expected {version}, {tag} or {rev})", url, p)
		}
	}
	return nil
}

// expand fills a tarball URL template in for one version.
func expand(template, version, tag, rev string) string {
	return strings.NewReplacer("{version}", version, "{tag}", tag, "{rev}", rev).Replace(template)
}

type treeResult struct {
	t   *tree
	err error
}

// builder turns one repository's tags and heads into versions and refs.
type builder struct {
	g            git
	repo, subdir string
	isFlake      bool
	flake        *pb.Flake
	// Tags and branches often share commits; each is read once.
	trees        map[string]treeResult
	byPrecedence map[string]string // version without build metadata -> the ref that gave it
	skipped      []Skipped
}

func (b *builder) skip(ref, format string, args ...any) {
	b.skipped = append(b.skipped, Skipped{Repo: b.repo, Ref: ref, Reason: fmt.Sprintf(format, args...)})
}

// read returns a commit's tree; a nil tree and nil error when the tree is
// odd, after skipping ref with the reason.
func (b *builder) read(ref, rev string) (*tree, error) {
	r, ok := b.trees[rev]
	if !ok {
		t, err := b.g.tree(rev, b.subdir, b.isFlake)
		r = treeResult{t, err}
		b.trees[rev] = r
	}
	var odd *oddTree
	switch {
	case errors.As(r.err, &odd):
		b.skip(ref, "%v", odd.err)
		return nil, nil
	case r.err != nil:
		return nil, r.err
	case b.isFlake && r.t.flake == nil:
		b.skip(ref, "no %s at %.12s", path.Join(b.subdir, "flake.nix"), rev)
		return nil, nil
	}
	return r.t, nil
}

func (b *builder) tag(tg ref) error {
	label := "tag " + tg.name
	if tg.odd != "" {
		b.skip(label, "%s", tg.odd)
		return nil
	}
	t, err := b.read(label, tg.rev)
	if t == nil || err != nil {
		return err
	}
	v, why := tagVersion(tg.name, t.flake)
	if v == "" {
		b.skip(label, "%s", why)
		return nil
	}
	b.addVersion(label, v, tg.name, t)
	return nil
}

func (b *builder) head(h ref, rolling bool, defaultBranch string) error {
	label := "branch " + h.name
	t, err := b.read(label, h.rev)
	if t == nil || err != nil {
		return err
	}
	if rolling {
		// FlakeHub's numbering of rolling releases; branches that are
		// neither the default nor a release line are refs only.
		if line, ok := flakeref.ReleaseLine(h.name, defaultBranch); ok && (line != 1 || h.name == defaultBranch) {
			b.addVersion(label, fmt.Sprintf("0.%d.%d", line, t.revCount), h.name, t)
		}
	}
	if b.flake.Source.Type == "tarball" {
		return nil // a ref has no URL of its own
	}
	b.flake.Refs[h.name] = b.ref(t)
	return nil
}

// ref records a tree as a ref head or a pinned rev.
func (b *builder) ref(t *tree) *pb.Ref {
	rf := &pb.Ref{Rev: t.rev, NarHash: t.narHash, LastModified: t.lastModified, LockFile: t.lock}
	if t.flake != nil {
		rf.Inputs = flakenix.ToProto(t.flake.Inputs)
	}
	if b.flake.Source.Type == "git" {
		rf.RevCount = t.revCount
	}
	return rf
}

// addVersion records a version of the tree that ref (a tag, or a branch of
// a rolling flake) names, unless another ref already gave that version.
func (b *builder) addVersion(label, version, refName string, t *tree) {
	key, _, _ := strings.Cut(version, "+")
	if prev, dup := b.byPrecedence[key]; dup {
		b.skip(label, "version %s is already %s", version, prev)
		return
	}
	b.byPrecedence[key] = label
	src := b.flake.Source
	locked := &pb.FlakeRef{Rev: t.rev, NarHash: t.narHash, LastModified: t.lastModified}
	switch src.Type {
	case "git":
		// Nix's git fetcher records the ref it fetched and the commit
		// count; the forges' fetchers record neither.
		locked.Ref, locked.RevCount = refName, t.revCount
	case "tarball":
		// A tarball carries no ref, only its own URL; its rev and commit
		// count are what the lockable tarball protocol records for newer
		// Nix (the lock writer keeps them for the Nix it writes for).
		locked = &pb.FlakeRef{Type: "tarball", Url: expand(src.Url, version, refName, t.rev), Dir: src.Dir, Rev: t.rev, RevCount: t.revCount, NarHash: t.narHash, LastModified: t.lastModified}
	}
	v := &pb.Version{Version: version, Locked: locked, LockFile: t.lock}
	if t.flake != nil {
		v.Inputs = flakenix.ToProto(t.flake.Inputs)
	}
	b.flake.Versions = append(b.flake.Versions, v)
}

// tagVersion is a tag's version: the tag itself when it is SemVer (with
// or without a "v"), else the tagged flake.nix's own version (f is nil for
// trees that are not flakes).
func tagVersion(tag string, f *flakenix.Flake) (string, string) {
	fromTag := ""
	if v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v")); err == nil {
		fromTag = v.String()
	}
	declared := ""
	if f != nil {
		declared = f.Version
	}
	switch {
	case fromTag != "" && declared != "" && declared != fromTag:
		return "", fmt.Sprintf("the tag says %s but its flake.nix says version %q", fromTag, declared)
	case fromTag != "":
		return fromTag, ""
	case declared != "":
		if _, err := semver.StrictNewVersion(declared); err != nil {
			return "", fmt.Sprintf("flake.nix version %q is not SemVer", declared)
		}
		return declared, ""
	case f == nil:
		return "", "the tag is not a SemVer version"
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
	h, err := nixhash.NewHash(nixhash.SHA256, sum.Sum(nil))
	if err != nil {
		return "", err
	}
	return h.Format(nixhash.SRI, true), nil
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
