// Package index loads, validates and serves pre-evaluated indexes of
// versioned flakes.
//
// An index is what a registry publishes: for each flake, its versions, the
// exact tree each version locks to, and the inputs each version declares.
// The wire format is the flakeresolve.v1.Index protobuf message, read as JSON
// (protojson) or binary. Loading validates everything up front and reports
// every problem at once, naming the flake, the version and the field, so a
// registry operator fixes a file in one pass and a server never serves half
// an index.
//
// Validating a large index costs more than using it, so an index can be
// validated once and written as a snapshot (flakeresolve.v1.IndexSnapshot,
// MarshalSnapshot): the index compiled for loading, which a loader checks
// only for completeness (its length and digest) and for numbers in range.
// Every loaded index, from a snapshot or not, is laid out as a snapshot is:
// each flake's versions are columns of numbers into one string table, and
// the input declarations and lock files many versions share are stored
// once and decoded on first use. A Version is three words, its pin and
// inputs are read from the columns when asked for, so a million versions
// cost a few hundred megabytes with few pointers, which keeps the garbage
// collector's work, and the pauses requests see, small.
//
// Loaded indexes are immutable. Several can be layered (Layers): a name
// found in an earlier index hides it in every later one, so versions of one
// name never mix across indexes and a public flake cannot shadow a private
// one. Immutability is what lets a server answer concurrent requests without
// locks and swap in a reloaded index atomically.
package index

import (
	"slices"
	"strings"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	"github.com/Masterminds/semver/v3"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Schema is the index layout this build reads and writes.
const Schema = 1

// Index is one loaded, validated index.
type Index struct {
	// Origin says where the index came from (a file name, or "default").
	Origin string
	flakes []*Flake
	byName map[string]*Flake
	tab    *tables
}

// Flake is a flake of an index with its versions sorted.
type Flake struct {
	Name        string
	Description string
	Source      *pb.FlakeLocation
	Refs        map[string]*Ref
	// Revs are trees at revs that inputs name by rev, keyed by rev: no
	// version or ref head is them.
	Revs       map[string]*Ref
	DefaultRef string
	// Numbering says how the versions are numbered; a FlakeHub
	// requirement's patch counts commits, which a flake numbered by
	// commit time cannot compare.
	Numbering pb.Numbering
	// Origin is the Origin of the index the flake came from.
	Origin string
	// Versions ascending by SemVer precedence.
	Versions    []*Version
	releases    []*Version
	prereleases []*Version
	// cols hold what each version pins and declares, by number in tab;
	// a Version is its place in them.
	cols *pb.VersionColumns
	tab  *tables
	// located is Source as a reference, made on first use (see
	// Version.Locked).
	located atomic.Pointer[pb.FlakeRef]
}

// Version is one version of a flake. What it pins and declares stays in
// its flake's columns until asked for: a loaded index is mostly versions
// no resolution reaches, and three words a version (its SemVer lives in
// one array per flake) keep the heap small and cheap for the garbage
// collector to scan.
type Version struct {
	SemVer *semver.Version
	flake  *Flake
	i      int
}

// Locked is the exact tree of the version, with its location filled in
// from the flake's source when the index gives none: a new message each
// call, which the caller may keep or change.
func (v *Version) Locked() *pb.FlakeRef {
	f, pin := v.flake, v.pin()
	if f.Source == nil || pin.Type != "" {
		return pin
	}
	// pinTo's location is the flake's, the same for every version: a copy
	// of it made once costs less than making it again by its fields' names.
	at := f.located.Load()
	if at == nil {
		at = flakeref.AtLocation(f.Source)
		f.located.Store(at)
	}
	c := proto.Clone(at).(*pb.FlakeRef)
	proto.Merge(c, pin)
	return c
}

// pin is the version's locked source as the index gives it.
func (v *Version) pin() *pb.FlakeRef {
	c := v.flake.cols
	pin := &pb.FlakeRef{}
	if x := column(c.PinExtra, v.i); x != 0 {
		pin = proto.Clone(v.flake.tab.extras[x-1]).(*pb.FlakeRef)
	}
	pin.Rev, pin.NarHash, pin.Ref = v.Rev(), v.NarHash(), v.Ref()
	pin.LastModified, pin.RevCount = column(c.LastModified, v.i), column(c.RevCount, v.i)
	return pin
}

// NarHash is Locked().NarHash, without building the source.
func (v *Version) NarHash() string { return v.flake.tab.str(column(v.flake.cols.NarHash, v.i)) }

// Rev is Locked().Rev, without building the source.
func (v *Version) Rev() string { return v.flake.tab.str(column(v.flake.cols.Rev, v.i)) }

// Ref is Locked().Ref, without building the source: the tag the version
// was published under, when the index records it.
func (v *Version) Ref() string { return v.flake.tab.str(column(v.flake.cols.Ref, v.i)) }

// Inputs are the version's inputs as its flake.nix declares them. Versions
// that declare the same inputs share one map, which callers must not
// change.
func (v *Version) Inputs() map[string]*pb.Input {
	return v.flake.tab.inputs(column(v.flake.cols.InputSet, v.i)).get()
}

// InputsKey identifies the version's input declarations: two versions
// with equal keys declare identical inputs.
func (v *Version) InputsKey() string {
	return v.flake.tab.inputs(column(v.flake.cols.InputSet, v.i)).key()
}

// InputsID identifies the version's input declarations as InputsKey
// does, in a word: two versions of one index with equal IDs declare
// identical inputs, and the zero ID is no inputs. Callers that compare
// many versions' inputs hash this instead of the key.
func (v *Version) InputsID() InputsID {
	return InputsID{v.flake.tab.inputs(column(v.flake.cols.InputSet, v.i)).id()}
}

// InputsID is what Version.InputsID returns.
type InputsID struct{ set *inputSet }

// Lock is the version's own committed flake.lock, nil when the tree has
// none. Nix locks the version's unversioned inputs to its pins.
func (v *Version) Lock() *lockfile.Node {
	return v.flake.tab.lock(column(v.flake.cols.LockFile, v.i)).graph()
}

// Ref is the head of a named ref (branch or tag) of a flake.
type Ref struct {
	Name string
	// Locked is the flake's source pinned to the ref's tree.
	Locked *pb.FlakeRef
	Inputs map[string]*pb.Input
	lock   *ownLock
}

// Lock is the ref head's own committed flake.lock, nil when it has none.
func (r *Ref) Lock() *lockfile.Node { return r.lock.graph() }

func (v *Version) String() string { return v.SemVer.Original() }

// Index is the version's place in its flake's Versions.
func (v *Version) Index() int { return v.i }

func semverOf(v *Version) *semver.Version { return v.SemVer }

// Flakes returns the index's flakes sorted by name, in a new slice the
// caller may reorder.
func (ix *Index) Flakes() []*Flake { return slices.Clone(ix.flakes) }

// Flake returns the flake with the given name, or nil.
func (ix *Index) Flake(name string) *Flake { return ix.byName[name] }

// Select returns the versions that satisfy r, ascending.
func (f *Flake) Select(r *versionreq.Req) []*Version {
	return versionreq.Select(r, f.releases, f.prereleases, semverOf)
}

// HasPrereleases says whether any version of the flake is a prerelease:
// most flakes have none, and a caller that sorts versions by kind need not
// look at each.
func (f *Flake) HasPrereleases() bool { return len(f.prereleases) > 0 }

// Stats are the sizes of an index.
type Stats struct {
	Flakes, Versions, Inputs, Refs int
}

func (ix *Index) Stats() Stats {
	var s Stats
	s.Flakes = len(ix.flakes)
	sizes := make([]int, len(ix.tab.sets)+1)
	for k := range ix.tab.sets {
		sizes[k+1] = ix.tab.sets[k].size()
	}
	for _, f := range ix.flakes {
		s.Versions += len(f.Versions)
		s.Refs += len(f.Refs)
		if len(f.cols.InputSet) == 0 {
			continue
		}
		for _, k := range f.cols.InputSet {
			s.Inputs += sizes[k]
		}
	}
	return s
}

// sourceKey identifies where a flake lives, for lookups by source. GitHub,
// GitLab and SourceHut owners and repositories compare case-insensitively,
// as those forges do.
type sourceKey struct{ typ, host, owner, repo, url, path, dir string }

func keyOf(s *pb.FlakeRef) sourceKey {
	if s == nil {
		return sourceKey{}
	}
	k := sourceKey{typ: s.Type, host: s.Host, owner: s.Owner, repo: s.Repo, url: s.Url, path: s.Path, dir: s.Dir}
	switch s.Type {
	case "github", "gitlab", "sourcehut":
		k.host, k.owner, k.repo = strings.ToLower(k.host), strings.ToLower(k.owner), strings.ToLower(k.repo)
	case "git", "hg":
		// Nix 2.8 keeps ?dir= in a git URL as well as in dir; the
		// repository is the URL without it.
		k.url = flakeref.RepoURL(k.url)
	}
	return k
}
