package index

import (
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// compiled is a validated index compiled to a snapshot payload and, when
// not interned, what the payload leaves out: the input sets and lock
// files, and each flake's versions parsed.
type compiled struct {
	p      *pb.IndexSnapshot
	sets   []map[string]*pb.Input
	locks  []*pb.LockFile
	semver [][]*semver.Version
}

var deterministic = proto.MarshalOptions{Deterministic: true}

// compile lays out a validated index as a snapshot payload: flakes by
// name, versions by precedence, strings in one table. With intern, each
// distinct input set, lock file, lock node and pin extra is stored once,
// serialized: equal items are equal bytes (deterministic serialization),
// so interning is comparing bytes, and serializing, which is most of the
// work, runs on every core. Without, which is for loading an index in
// this process, every version keeps its own items as messages, and
// nothing is serialized: the payload's item tables stay empty, and
// compiled holds the items.
func compile(m *pb.Index, intern bool) (*compiled, error) {
	flakes := slices.Clone(m.Flakes)
	slices.SortFunc(flakes, func(a, b *pb.Flake) int { return strings.Compare(a.Name, b.Name) })
	c := &compiler{out: &compiled{p: &pb.IndexSnapshot{}}, intern: intern, sets: map[string]uint32{}, locks: map[string]uint32{}, nodes: map[string]uint32{}, extras: map[string]uint32{}}
	sorted := make([][]*pb.Version, len(flakes))
	for i, f := range flakes {
		var svs []*semver.Version
		sorted[i], svs = sortVersions(f.Versions)
		if !intern {
			c.out.semver = append(c.out.semver, svs)
		}
	}
	perFlake := make([][]*compileChunk, len(flakes))
	if intern {
		var chunks []*compileChunk
		for i := range flakes {
			for lo := 0; lo < len(sorted[i]); lo += chunkVersions {
				ch := &compileChunk{versions: sorted[i][lo:min(lo+chunkVersions, len(sorted[i]))]}
				perFlake[i] = append(perFlake[i], ch)
				chunks = append(chunks, ch)
			}
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(runtime.GOMAXPROCS(0), len(chunks)) {
			wg.Go(func() {
				for j := int(next.Add(1)) - 1; j < len(chunks); j = int(next.Add(1)) - 1 {
					chunks[j].serialize()
				}
			})
		}
		wg.Wait()
	}

	size, count := 0, 0
	for _, f := range flakes {
		for _, v := range f.Versions {
			for _, s := range [...]string{v.Version, v.Locked.Rev, v.Locked.NarHash, v.Locked.Ref} {
				size += len(s)
				count += min(len(s), 1)
			}
		}
	}
	c.strings.Grow(size)
	c.out.p.StringEnds = make([]uint32, 0, count)
	for i, f := range flakes {
		pf, err := c.flake(f, sorted[i], perFlake[i])
		if err != nil {
			return nil, fmt.Errorf("flake %s: %w", f.Name, err)
		}
		c.out.p.Flakes = append(c.out.p.Flakes, pf)
	}
	c.out.p.Strings = c.strings.String()
	return c.out, nil
}

// flake compiles a flake, its versions sorted; chunks, when interning,
// are the versions' items serialized.
func (c *compiler) flake(f *pb.Flake, versions []*pb.Version, chunks []*compileChunk) (*pb.FlakeSnapshot, error) {
	pf := &pb.FlakeSnapshot{Name: f.Name, Description: f.Description, Source: f.Source, DefaultRef: f.DefaultRef, Numbering: f.Numbering, Flake: f.Flake}
	var err error
	if pf.Refs, err = c.refs(f.Refs); err != nil {
		return nil, err
	}
	if pf.Revs, err = c.refs(f.Revs); err != nil {
		return nil, err
	}
	cols := &pb.VersionColumns{}
	n := len(versions)
	for _, col := range []*[]uint32{&cols.Version, &cols.Rev, &cols.NarHash, &cols.Ref, &cols.PinExtra, &cols.InputSet, &cols.LockFile} {
		*col = make([]uint32, 0, n)
	}
	cols.LastModified, cols.RevCount = make([]int64, 0, n), make([]int64, 0, n)
	if c.intern {
		for _, ch := range chunks {
			if err := c.columns(cols, ch.versions, ch); err != nil {
				return nil, err
			}
		}
	} else if err := c.columns(cols, versions, nil); err != nil {
		return nil, err
	}
	dropZeroColumns(cols)
	pf.Versions = cols
	return pf, nil
}

// refs compiles ref heads (or trees at revs), sorted by name.
func (c *compiler) refs(refs map[string]*pb.Ref) ([]*pb.RefSnapshot, error) {
	var out []*pb.RefSnapshot
	for _, name := range slices.Sorted(maps.Keys(refs)) {
		r := refs[name]
		set, err := c.inputSet(r.Inputs, "")
		if err != nil {
			return nil, err
		}
		lock, err := c.lockFile(r.LockFile, "")
		if err != nil {
			return nil, err
		}
		out = append(out, &pb.RefSnapshot{Name: name, Rev: r.Rev, NarHash: r.NarHash, LastModified: r.LastModified, RevCount: r.RevCount, InputSet: set, LockFile: lock})
	}
	return out, nil
}

// sortVersions orders versions by SemVer precedence, and returns them
// parsed. The index was validated: every version parses, and no two share
// a precedence.
func sortVersions(versions []*pb.Version) ([]*pb.Version, []*semver.Version) {
	type keyed struct {
		v  *pb.Version
		sv *semver.Version
	}
	ks := make([]keyed, len(versions))
	for i, v := range versions {
		sv, _ := semver.StrictNewVersion(v.Version)
		ks[i] = keyed{v, sv}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return a.sv.Compare(b.sv) })
	out, svs := make([]*pb.Version, len(ks)), make([]*semver.Version, len(ks))
	for i, k := range ks {
		out[i], svs[i] = k.v, k.sv
	}
	return out, svs
}

// compileChunk is a run of one flake's sorted versions, serialized on one
// core for interning: each version's input set, lock file and pin extra as
// bytes, those the run shares stored once.
type compileChunk struct {
	versions []*pb.Version
	// set, lock and extra are, per version, a place in sets, locks and
	// extras, or -1 for none.
	set, lock, extra    []int
	sets, locks, extras []serialized
}

// serialized is an item and its deterministic serialization.
type serialized struct {
	key string
	msg proto.Message
}

func (ch *compileChunk) serialize() {
	seen := [3]map[string]int{{}, {}, {}}
	add := func(kind int, items *[]serialized, msg proto.Message) int {
		b, _ := deterministic.Marshal(msg)
		if k, ok := seen[kind][string(b)]; ok {
			return k
		}
		seen[kind][string(b)] = len(*items)
		*items = append(*items, serialized{string(b), msg})
		return len(*items) - 1
	}
	for _, v := range ch.versions {
		set, lock, extra := -1, -1, -1
		if len(v.Inputs) > 0 {
			set = add(0, &ch.sets, &pb.InputSet{Inputs: v.Inputs})
		}
		if v.LockFile != nil {
			lock = add(1, &ch.locks, v.LockFile)
		}
		if x := pinExtra(v.Locked); x != nil {
			extra = add(2, &ch.extras, x)
		}
		ch.set, ch.lock, ch.extra = append(ch.set, set), append(ch.lock, lock), append(ch.extra, extra)
	}
}

// pinExtra is what a pin sets besides the version columns, or nil.
func pinExtra(pin *pb.FlakeRef) *pb.FlakeRef {
	extra := false
	pin.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, _ protoreflect.Value) bool {
		extra = !columnFields[fd.Name()]
		return !extra
	})
	if !extra {
		return nil
	}
	x := proto.Clone(pin).(*pb.FlakeRef)
	x.Rev, x.NarHash, x.Ref, x.LastModified, x.RevCount = "", "", "", 0, 0
	return x
}

// columnFields are the fields of a version's pin that VersionColumns hold.
var columnFields = map[protoreflect.Name]bool{"rev": true, "nar_hash": true, "ref": true, "last_modified": true, "rev_count": true}

// compiler interns the items of the snapshot's tables.
type compiler struct {
	out                        *compiled
	intern                     bool
	strings                    strings.Builder
	sets, locks, nodes, extras map[string]uint32
}

// columns appends versions to a flake's columns. ch, when interning, is
// the chunk that serialized them.
func (c *compiler) columns(cols *pb.VersionColumns, versions []*pb.Version, ch *compileChunk) error {
	var sets, locks, extras []uint32
	if ch != nil {
		for _, it := range ch.sets {
			k, err := c.inputSet(it.msg.(*pb.InputSet).Inputs, it.key)
			if err != nil {
				return err
			}
			sets = append(sets, k)
		}
		for _, it := range ch.locks {
			k, err := c.lockFile(it.msg.(*pb.LockFile), it.key)
			if err != nil {
				return err
			}
			locks = append(locks, k)
		}
		for _, it := range ch.extras {
			extras = append(extras, c.pinExtra(it.msg.(*pb.FlakeRef), it.key))
		}
	}
	// items are a version's numbers in the tables.
	items := func(i int, v *pb.Version) (set, lock, extra uint32, err error) {
		if ch != nil {
			local := func(ids []uint32, k int) uint32 {
				if k < 0 {
					return 0
				}
				return ids[k]
			}
			return local(sets, ch.set[i]), local(locks, ch.lock[i]), local(extras, ch.extra[i]), nil
		}
		if set, err = c.inputSet(v.Inputs, ""); err != nil {
			return 0, 0, 0, err
		}
		if lock, err = c.lockFile(v.LockFile, ""); err != nil {
			return 0, 0, 0, err
		}
		if x := pinExtra(v.Locked); x != nil {
			extra = c.pinExtra(x, "")
		}
		return set, lock, extra, nil
	}
	for i, v := range versions {
		strs := [4]uint32{}
		for j, s := range [4]string{v.Version, v.Locked.Rev, v.Locked.NarHash, v.Locked.Ref} {
			id, err := c.str(s)
			if err != nil {
				return err
			}
			strs[j] = id
		}
		set, lock, extra, err := items(i, v)
		if err != nil {
			return err
		}
		cols.Version, cols.Rev, cols.NarHash, cols.Ref = append(cols.Version, strs[0]), append(cols.Rev, strs[1]), append(cols.NarHash, strs[2]), append(cols.Ref, strs[3])
		cols.LastModified, cols.RevCount = append(cols.LastModified, v.Locked.LastModified), append(cols.RevCount, v.Locked.RevCount)
		cols.PinExtra, cols.InputSet, cols.LockFile = append(cols.PinExtra, extra), append(cols.InputSet, set), append(cols.LockFile, lock)
	}
	return nil
}

// str adds a string to the string table; "" is number 0.
func (c *compiler) str(s string) (uint32, error) {
	if s == "" {
		return 0, nil
	}
	p := c.out.p
	c.strings.WriteString(s)
	if c.strings.Len() > math.MaxUint32 {
		return 0, fmt.Errorf("the string table outgrows 4 GiB, the most a snapshot holds")
	}
	p.StringEnds = append(p.StringEnds, uint32(c.strings.Len()))
	return uint32(len(p.StringEnds)), nil
}

// intern adds an item to a table unless it holds it already, and returns
// its number.
func intern(seen map[string]uint32, key string, blob *[]byte, ends *[]uint32) (uint32, error) {
	if k, ok := seen[key]; ok {
		return k, nil
	}
	k, err := appendItem(blob, ends, key)
	seen[key] = k
	return k, err
}

// appendItem adds an item to a table and returns its number.
func appendItem(blob *[]byte, ends *[]uint32, item string) (uint32, error) {
	if len(*blob)+len(item) > math.MaxUint32 {
		return 0, fmt.Errorf("a table outgrows 4 GiB, the most a snapshot holds")
	}
	*blob = append(*blob, item...)
	*ends = append(*ends, uint32(len(*blob)))
	return uint32(len(*ends)), nil
}

// inputSet interns a set of inputs given with its serialization, or
// serialized here when key is "".
func (c *compiler) inputSet(inputs map[string]*pb.Input, key string) (uint32, error) {
	if len(inputs) == 0 {
		return 0, nil
	}
	if !c.intern {
		c.out.sets = append(c.out.sets, inputs)
		return uint32(len(c.out.sets)), nil
	}
	if key == "" {
		b, _ := deterministic.Marshal(&pb.InputSet{Inputs: inputs})
		key = string(b)
	}
	p := c.out.p
	return intern(c.sets, key, &p.InputSets, &p.InputSetEnds)
}

// lockFile interns a lock file, keyed by its serialization (serialized
// here when key is ""), stored as a LockFileSnapshot of interned nodes.
func (c *compiler) lockFile(lf *pb.LockFile, key string) (uint32, error) {
	if lf == nil {
		return 0, nil
	}
	if !c.intern {
		c.out.locks = append(c.out.locks, lf)
		return uint32(len(c.out.locks)), nil
	}
	if key == "" {
		b, _ := deterministic.Marshal(lf)
		key = string(b)
	}
	if k, ok := c.locks[key]; ok {
		return k, nil
	}
	p := c.out.p
	ls := &pb.LockFileSnapshot{Version: lf.Version, Root: lf.Root, Keys: slices.Sorted(maps.Keys(lf.Nodes))}
	for _, name := range ls.Keys {
		b, _ := deterministic.Marshal(lf.Nodes[name])
		n, err := intern(c.nodes, string(b), &p.LockNodes, &p.LockNodeEnds)
		if err != nil {
			return 0, err
		}
		ls.Nodes = append(ls.Nodes, n)
	}
	b, _ := deterministic.Marshal(ls)
	k, err := appendItem(&p.LockFiles, &p.LockFileEnds, string(b))
	c.locks[key] = k
	return k, err
}

// pinExtra interns a pin extra given with its serialization ("" when not
// interning).
func (c *compiler) pinExtra(x *pb.FlakeRef, key string) uint32 {
	if k, ok := c.extras[key]; ok {
		return k
	}
	p := c.out.p
	p.PinExtras = append(p.PinExtras, x)
	k := uint32(len(p.PinExtras))
	if c.intern {
		c.extras[key] = k
	}
	return k
}

// dropZeroColumns empties the columns that are all zeros (no version has
// a ref, a lock file, ...), which loaders read as zeros.
func dropZeroColumns(cols *pb.VersionColumns) {
	for _, col := range []*[]uint32{&cols.Rev, &cols.NarHash, &cols.Ref, &cols.PinExtra, &cols.InputSet, &cols.LockFile} {
		if !slices.ContainsFunc(*col, func(k uint32) bool { return k != 0 }) {
			*col = nil
		}
	}
	for _, col := range []*[]int64{&cols.LastModified, &cols.RevCount} {
		if !slices.ContainsFunc(*col, func(k int64) bool { return k != 0 }) {
			*col = nil
		}
	}
}
