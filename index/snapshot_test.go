package index

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// decodeFile reads an index file of any form.
func decodeFile(t *testing.T, path string) *pb.Index {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Decode(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// roundTripIndexes are the indexes the snapshot must carry exactly: the
// fixture that sets every field, the embedded default index (real flakes
// and their lock files), and generated ones.
func roundTripIndexes(t *testing.T) map[string]*pb.Index {
	t.Helper()
	out := map[string]*pb.Index{}
	for name, path := range map[string]string{"every": "testdata/every.json", "small": "testdata/small.json", "default": "defaultindex/default.snap"} {
		out[name] = decodeFile(t, path)
	}
	out["ecosystem"] = ecosystem.Generate(300, 7).Index
	out["big"] = ecosystem.GenerateBig(3_000).Index
	return out
}

// Loading a snapshot gives the index that loading the Index gives, seen
// through everything the resolver reads; and the snapshot decodes back
// to the Index, versions in precedence order.
func TestSnapshotRoundTrip(t *testing.T) {
	// Chunks of 1,000 versions: compiling and loading the big flake's
	// 3,000 versions crosses chunk boundaries.
	defer func(n int) { chunkVersions = n }(chunkVersions)
	chunkVersions = 1_000
	for name, m := range roundTripIndexes(t) {
		t.Run(name, func(t *testing.T) {
			bin, err := MarshalBinary(m)
			if err != nil {
				t.Fatal(err)
			}
			direct, err := Parse(name, bin)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := MarshalSnapshot(name, m)
			if err != nil {
				t.Fatal(err)
			}
			again, err := MarshalSnapshot(name, m)
			if err != nil || !bytes.Equal(snap, again) {
				t.Errorf("two snapshots of one index differ (err %v)", err)
			}
			loaded, err := Parse(name, snap)
			if err != nil {
				t.Fatal(err)
			}
			want := describe(t, m, direct)
			if diff := cmp.Diff(want, describe(t, m, loaded)); diff != "" {
				t.Errorf("snapshot loads differently (-Index +snapshot):\n%s", diff)
			}
			decoded, err := Decode(name, snap)
			if err != nil {
				t.Fatal(err)
			}
			if want := canonical(m); !proto.Equal(want, decoded) {
				t.Errorf("snapshot decodes to another index (-Index +decoded):\n%s", cmp.Diff(want, decoded, protocmp.Transform()))
			}
			if got := Validate(decoded); len(got) > 0 {
				t.Errorf("the decoded snapshot does not validate: %v", got)
			}
		})
	}
}

// loadedFlake is what the resolver can read of a loaded flake.
type loadedFlake struct {
	Description, DefaultRef, Origin, Source string
	Refs, Revs                              map[string]loadedTree
	Versions                                []loadedTree
	// Releases are what Select("*") gives; Prereleases the rest.
	Releases, Prereleases []string
}

// loadedTree renders messages as text: comparing large trees of messages
// with protocmp is slow.
type loadedTree struct {
	Name, Version, NarHash, Rev, Ref, InputsKey string
	Locked, Inputs, Lock                        string
}

func text(m proto.Message) string { return prototext.Format(m) }

type loadedIndex struct {
	Stats  Stats
	Flakes map[string]loadedFlake
	URLs   map[string]string // LookupURL of every version's own URL
}

// describe reads a loaded index through its API, checking on the way what
// each version must be by the message it was loaded from.
func describe(t *testing.T, m *pb.Index, ix *Index) loadedIndex {
	t.Helper()
	graph := func(n *lockfile.Node) string {
		if n == nil {
			return ""
		}
		return text(lockfile.ToProto(n))
	}
	out := loadedIndex{Stats: ix.Stats(), Flakes: map[string]loadedFlake{}, URLs: map[string]string{}}
	layers := NewLayers(ix)
	for _, pf := range m.Flakes {
		f := ix.Flake(pf.Name)
		lf := loadedFlake{Description: f.Description, DefaultRef: f.DefaultRef, Origin: f.Origin, Source: text(f.Source)}
		for _, refs := range []struct {
			in  map[string]*Ref
			out *map[string]loadedTree
		}{{f.Refs, &lf.Refs}, {f.Revs, &lf.Revs}} {
			for name, r := range refs.in {
				if *refs.out == nil {
					*refs.out = map[string]loadedTree{}
				}
				(*refs.out)[name] = loadedTree{Name: r.Name, Locked: text(r.Locked), Inputs: text(&pb.InputSet{Inputs: r.Inputs}), Lock: graph(r.Lock())}
			}
		}
		byVersion := map[string]*pb.Version{}
		for _, pv := range pf.Versions {
			byVersion[pv.Version] = pv
		}
		for _, v := range f.Versions {
			pv := byVersion[v.String()]
			if pv == nil {
				t.Fatalf("%s %s was not in the index", f.Name, v)
			}
			locked := v.Locked()
			if want := pinTo(pf.Source, pv.Locked); !proto.Equal(locked, want) {
				t.Errorf("%s %s locked = %v, want %v", f.Name, v, locked, want)
			}
			if !proto.Equal(&pb.InputSet{Inputs: v.Inputs()}, &pb.InputSet{Inputs: pv.Inputs}) {
				t.Errorf("%s %s inputs = %v, want %v", f.Name, v, v.Inputs(), pv.Inputs)
			}
			if v.NarHash() != locked.NarHash || v.Rev() != locked.Rev || v.Ref() != locked.Ref {
				t.Errorf("%s %s: NarHash, Rev, Ref = %q, %q, %q; Locked() says %q, %q, %q", f.Name, v, v.NarHash(), v.Rev(), v.Ref(), locked.NarHash, locked.Rev, locked.Ref)
			}
			lf.Versions = append(lf.Versions, loadedTree{Version: v.String(), NarHash: v.NarHash(), Rev: v.Rev(), Ref: v.Ref(),
				InputsKey: v.InputsKey(), Locked: text(locked), Inputs: text(&pb.InputSet{Inputs: v.Inputs()}), Lock: graph(v.Lock())})
			if locked.Url != "" {
				if tree, ok := layers.LookupURL(locked); ok {
					out.URLs[locked.Url] = tree.Flake.Name + " " + tree.Version.String()
				}
			}
		}
		if len(f.Versions) != len(pf.Versions) {
			t.Errorf("%s has %d versions, the index %d", f.Name, len(f.Versions), len(pf.Versions))
		}
		for _, v := range f.Select(versionreq.MustParse("*")) {
			lf.Releases = append(lf.Releases, v.String())
		}
		var releases []*semver.Version
		for _, pv := range pf.Versions {
			if sv := semver.MustParse(pv.Version); sv.Prerelease() == "" {
				releases = append(releases, sv)
			}
		}
		slices.SortFunc(releases, (*semver.Version).Compare)
		if len(releases) != len(lf.Releases) || (len(releases) > 0 && releases[0].Original() != lf.Releases[0]) {
			t.Errorf("%s: Select(*) = %d versions from %v, want the %d releases from %v", f.Name, len(lf.Releases), lf.Releases[:min(1, len(lf.Releases))], len(releases), releases[:min(1, len(releases))])
		}
		for _, v := range f.prereleases {
			lf.Prereleases = append(lf.Prereleases, v.String())
		}
		out.Flakes[pf.Name] = lf
	}
	return out
}

// canonical is an index as a snapshot decodes: flakes by name, versions
// by precedence, and an empty map where the index has none.
func canonical(m *pb.Index) *pb.Index {
	c := proto.Clone(m).(*pb.Index)
	slices.SortFunc(c.Flakes, func(a, b *pb.Flake) int { return strings.Compare(a.Name, b.Name) })
	for _, f := range c.Flakes {
		slices.SortFunc(f.Versions, func(a, b *pb.Version) int {
			return semver.MustParse(a.Version).Compare(semver.MustParse(b.Version))
		})
		if len(f.Refs) == 0 {
			f.Refs = nil
		}
		if len(f.Revs) == 0 {
			f.Revs = nil
		}
	}
	return c
}

// The fixture of the round trip sets every field of the messages a
// snapshot takes apart: a field added to Flake, Version or Ref fails this
// test until it is set in testdata/every.json, and then the round trip
// until the snapshot carries it.
func TestRoundTripFixtureSetsEveryField(t *testing.T) {
	m := decodeFile(t, "testdata/every.json")
	set := map[protoreflect.FullName]bool{}
	var walk func(protoreflect.Message)
	walk = func(msg protoreflect.Message) {
		msg.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			set[fd.FullName()] = true
			switch {
			case fd.IsMap() && fd.MapValue().Message() != nil:
				v.Map().Range(func(_ protoreflect.MapKey, e protoreflect.Value) bool { walk(e.Message()); return true })
			case fd.IsList() && fd.Message() != nil:
				for i := range v.List().Len() {
					walk(v.List().Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message())
			}
			return true
		})
	}
	walk(m.ProtoReflect())
	for _, msg := range []proto.Message{&pb.Flake{}, &pb.Version{}, &pb.Ref{}, &pb.Input{}} {
		fields := msg.ProtoReflect().Descriptor().Fields()
		for i := range fields.Len() {
			if fd := fields.Get(i); !set[fd.FullName()] {
				t.Errorf("testdata/every.json sets no %s", fd.FullName())
			}
		}
	}
	// Version pins: every field the columns hold, and more (the pin
	// extras).
	for _, name := range []string{"type", "url", "dir", "ref", "rev", "nar_hash", "last_modified", "rev_count", "submodules", "shallow"} {
		if fd := (&pb.FlakeRef{}).ProtoReflect().Descriptor().Fields().ByName(protoreflect.Name(name)); !set[fd.FullName()] {
			t.Errorf("testdata/every.json sets no %s", fd.FullName())
		}
	}
}

// Versions that declare the same inputs, or carry the same lock file,
// share one decoded map and one lock graph; the snapshot stores each once.
func TestSnapshotInterns(t *testing.T) {
	big := ecosystem.GenerateBig(3_000)
	snap, err := MarshalSnapshot("big", big.Index)
	if err != nil {
		t.Fatal(err)
	}
	p, err := readSnapshot("big", snap)
	if err != nil {
		t.Fatal(err)
	}
	// 3,000 versions: one set of inputs on every version and the ref, a
	// lock file on every 100th version changing every 1,000 (3), nodes
	// changing with nixpkgs (3 nixpkgs, and one each of the rest).
	if got := [3]int{len(p.InputSetEnds), len(p.LockFileEnds), len(p.LockNodeEnds)}; got != [3]int{1 + 1, 3, 3 + 4} {
		t.Errorf("input sets, lock files, lock nodes = %v, want [2 3 7] (the app's set and big's; 3 locks; their nodes)", got)
	}
	ix, err := Parse("big", snap)
	if err != nil {
		t.Fatal(err)
	}
	vs := ix.Flake("big").Versions
	if reflect.ValueOf(vs[0].Inputs()).Pointer() != reflect.ValueOf(vs[2999].Inputs()).Pointer() {
		t.Error("versions with equal inputs have two maps")
	}
	if vs[100].Lock() != vs[900].Lock() || vs[100].Lock() == vs[1000].Lock() || vs[101].Lock() != nil {
		t.Error("lock graphs are not shared exactly between versions with equal lock files")
	}
}

// The tables decode on first use from any number of requests at once.
func TestSnapshotConcurrentFirstUse(t *testing.T) {
	snap, err := MarshalSnapshot("big", ecosystem.GenerateBig(2_000).Index)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := Parse("big", snap)
	if err != nil {
		t.Fatal(err)
	}
	vs := ix.Flake("big").Versions
	keys := make([]string, 8)
	var wg sync.WaitGroup
	for g := range keys {
		wg.Go(func() {
			for _, v := range vs {
				if len(v.Inputs()) != 3 {
					t.Errorf("%s has %d inputs", v, len(v.Inputs()))
				}
				v.Lock()
			}
			keys[g] = vs[len(vs)-1].InputsKey()
		})
	}
	wg.Wait()
	for _, k := range keys {
		if k == "" || k != keys[0] {
			t.Fatal("concurrent first uses disagree on InputsKey")
		}
	}
}

// A damaged snapshot is refused, with an error that names the file and
// says what is wrong; so is one this build cannot read.
func TestSnapshotCorruption(t *testing.T) {
	m := decodeFile(t, "testdata/every.json")
	good, err := MarshalSnapshot("every", m)
	if err != nil {
		t.Fatal(err)
	}
	p, err := readSnapshot("every", good)
	if err != nil {
		t.Fatal(err)
	}
	headerLen, n := protowire.ConsumeVarint(good[len(snapshotMagic):])
	payloadAt := len(snapshotMagic) + n + int(headerLen)
	// The digest is the header's last field.
	digestAt := payloadAt - sha256.Size
	if !bytes.Equal(good[digestAt:payloadAt], sha256.New().Sum(nil)) && !bytes.Equal(good[digestAt:payloadAt], func() []byte { s := sha256.Sum256(good[payloadAt:]); return s[:] }()) {
		t.Fatal("the header does not end with the payload's digest")
	}
	edit := func(at int, b byte) []byte {
		c := bytes.Clone(good)
		c[at] ^= b
		return c
	}
	old, err := encodeSnapshot(p, SnapshotSchema-1)
	if err != nil {
		t.Fatal(err)
	}
	// A payload whose digest is right but whose numbers are not: what a
	// broken writer would produce.
	broken := proto.Clone(p).(*pb.IndexSnapshot)
	broken.Flakes[0].Versions.NarHash[1] = uint32(len(p.StringEnds) + 5)
	inconsistent, err := encodeSnapshot(broken, SnapshotSchema)
	if err != nil {
		t.Fatal(err)
	}
	unordered := proto.Clone(p).(*pb.IndexSnapshot)
	c := unordered.Flakes[0].Versions
	c.Version[0], c.Version[1] = c.Version[1], c.Version[0]
	outOfOrder, err := encodeSnapshot(unordered, SnapshotSchema)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, tc := range map[string]struct {
		data []byte
		want string
	}{
		"truncated-payload": {good[:len(good)-100], fmt.Sprintf("snapshot truncated: the header says the payload is %d bytes, the file holds %d (a half-written file?)", len(good)-payloadAt, len(good)-payloadAt-100)},
		"truncated-header":  {good[:len(snapshotMagic)+3], "snapshot truncated in its header (3 bytes after the magic line)"},
		"magic-only":        {good[:len(snapshotMagic)], "snapshot truncated in its header (0 bytes after the magic line)"},
		"trailing":          {append(bytes.Clone(good), 0), fmt.Sprintf("snapshot has 1 bytes after its %d-byte payload, expected the payload to end the file", len(good)-payloadAt)},
		"flipped-byte":      {edit(payloadAt+len(good[payloadAt:])/2, 0x10), "snapshot corrupted: its payload's sha256 is "},
		"wrong-digest":      {edit(digestAt+5, 0x01), "snapshot corrupted: its payload's sha256 is "},
		"wrong-magic":       {append([]byte("flakeresolve-snapshot-v9\n"), good[len(snapshotMagic):]...), `starts with "flakeresolve-snapshot-v9", not the magic line "flakeresolve-snapshot" of the snapshots this build reads`},
		"old-schema":        {old, fmt.Sprintf("snapshot schema %d, this build reads schema %d: write it again with `flakeresolve index snapshot` from its index", SnapshotSchema-1, SnapshotSchema)},
		"inconsistent":      {inconsistent, fmt.Sprintf("inconsistent snapshot: flake gitlib: column nar_hash, version #1: number %d, expected 1 to %d", len(p.StringEnds)+5, len(p.StringEnds))},
		"out-of-order":      {outOfOrder, "inconsistent snapshot: flake gitlib: version 1.0.0 follows 1.1.0: expected ascending precedence"},
	} {
		path := filepath.Join(dir, name+".snap")
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+": ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load = %v, want %q naming the file", name, err, tc.want)
		}
		if _, derr := Decode(path, tc.data); derr == nil || derr.Error() != err.Error() {
			t.Errorf("%s: Decode = %v, want the error Load gives", name, derr)
		}
	}
	if _, err := Parse("every", good); err != nil {
		t.Errorf("the undamaged snapshot: %v", err)
	}
}

// A snapshot is validated when it is written: an invalid index is no
// snapshot, and the problems are the ones loading the index reports, with
// flake, version and field.
func TestSnapshotValidatesWhenWritten(t *testing.T) {
	m := decodeFile(t, "testdata/invalid.json")
	snap, err := MarshalSnapshot("testdata/invalid.json", m)
	var inv *InvalidError
	if !errors.As(err, &inv) || snap != nil {
		t.Fatalf("MarshalSnapshot = %d bytes, %v; want no snapshot and *InvalidError", len(snap), err)
	}
	_, loadErr := Load("testdata/invalid.json")
	if err.Error() != loadErr.Error() {
		t.Errorf("writing a snapshot reports\n%v\nloading the index reports\n%v", err, loadErr)
	}
	if !strings.Contains(err.Error(), `flake hyprutils version 0.8.0: field locked.rev: "ABC" is not a 40-digit lowercase hex commit`) {
		t.Errorf("the problems do not name flake, version and field:\n%v", err)
	}
}
