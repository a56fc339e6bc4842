package index

import (
	"fmt"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// tables are what the versions of a loaded index refer to by number: the
// string table, and the input sets, lock files and lock nodes that many
// versions share, each decoded on first use (a resolution reaches a few
// thousand versions of an index that may hold a million).
type tables struct {
	origin     string
	strings    string
	stringEnds []uint32
	sets       []inputSet
	locks      []ownLock
	nodes      []lockNode
	extras     []*pb.FlakeRef
	// setsByKey holds, for each key of a decoded input set, the first
	// set decoded with it: the set that stands for every equal one.
	setsMu    sync.Mutex
	setsByKey map[string]*inputSet
}

// span is where item k (from 1; 0 is none) of a table lies in its
// concatenation.
func span(ends []uint32, k uint32) (lo, hi uint32) {
	if k == 0 {
		return 0, 0
	}
	if k > 1 {
		lo = ends[k-2]
	}
	return lo, ends[k-1]
}

func (t *tables) str(k uint32) string {
	if k == 0 {
		return ""
	}
	lo, hi := span(t.stringEnds, k)
	return t.strings[lo:hi]
}

func (t *tables) inputs(k uint32) *inputSet {
	if k == 0 {
		return nil
	}
	return &t.sets[k-1]
}

func (t *tables) lock(k uint32) *ownLock {
	if k == 0 {
		return nil
	}
	return &t.locks[k-1]
}

// column is entry i of a version column; an empty column is all zeros.
func column[T uint32 | int64](c []T, i int) T {
	if len(c) == 0 {
		return 0
	}
	return c[i]
}

// corrupt reports a table item that does not decode. Snapshots are checked
// whole against their digest on load and were validated when written, and
// indexes loaded from other forms are validated on load, so this is a
// broken writer, not a bad file.
func (t *tables) corrupt(what string, k int, err error) {
	panic(fmt.Sprintf("%s: %s %d does not decode: %v", t.origin, what, k, err))
}

// inputSet is one set of input declarations: from a snapshot, its
// serialized form (an InputSet message), decoded on first use; from an
// index loaded in this process, its messages, serialized on first use as
// its key.
type inputSet struct {
	tab    *tables
	k      int
	raw    []byte
	once   sync.Once
	inputs map[string]*pb.Input
	bytes  string
	// canonical is the set that stands for every set equal to this one.
	canonical *inputSet
}

func (s *inputSet) get() map[string]*pb.Input {
	if s == nil {
		return nil
	}
	if s.raw != nil {
		s.once.Do(s.decode)
	}
	return s.inputs
}

// key is the set's serialized form: equal sets, equal keys.
func (s *inputSet) key() string {
	if s == nil {
		return ""
	}
	s.once.Do(s.decode)
	return s.bytes
}

// id is the set's canonical stand-in: equal sets, equal ids.
func (s *inputSet) id() *inputSet {
	if s == nil {
		return nil
	}
	s.once.Do(s.decode)
	return s.canonical
}

func (s *inputSet) decode() {
	if s.raw == nil {
		b, _ := deterministic.Marshal(&pb.InputSet{Inputs: s.inputs})
		s.bytes = string(b)
	} else {
		m := &pb.InputSet{}
		if err := proto.Unmarshal(s.raw, m); err != nil {
			s.tab.corrupt("input set", s.k, err)
		}
		s.inputs, s.bytes = m.Inputs, string(s.raw)
	}
	t := s.tab
	t.setsMu.Lock()
	defer t.setsMu.Unlock()
	if t.setsByKey == nil {
		t.setsByKey = map[string]*inputSet{}
	}
	if s.canonical = t.setsByKey[s.bytes]; s.canonical == nil {
		s.canonical = s
		t.setsByKey[s.bytes] = s
	}
}

// size is the number of inputs in the set, read without decoding it.
func (s *inputSet) size() int {
	if s.raw == nil {
		return len(s.inputs)
	}
	n := 0
	for b := s.raw; len(b) > 0; {
		num, typ, tagLen := protowire.ConsumeTag(b)
		if tagLen < 0 {
			s.tab.corrupt("input set", s.k, protowire.ParseError(tagLen))
		}
		fieldLen := protowire.ConsumeFieldValue(num, typ, b[tagLen:])
		if fieldLen < 0 {
			s.tab.corrupt("input set", s.k, protowire.ParseError(fieldLen))
		}
		if num == 1 {
			n++
		}
		b = b[tagLen+fieldLen:]
	}
	return n
}

// ownLock is a tree's own committed flake.lock, turned into a graph on
// first use: only resolutions that lock through it need it. Trees with
// identical lock files share one.
type ownLock struct {
	tab  *tables
	k    int
	raw  []byte // a LockFileSnapshot
	file *pb.LockFile
	once sync.Once
	root *lockfile.Node
}

func (l *ownLock) graph() *lockfile.Node {
	if l == nil {
		return nil
	}
	l.once.Do(func() {
		if l.file == nil {
			l.file = l.tab.lockFile(l.raw, l.k)
		}
		// The lock file was validated, so it builds.
		l.root, _ = lockfile.FromProto(l.file)
		l.file = nil
	})
	return l.root
}

// lockFile decodes a LockFileSnapshot, sharing decoded nodes with every
// other lock file of the index.
func (t *tables) lockFile(raw []byte, k int) *pb.LockFile {
	m := &pb.LockFileSnapshot{}
	if err := proto.Unmarshal(raw, m); err != nil {
		t.corrupt("lock file", k, err)
	}
	if len(m.Keys) != len(m.Nodes) {
		t.corrupt("lock file", k, fmt.Errorf("%d node keys, %d nodes", len(m.Keys), len(m.Nodes)))
	}
	f := &pb.LockFile{Version: m.Version, Root: m.Root, Nodes: make(map[string]*pb.LockNode, len(m.Keys))}
	for i, key := range m.Keys {
		n := m.Nodes[i]
		if n == 0 || int(n) > len(t.nodes) {
			t.corrupt("lock file", k, fmt.Errorf("node %q is number %d of %d", key, n, len(t.nodes)))
		}
		f.Nodes[key] = t.nodes[n-1].get()
	}
	return f
}

// lockNode is one distinct node of the index's lock files.
type lockNode struct {
	tab  *tables
	k    int
	raw  []byte
	once sync.Once
	node *pb.LockNode
}

func (n *lockNode) get() *pb.LockNode {
	n.once.Do(func() {
		m := &pb.LockNode{}
		if err := proto.Unmarshal(n.raw, m); err != nil {
			n.tab.corrupt("lock node", n.k, err)
		}
		n.node = m
	})
	return n.node
}
