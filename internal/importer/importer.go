// Package importer builds a versioned index from a snapshot of real flakes
// (the real-flakes.json format: GitHub repositories, their tags and release
// branches, each with rev, narHash, lastModified, revCount, the inputs
// flake.nix declares, and its committed flake.lock).
//
// Every version and ref carries its tree's own flake.lock, recorded exactly
// as committed (lockfile.Record): Nix locks a dependency's input that has
// no requirement, and that no override or follows touches, to that lock's
// pin, so the resolver needs it to lock as Nix does.
//
// No published flake declares versions on its inputs yet, so the importer
// infers them. The rules, applied in this order, are:
//
//  1. Names. A flake is named by its repository, lowercased (hyprwm/Hyprland
//     is "hyprland"), except nix-systems/default and default-linux, which are
//     "systems" and "systems-linux" as flakes call them.
//  2. Tagged versions. Every tag the snapshot normalised to SemVer becomes a
//     version, unless its narHash could not be computed (it could not be
//     locked). When tags normalise to the same precedence, a tag that was
//     SemVer as written beats a coerced or date tag, then the newer commit
//     wins; the others are dropped and counted. The flake is numbered
//     NUMBERING_TAGS.
//  3. Release lines of untagged flakes. A flake with no usable tag is
//     numbered as FlakeHub numbers it (NUMBERING_COMMIT_COUNT): a release
//     branch (release-YY.MM, nixos-YY.MM, nix-darwin-YY.MM, YY.MM; see
//     flakeref.ReleaseLine) gives version 0.YYMM.N and the default branch
//     gives 0.1.N, where N is the commit count (revCount) of the branch
//     head, exactly FlakeHub's number, so that a FlakeHub URL that fh wrote
//     (https://flakehub.com/f/OWNER/REPO/0.1.941) means the same tree here.
//     A head whose commit count the snapshot lacks is dropped and counted.
//  4. nixpkgs. nixpkgs is not in the snapshot, but its locks pin it hundreds
//     of times. Each distinct GitHub pin of NixOS/nixpkgs (a root input of a
//     lock) becomes a version by the branch it was locked from: nixos-YY.MM,
//     nixos-YY.MM-small, nixpkgs-YY.MM-darwin and release-YY.MM give
//     0.YYMM.N; nixos-unstable, nixos-unstable-small, nixpkgs-unstable,
//     master and no branch give 0.1.N. A pin has no commit count, so N is
//     its commit time, and the flake says so: NUMBERING_COMMIT_TIME. Pins of
//     other branches are dropped. The newest pin of each branch becomes a
//     ref.
//  5. Refs. Every branch head with a narHash is a ref, with the inputs its
//     flake.nix declares; the default branch is the default ref.
//  6. Input requirements, for inputs that name a flake of the index:
//     - a FlakeHub URL (https://flakehub.com/f/OWNER/REPO/REQ.tar.gz) keeps
//     REQ, percent-decoded, as the requirement when it is a Cargo
//     requirement, even where its patch counts commits of a flake numbered
//     by time (see below);
//     - a branch of nixpkgs or of a release-line flake gives "^0.YYMM", or
//     "^0.1" for unstable and default branches;
//     - a tag gives "=VERSION" of that tag;
//     - an input with no ref or rev takes the version that the flake's own
//     flake.lock pinned: the tagged version at that rev, else the newest
//     tagged version no newer than the pin (the pin had at least that
//     release). For a release-line target the pin's own number: its
//     0.1.N version when the pin is the default branch's head the index
//     has, else no patch bound at all ("^0.1", counted as
//     lock-pin-count-unknown), since a pin's commit time must not stand in
//     for a count; for nixpkgs, numbered by time, "^0.1.TIME". The
//     requirement is a caret requirement on that version.
//     Inputs pinned to a rev, and inputs of flakes the index lacks, stay
//     unversioned and lock as today's Nix locks them.
//
// Reading a FlakeHub requirement against Flake.numbering. A FlakeHub
// requirement's patch counts commits. Against a flake numbered by tags or
// by commit count it means what it says. Against a flake numbered by
// commit time (nixpkgs here) a patch bound means nothing, and a reader
// drops it explicitly rather than compare a count with a time: each
// comparator that names a patch keeps its major and minor only, "^", "~"
// and "=" keeping their operator (^0.2305.490449 becomes ^0.2305,
// =0.1.793735 becomes =0.1, which is 0.1.x), ">" and ">=" becoming ">="
// (>0.1.5 becomes >=0.1) and "<" and "<=" becoming "<=" (<0.2305.5
// becomes <=0.2305), so the bound widens to the whole MAJOR.MINOR series
// and never narrows; comparators without a patch, and wildcards, stay.
// The resolver applies this rule; the importer records the requirement as
// written.
package importer

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// snapshot mirrors the parts of real-flakes.json the importer reads.
type snapshot struct {
	Flakes []struct {
		Owner         string          `json:"owner"`
		Repo          string          `json:"repo"`
		Description   string          `json:"description"`
		DefaultBranch string          `json:"defaultBranch"`
		Versions      []tree          `json:"versions"`
		Branches      map[string]tree `json:"branches"`
	} `json:"flakes"`
}

type tree struct {
	Tag           string                     `json:"tag"`
	Version       *string                    `json:"version"`
	VersionScheme string                     `json:"versionScheme"`
	Rev           string                     `json:"rev"`
	LastModified  int64                      `json:"lastModified"`
	RevCount      *int64                     `json:"revCount"`
	NarHash       string                     `json:"narHash"`
	Inputs        map[string]json.RawMessage `json:"inputs"`
	InputsError   string                     `json:"inputsError"`
	Lock          *struct {
		Inputs map[string]struct {
			Original map[string]any `json:"original"`
			Locked   map[string]any `json:"locked"`
		} `json:"inputs"`
	} `json:"lock"`
	LockFile json.RawMessage `json:"lockFile"`
}

// Report counts what the import kept and dropped, and why.
type Report struct {
	Flakes, Versions, Refs, NixpkgsPins     int
	DroppedNoNarHash, DroppedSamePrecedence int
	DroppedInputsError, DroppedInputs       int
	DroppedNoRevCount                       int // branch heads of untagged flakes
	LockFiles                               int
	Inferred                                map[string]int // requirement rule -> inputs
}

var shortNames = map[string]string{"nix-systems/default": "systems", "nix-systems/default-linux": "systems-linux"}

// Import reads a snapshot file and returns the inferred index.
func Import(path string) (*pb.Index, *Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return nil, nil, fmt.Errorf("%s: not a real-flakes snapshot: %v", path, err)
	}
	im := &importer{rep: &Report{Inferred: map[string]int{}}, byRepo: map[string]*target{}}
	im.collect(&snap)
	out := &pb.Index{Schema: 1}
	for _, t := range im.targets {
		f, err := im.build(t)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err)
		}
		out.Flakes = append(out.Flakes, f)
	}
	sort.Slice(out.Flakes, func(i, j int) bool { return out.Flakes[i].Name < out.Flakes[j].Name })
	im.rep.Flakes = len(out.Flakes)
	for _, f := range out.Flakes {
		im.rep.Versions += len(f.Versions)
		im.rep.Refs += len(f.Refs)
	}
	return out, im.rep, nil
}

// target is a flake of the index being built, before its inputs are
// converted (conversion needs every target's versions).
type target struct {
	name, owner, repo, description, defaultBranch string
	numbering                                     pb.Numbering
	versions                                      []*candidate
	refs                                          map[string]tree
}

type candidate struct {
	v    *semver.Version
	tree tree
}

type importer struct {
	rep     *Report
	targets []*target
	byRepo  map[string]*target // lowercase owner/repo
}

// releaseLines reports whether a flake's versions are FlakeHub's
// 0.YYMM.N and 0.1.N rather than its own releases.
func (t *target) releaseLines() bool { return t.numbering != pb.Numbering_NUMBERING_TAGS }

func (im *importer) collect(snap *snapshot) {
	for _, sf := range snap.Flakes {
		key := strings.ToLower(sf.Owner + "/" + sf.Repo)
		name := shortNames[key]
		if name == "" {
			name = strings.ToLower(sf.Repo)
		}
		t := &target{name: name, owner: sf.Owner, repo: sf.Repo, description: sf.Description, defaultBranch: sf.DefaultBranch,
			numbering: pb.Numbering_NUMBERING_TAGS, refs: map[string]tree{}}
		for _, tr := range sf.Versions {
			if tr.Version == nil {
				continue
			}
			if tr.NarHash == "" {
				im.rep.DroppedNoNarHash++
				continue
			}
			if tr.InputsError != "" {
				im.rep.DroppedInputsError++
				continue
			}
			v, err := semver.StrictNewVersion(*tr.Version)
			if err != nil {
				continue
			}
			t.versions = append(t.versions, &candidate{v, tr})
		}
		for b, tr := range sf.Branches {
			if tr.NarHash != "" && tr.InputsError == "" {
				t.refs[b] = tr
			}
		}
		if len(t.versions) == 0 {
			t.numbering = pb.Numbering_NUMBERING_COMMIT_COUNT
			for b, tr := range t.refs {
				line, ok := flakeref.ReleaseLine(b, sf.DefaultBranch)
				if !ok || line == 1 && b != sf.DefaultBranch {
					continue
				}
				if tr.RevCount == nil {
					im.rep.DroppedNoRevCount++
					continue
				}
				t.versions = append(t.versions, &candidate{semver.New(0, line, uint64(*tr.RevCount), "", ""), tr})
			}
		}
		t.versions = im.dedupe(t.versions)
		im.targets = append(im.targets, t)
		im.byRepo[key] = t
	}
	im.collectNixpkgs(snap)
}

// dedupe keeps one candidate per precedence: SemVer-as-written first, then
// the newest commit.
func (im *importer) dedupe(cs []*candidate) []*candidate {
	rank := func(c *candidate) int {
		if c.tree.VersionScheme == "semver" || c.tree.VersionScheme == "" {
			return 0
		}
		return 1
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if c := cs[i].v.Compare(cs[j].v); c != 0 {
			return c < 0
		}
		if rank(cs[i]) != rank(cs[j]) {
			return rank(cs[i]) < rank(cs[j])
		}
		return cs[i].tree.LastModified > cs[j].tree.LastModified
	})
	var out []*candidate
	for _, c := range cs {
		if len(out) > 0 && out[len(out)-1].v.Compare(c.v) == 0 {
			im.rep.DroppedSamePrecedence++
			continue
		}
		out = append(out, c)
	}
	return out
}

func (im *importer) collectNixpkgs(snap *snapshot) {
	t := &target{name: "nixpkgs", owner: "NixOS", repo: "nixpkgs", description: "Nix Packages collection (versions inferred from lock pins)", defaultBranch: "master",
		numbering: pb.Numbering_NUMBERING_COMMIT_TIME, refs: map[string]tree{}}
	seen := map[string]bool{}
	visit := func(tr tree) {
		if tr.Lock == nil {
			return
		}
		for _, in := range tr.Lock.Inputs {
			l, o := in.Locked, in.Original
			if l == nil || str(l["type"]) != "github" || !strings.EqualFold(str(l["owner"]), "NixOS") || str(l["repo"]) != "nixpkgs" {
				continue
			}
			branch := str(o["ref"])
			line, ok := flakeref.ReleaseLine(branch, "master")
			if !ok || str(l["narHash"]) == "" {
				continue
			}
			pin := tree{Rev: str(l["rev"]), NarHash: str(l["narHash"]), LastModified: int64(num(l["lastModified"]))}
			if branch == "" {
				branch = "master"
			}
			if old, ok := t.refs[branch]; !ok || old.LastModified < pin.LastModified {
				t.refs[branch] = pin
			}
			key := fmt.Sprintf("%d/%s", line, pin.Rev)
			if seen[key] {
				continue
			}
			seen[key] = true
			im.rep.NixpkgsPins++
			t.versions = append(t.versions, &candidate{semver.New(0, line, uint64(pin.LastModified), "", ""), pin})
		}
	}
	for _, sf := range snap.Flakes {
		for _, tr := range sf.Versions {
			visit(tr)
		}
		for _, tr := range sf.Branches {
			visit(tr)
		}
	}
	t.versions = im.dedupe(t.versions)
	im.targets = append(im.targets, t)
	im.byRepo["nixos/nixpkgs"] = t
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func num(v any) float64 {
	f, _ := v.(float64)
	return f
}

func (im *importer) build(t *target) (*pb.Flake, error) {
	f := &pb.Flake{
		Name: t.name, Description: t.description, Numbering: t.numbering,
		Source: &pb.FlakeLocation{Type: "github", Owner: t.owner, Repo: t.repo},
		Refs:   map[string]*pb.Ref{},
	}
	for _, c := range t.versions {
		lf, err := im.lockFile(c.tree)
		if err != nil {
			return nil, fmt.Errorf("%s/%s version %s (%s): %w", t.owner, t.repo, c.v, c.tree.Tag, err)
		}
		f.Versions = append(f.Versions, &pb.Version{
			Version:  c.v.String(),
			Locked:   &pb.FlakeRef{Type: "github", Owner: t.owner, Repo: t.repo, Rev: c.tree.Rev, NarHash: c.tree.NarHash, LastModified: c.tree.LastModified},
			Inputs:   im.inputs(c.tree),
			LockFile: lf,
		})
	}
	for _, name := range slices.Sorted(maps.Keys(t.refs)) {
		tr := t.refs[name]
		lf, err := im.lockFile(tr)
		if err != nil {
			return nil, fmt.Errorf("%s/%s branch %s: %w", t.owner, t.repo, name, err)
		}
		f.Refs[name] = &pb.Ref{Rev: tr.Rev, NarHash: tr.NarHash, LastModified: tr.LastModified, Inputs: im.inputs(tr), LockFile: lf}
	}
	if _, ok := f.Refs[t.defaultBranch]; ok {
		f.DefaultRef = t.defaultBranch
	}
	return f, nil
}

// lockFile records a tree's committed flake.lock; nil when it has none.
func (im *importer) lockFile(tr tree) (*pb.LockFile, error) {
	if len(tr.LockFile) == 0 || string(tr.LockFile) == "null" {
		return nil, nil
	}
	lf, err := lockfile.Record("lockFile", tr.LockFile)
	if err != nil {
		return nil, err
	}
	im.rep.LockFiles++
	return lf, nil
}

// rawInput is an input as nix-instantiate printed it: a reference in URL or
// attribute form, and the attributes flake.nix may set.
type rawInput struct {
	URL     *string                    `json:"url"`
	Type    string                     `json:"type"`
	Owner   string                     `json:"owner"`
	Repo    string                     `json:"repo"`
	Host    string                     `json:"host"`
	Ref     string                     `json:"ref"`
	Rev     string                     `json:"rev"`
	Dir     string                     `json:"dir"`
	Flake   *bool                      `json:"flake"`
	Follows *string                    `json:"follows"`
	Inputs  map[string]json.RawMessage `json:"inputs"`
}

func (im *importer) inputs(tr tree) map[string]*pb.Input {
	out := map[string]*pb.Input{}
	for name, raw := range tr.Inputs {
		in := im.convert(raw)
		if in == nil {
			im.rep.DroppedInputs++
			continue
		}
		if in.Follows == nil && in.Url != "" {
			in.Version = im.infer(name, in.Url, tr)
		}
		out[name] = in
	}
	return out
}

func (im *importer) convert(raw json.RawMessage) *pb.Input {
	var r rawInput
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil
	}
	in := &pb.Input{Flake: r.Flake, Follows: r.Follows}
	switch {
	case r.URL != nil:
		in.Url = *r.URL
	case r.Type != "":
		in.Url = flakeref.String(&pb.FlakeRef{Type: r.Type, Owner: r.Owner, Repo: r.Repo, Host: r.Host, Ref: r.Ref, Rev: r.Rev, Dir: r.Dir})
	}
	for sub, sraw := range r.Inputs {
		if s := im.convert(sraw); s != nil {
			if in.Inputs == nil {
				in.Inputs = map[string]*pb.Input{}
			}
			in.Inputs[sub] = s
		}
	}
	return in
}

// infer applies rule 6 to one input; "" leaves it unversioned.
func (im *importer) infer(name, url string, tr tree) string {
	req, rule := im.inferRule(name, url, tr)
	if req != "" {
		if _, err := versionreq.Parse(req); err != nil {
			return ""
		}
		im.rep.Inferred[rule]++
	}
	return req
}

func (im *importer) inferRule(name, url string, tr tree) (string, string) {
	if owner, repo, req, ok := flakeref.FlakeHub(url); ok {
		if im.byRepo[strings.ToLower(owner+"/"+repo)] != nil {
			return req, "flakehub-url"
		}
		return "", ""
	}
	src, err := flakeref.Parse(url)
	if err != nil {
		return "", ""
	}
	var t *target
	switch {
	case src.Type == "github":
		t = im.byRepo[strings.ToLower(src.Owner+"/"+src.Repo)]
	case src.Type == "indirect" && src.Id == "nixpkgs":
		t = im.byRepo["nixos/nixpkgs"]
	}
	if t == nil || src.Rev != "" {
		return "", ""
	}
	if src.Ref != "" {
		if t.releaseLines() {
			if line, ok := flakeref.ReleaseLine(src.Ref, t.defaultBranch); ok {
				return fmt.Sprintf("^0.%d", line), "branch"
			}
			return "", ""
		}
		for _, c := range t.versions {
			if c.tree.Tag == src.Ref {
				return "=" + c.v.String(), "tag"
			}
		}
		return "", ""
	}
	pin, ok := lockedPin(tr, name)
	if !ok {
		return "", ""
	}
	switch t.numbering {
	case pb.Numbering_NUMBERING_COMMIT_TIME:
		return fmt.Sprintf("^0.1.%d", pin.LastModified), "lock-pin"
	case pb.Numbering_NUMBERING_COMMIT_COUNT:
		// The pin (of the default branch: the input names no ref) has a
		// known commit count only when it is one of the flake's own
		// trees; otherwise any rolling release will do, as a commit time
		// must not stand in for a count.
		for _, c := range t.versions {
			if c.tree.Rev == pin.Rev && c.v.Minor() == 1 {
				return "^" + c.v.String(), "lock-pin"
			}
		}
		return "^0.1", "lock-pin-count-unknown"
	}
	var best *candidate
	for _, c := range t.versions {
		if c.tree.Rev == pin.Rev {
			return "^" + c.v.String(), "lock-pin"
		}
		if c.v.Prerelease() == "" && c.tree.LastModified <= pin.LastModified && (best == nil || c.tree.LastModified > best.tree.LastModified) {
			best = c
		}
	}
	if best == nil {
		return "", ""
	}
	return "^" + best.v.String(), "lock-pin"
}

func lockedPin(tr tree, input string) (tree, bool) {
	if tr.Lock == nil {
		return tree{}, false
	}
	in, ok := tr.Lock.Inputs[input]
	if !ok || in.Locked == nil {
		return tree{}, false
	}
	return tree{Rev: str(in.Locked["rev"]), LastModified: int64(num(in.Locked["lastModified"]))}, true
}
