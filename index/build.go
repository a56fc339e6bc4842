package index

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// build lays out a snapshot payload as a loaded index. It relies on what
// validation established when the payload was compiled (versions, pins,
// inputs and lock files are well formed) and checks only the payload's
// shape: column lengths, every number in range, versions in order. That
// is one pass over integers, and it turns a payload from a broken writer
// into an error at load rather than a crash in a request.
//
// from, for a payload compiled in this process, holds its input sets and
// lock files as messages, which the payload leaves out.
func build(origin string, p *pb.IndexSnapshot, from *compiled) (*Index, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s: inconsistent snapshot: %s", origin, fmt.Sprintf(format, args...))
	}
	for _, t := range []struct {
		name string
		ends []uint32
		size int
	}{
		{"string table", p.StringEnds, len(p.Strings)},
		{"input sets", p.InputSetEnds, len(p.InputSets)},
		{"lock files", p.LockFileEnds, len(p.LockFiles)},
		{"lock nodes", p.LockNodeEnds, len(p.LockNodes)},
	} {
		if err := checkEnds(t.ends, t.size); err != nil {
			return nil, bad("%s: %v", t.name, err)
		}
	}
	for k, x := range p.PinExtras {
		if x == nil {
			return nil, bad("pin extra %d is empty", k+1)
		}
	}
	tab := newTables(origin, p, from)
	ix := &Index{Origin: origin, flakes: make([]*Flake, len(p.Flakes)), byName: make(map[string]*Flake, len(p.Flakes)), tab: tab}
	var chunks []versionChunk
	for i, pf := range p.Flakes {
		if pf.Name == "" || (i > 0 && pf.Name <= p.Flakes[i-1].Name) {
			return nil, bad("flake #%d is named %q, after %q: expected unique names in order", i, pf.Name, p.Flakes[max(i-1, 0)].Name)
		}
		f, err := newFlake(origin, pf, tab)
		if err != nil {
			return nil, bad("flake %s: %v", pf.Name, err)
		}
		ix.flakes[i] = f
		ix.byName[f.Name] = f
		var parsed []*semver.Version
		if from != nil {
			parsed = from.semver[i]
		}
		chunks = appendChunks(chunks, f, parsed)
	}
	if err := parseVersions(chunks); err != nil {
		return nil, bad("%v", err)
	}
	for _, f := range ix.flakes {
		for i := 1; i < len(f.Versions); i++ {
			if !f.Versions[i-1].SemVer.LessThan(f.Versions[i].SemVer) {
				return nil, bad("flake %s: version %s follows %s: expected ascending precedence", f.Name, f.Versions[i], f.Versions[i-1])
			}
		}
		for _, v := range f.Versions {
			if v.SemVer.Prerelease() != "" {
				f.prereleases = append(f.prereleases, v)
			}
		}
		f.releases = f.Versions
		if len(f.prereleases) > 0 {
			// Most flakes have no prereleases, and share one slice.
			f.releases = make([]*Version, 0, len(f.Versions)-len(f.prereleases))
			for _, v := range f.Versions {
				if v.SemVer.Prerelease() == "" {
					f.releases = append(f.releases, v)
				}
			}
		}
	}
	return ix, nil
}

// checkEnds checks a table's end offsets: ascending, the last at the end
// of its concatenation.
func checkEnds(ends []uint32, size int) error {
	prev := uint32(0)
	for k, e := range ends {
		if e < prev {
			return fmt.Errorf("item %d ends at %d, before the previous one", k+1, e)
		}
		prev = e
	}
	if int(prev) != size {
		return fmt.Errorf("items end at %d, the concatenation has %d bytes", prev, size)
	}
	return nil
}

func newTables(origin string, p *pb.IndexSnapshot, from *compiled) *tables {
	sets, locks := len(p.InputSetEnds), len(p.LockFileEnds)
	if from != nil {
		sets, locks = len(from.sets), len(from.locks)
	}
	tab := &tables{origin: origin, strings: p.Strings, stringEnds: p.StringEnds, extras: p.PinExtras,
		sets: make([]inputSet, sets), locks: make([]ownLock, locks)}
	for k := range tab.sets {
		s := &tab.sets[k]
		s.tab, s.k = tab, k+1
		if from != nil {
			s.inputs = from.sets[k]
			continue
		}
		lo, hi := span(p.InputSetEnds, uint32(k+1))
		s.raw = p.InputSets[lo:hi]
	}
	for k := range tab.locks {
		l := &tab.locks[k]
		l.tab, l.k = tab, k+1
		if from != nil {
			l.file = from.locks[k]
			continue
		}
		lo, hi := span(p.LockFileEnds, uint32(k+1))
		l.raw = p.LockFiles[lo:hi]
	}
	if from == nil {
		// Lock files compiled in this process are built from their
		// messages; only a loaded snapshot reads its nodes.
		tab.nodes = make([]lockNode, len(p.LockNodeEnds))
		for k := range tab.nodes {
			n := &tab.nodes[k]
			lo, hi := span(p.LockNodeEnds, uint32(k+1))
			n.tab, n.k, n.raw = tab, k+1, p.LockNodes[lo:hi]
		}
	}
	return tab
}

// newFlake builds a flake and its refs, and lays out its versions, whose
// SemVer parseVersions fills in.
func newFlake(origin string, pf *pb.FlakeSnapshot, tab *tables) (*Flake, error) {
	c := pf.Versions
	if c == nil {
		c = &pb.VersionColumns{}
	}
	if err := checkColumns(c, tab); err != nil {
		return nil, err
	}
	f := &Flake{Name: pf.Name, Description: pf.Description, Source: pf.Source, DefaultRef: pf.DefaultRef, Numbering: pf.Numbering, Origin: origin, cols: c, tab: tab}
	var err error
	if f.Refs, err = newRefs("ref", pf.Refs, pf.Source, tab); err != nil {
		return nil, err
	}
	if f.Refs == nil {
		f.Refs = map[string]*Ref{}
	}
	if f.Revs, err = newRefs("rev", pf.Revs, pf.Source, tab); err != nil {
		return nil, err
	}
	if f.DefaultRef != "" && f.Refs[f.DefaultRef] == nil {
		return nil, fmt.Errorf("default ref %q is not one of its refs", f.DefaultRef)
	}
	n := len(c.Version)
	vs := make([]Version, n)
	f.Versions = make([]*Version, n)
	for i := range vs {
		vs[i] = Version{flake: f, i: i}
		f.Versions[i] = &vs[i]
	}
	return f, nil
}

// newRefs builds ref heads, or trees at revs (whose Name stays empty); nil
// when there are none.
func newRefs(what string, refs []*pb.RefSnapshot, source *pb.FlakeLocation, tab *tables) (map[string]*Ref, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	out := make(map[string]*Ref, len(refs))
	for i, r := range refs {
		if r.Name == "" || (i > 0 && r.Name <= refs[i-1].Name) {
			return nil, fmt.Errorf("%s #%d is named %q: expected unique names in order", what, i, r.Name)
		}
		if int(r.InputSet) > len(tab.sets) || int(r.LockFile) > len(tab.locks) {
			return nil, fmt.Errorf("%s %s: input set %d of %d, lock file %d of %d", what, r.Name, r.InputSet, len(tab.sets), r.LockFile, len(tab.locks))
		}
		pin := &pb.FlakeRef{Rev: r.Rev, NarHash: r.NarHash, LastModified: r.LastModified, RevCount: r.RevCount}
		ref := &Ref{Locked: pinTo(source, pin), Inputs: tab.inputs(r.InputSet).get(), lock: tab.lock(r.LockFile)}
		if what == "ref" {
			ref.Name = r.Name
		}
		out[r.Name] = ref
	}
	return out, nil
}

// checkColumns checks that every column has an entry per version (or none
// at all: all zeros) and refers to items the tables have.
func checkColumns(c *pb.VersionColumns, tab *tables) error {
	n := len(c.Version)
	strs, sets, locks, extras := len(tab.stringEnds), len(tab.sets), len(tab.locks), len(tab.extras)
	for _, col := range []struct {
		name  string
		v     []uint32
		limit int
	}{
		{"version", c.Version, strs}, {"rev", c.Rev, strs}, {"nar_hash", c.NarHash, strs}, {"ref", c.Ref, strs},
		{"pin_extra", c.PinExtra, extras}, {"input_set", c.InputSet, sets}, {"lock_file", c.LockFile, locks},
	} {
		if len(col.v) != 0 && len(col.v) != n {
			return fmt.Errorf("column %s has %d entries for %d versions", col.name, len(col.v), n)
		}
		for i, k := range col.v {
			if int(k) > col.limit || (k == 0 && col.name == "version") {
				return fmt.Errorf("column %s, version #%d: number %d, expected 1 to %d", col.name, i, k, col.limit)
			}
		}
	}
	for _, col := range []struct {
		name string
		v    []int64
	}{{"last_modified", c.LastModified}, {"rev_count", c.RevCount}} {
		if len(col.v) != 0 && len(col.v) != n {
			return fmt.Errorf("column %s has %d entries for %d versions", col.name, len(col.v), n)
		}
	}
	return nil
}

// versionChunk is a run of one flake's versions to parse: a flake of a
// million versions is parsed on every core. parsed, for an index compiled
// in this process, are the versions parsed already.
type versionChunk struct {
	f      *Flake
	semver []semver.Version
	parsed []*semver.Version
	lo, hi int
}

// chunkVersions is the size of a chunk (a variable so that tests make
// small flakes span several).
var chunkVersions = 1 << 14

func appendChunks(chunks []versionChunk, f *Flake, parsed []*semver.Version) []versionChunk {
	if len(f.Versions) == 0 {
		return chunks
	}
	svs := make([]semver.Version, len(f.Versions))
	for lo := 0; lo < len(svs); lo += chunkVersions {
		chunks = append(chunks, versionChunk{f, svs, parsed, lo, min(lo+chunkVersions, len(svs))})
	}
	return chunks
}

// parseVersions parses the versions of every chunk, on every core, each
// into its flake's one array of semver.Version.
func parseVersions(chunks []versionChunk) error {
	errs := make([]error, len(chunks))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(chunks)) {
		wg.Go(func() {
			for {
				j := int(next.Add(1)) - 1
				if j >= len(chunks) {
					return
				}
				c := chunks[j]
				for i := c.lo; i < c.hi; i++ {
					if c.parsed != nil {
						c.semver[i] = *c.parsed[i]
					} else {
						text := c.f.tab.str(c.f.cols.Version[i])
						sv, err := semver.StrictNewVersion(text)
						if err != nil {
							errs[j] = fmt.Errorf("flake %s, version #%d: %q is not strict SemVer: %v", c.f.Name, i, text, err)
							break
						}
						c.semver[i] = *sv
					}
					c.f.Versions[i].SemVer = &c.semver[i]
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
