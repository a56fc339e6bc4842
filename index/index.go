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
// Loaded indexes are immutable. Several can be layered (Layers): a name
// found in an earlier index hides it in every later one, so versions of one
// name never mix across indexes and a public flake cannot shadow a private
// one. Immutability is what lets a server answer concurrent requests without
// locks and swap in a reloaded index atomically.
package index

import (
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
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
}

// Version is one version of a flake.
type Version struct {
	SemVer *semver.Version
	Locked *pb.FlakeRef
	Inputs map[string]*pb.Input
	// Requirements are the parsed version requirements of Inputs, by input
	// name; unversioned inputs have none.
	Requirements map[string]*versionreq.Req
	inputsKey    atomic.Pointer[string]
	lock         ownLock
}

// ownLock is a tree's own committed flake.lock, turned into a graph on
// first use: only resolutions that lock through it need it.
type ownLock struct {
	file *pb.LockFile
	once sync.Once
	root *lockfile.Node
}

func (l *ownLock) graph() *lockfile.Node {
	l.once.Do(func() {
		// Loading validated the lock file, so it builds.
		l.root, _ = lockfile.FromProto(l.file)
	})
	return l.root
}

// Lock is the version's own committed flake.lock, nil when the tree has
// none. Nix locks the version's unversioned inputs to its pins.
func (v *Version) Lock() *lockfile.Node { return v.lock.graph() }

// InputsKey identifies the version's input declarations: two versions
// with equal keys declare identical inputs. It is computed on first use,
// since only resolutions that reach the version need it.
func (v *Version) InputsKey() string {
	if k := v.inputsKey.Load(); k != nil {
		return *k
	}
	var b strings.Builder
	opts := proto.MarshalOptions{Deterministic: true}
	for _, name := range slices.Sorted(maps.Keys(v.Inputs)) {
		data, _ := opts.Marshal(v.Inputs[name])
		b.WriteString(name)
		b.WriteByte(0)
		b.Write(data)
		b.WriteByte(0)
	}
	k := b.String()
	v.inputsKey.Store(&k)
	return k
}

// Ref is the head of a named ref (branch or tag) of a flake.
type Ref struct {
	Name string
	// Locked is the flake's source pinned to the ref's tree.
	Locked *pb.FlakeRef
	Inputs map[string]*pb.Input
	lock   ownLock
}

// Lock is the ref head's own committed flake.lock, nil when it has none.
func (r *Ref) Lock() *lockfile.Node { return r.lock.graph() }

func (v *Version) String() string { return v.SemVer.Original() }

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

// Stats are the sizes of an index.
type Stats struct {
	Flakes, Versions, Inputs, Refs int
}

func (ix *Index) Stats() Stats {
	var s Stats
	s.Flakes = len(ix.flakes)
	for _, f := range ix.flakes {
		s.Versions += len(f.Versions)
		s.Refs += len(f.Refs)
		for _, v := range f.Versions {
			s.Inputs += len(v.Inputs)
		}
	}
	return s
}

// newIndex builds the lookup structures of a validated message, each
// worker's share of flakes with the cache that validated them. It assumes
// validation passed: names are unique and versions parse.
func newIndex(origin string, m *pb.Index, caches []*loadCache, shares [][]int) *Index {
	flakes := make([]*Flake, len(m.Flakes))
	var wg sync.WaitGroup
	for w, share := range shares {
		wg.Go(func() {
			for _, i := range share {
				flakes[i] = newFlake(origin, m.Flakes[i], caches[w])
			}
		})
	}
	wg.Wait()
	ix := &Index{Origin: origin, flakes: flakes, byName: make(map[string]*Flake, len(flakes))}
	for _, f := range flakes {
		ix.byName[f.Name] = f
	}
	sort.Slice(ix.flakes, func(i, j int) bool { return ix.flakes[i].Name < ix.flakes[j].Name })
	return ix
}

func newFlake(origin string, pf *pb.Flake, reqs *loadCache) *Flake {
	f := &Flake{
		Name: pf.Name, Description: pf.Description, Source: pf.Source,
		Refs: make(map[string]*Ref, len(pf.Refs)), DefaultRef: pf.DefaultRef, Numbering: pf.Numbering, Origin: origin,
	}
	for name, r := range pf.Refs {
		f.Refs[name] = &Ref{Name: name, Locked: pinTo(pf.Source, refPin(r)), Inputs: r.Inputs, lock: ownLock{file: r.LockFile}}
	}
	for rev, r := range pf.Revs {
		if f.Revs == nil {
			f.Revs = make(map[string]*Ref, len(pf.Revs))
		}
		f.Revs[rev] = &Ref{Locked: pinTo(pf.Source, refPin(r)), Inputs: r.Inputs, lock: ownLock{file: r.LockFile}}
	}
	for _, pv := range pf.Versions {
		v := &Version{SemVer: reqs.version(pv.Version), Locked: reqs.pinTo(pf.Source, pv.Locked), Inputs: pv.Inputs, lock: ownLock{file: pv.LockFile}}
		for name, in := range pv.Inputs {
			if in.Version == "" {
				continue
			}
			if v.Requirements == nil {
				v.Requirements = map[string]*versionreq.Req{}
			}
			v.Requirements[name], _ = reqs.parse(in.Version)
		}
		f.Versions = append(f.Versions, v)
	}
	sort.Slice(f.Versions, func(i, j int) bool { return f.Versions[i].SemVer.LessThan(f.Versions[j].SemVer) })
	for _, v := range f.Versions {
		if v.SemVer.Prerelease() == "" {
			f.releases = append(f.releases, v)
		} else {
			f.prereleases = append(f.prereleases, v)
		}
	}
	return f
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
