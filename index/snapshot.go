package index

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// SnapshotSchema is the snapshot payload layout this build reads and
// writes (proto/flakeresolve/v1/snapshot.proto). It changes whenever a
// payload written by an older build would load differently, so a
// snapshot is never read by a build that would misread it.
const SnapshotSchema = 1

// snapshotMagic opens every snapshot. A binary Index cannot start with
// it ('f' is no valid protobuf tag) and a JSON one starts with '{'.
var snapshotMagic = []byte("flakeresolve-snapshot\n")

// snapshotFamily is what every snapshot magic, of any layout, starts with:
// a file that starts so and is not this build's snapshot gets an error
// saying so, not a guess at another form.
var snapshotFamily = []byte("flakeresolve")

// maxHeader bounds the header's length: it holds three short fields.
const maxHeader = 1 << 10

func isSnapshot(data []byte) bool { return bytes.HasPrefix(data, snapshotFamily) }

// MarshalSnapshot validates an index and compiles it to a snapshot, the
// form that loads without validating again. origin names the index in
// errors; problems come as *InvalidError. The same index always gives the
// same bytes.
func MarshalSnapshot(origin string, m *pb.Index) ([]byte, error) {
	if probs := Validate(m); len(probs) > 0 {
		return nil, &InvalidError{Origin: origin, Problems: probs}
	}
	c, err := compile(m, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	return encodeSnapshot(c.p, SnapshotSchema)
}

// encodeSnapshot writes the magic line, the header and the payload.
func encodeSnapshot(p *pb.IndexSnapshot, schema uint32) ([]byte, error) {
	payload, err := deterministic.Marshal(p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(payload)
	header, err := deterministic.Marshal(&pb.SnapshotHeader{Schema: schema, PayloadSize: uint64(len(payload)), PayloadSha256: sum[:]})
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(snapshotMagic)+protowire.SizeVarint(uint64(len(header)))+len(header)+len(payload))
	out = append(out, snapshotMagic...)
	out = protowire.AppendVarint(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, payload...), nil
}

// readSnapshot checks that a snapshot is one this build reads and that it
// is whole, its payload exactly as long as the header says and with the
// digest the header records, and decodes the payload.
func readSnapshot(origin string, data []byte) (*pb.IndexSnapshot, error) {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("%s: %s", origin, fmt.Sprintf(format, args...))
	}
	if !bytes.HasPrefix(data, snapshotMagic) {
		line, _, _ := bytes.Cut(data[:min(len(data), 2*len(snapshotMagic))], []byte("\n"))
		return nil, fail("starts with %q, not the magic line %q of the snapshots this build reads", line, bytes.TrimSpace(snapshotMagic))
	}
	rest := data[len(snapshotMagic):]
	size, n := protowire.ConsumeVarint(rest)
	if n < 0 || size > uint64(len(rest)-n) {
		return nil, fail("snapshot truncated in its header (%d bytes after the magic line)", len(rest))
	}
	if size > maxHeader {
		return nil, fail("snapshot header of %d bytes, expected at most %d: damaged", size, maxHeader)
	}
	h := &pb.SnapshotHeader{}
	if err := proto.Unmarshal(rest[n:n+int(size)], h); err != nil {
		return nil, fail("snapshot header does not decode: %v", err)
	}
	if h.Schema != SnapshotSchema {
		return nil, fail("snapshot schema %d, this build reads schema %d: write it again with `flakeresolve index snapshot` from its index", h.Schema, SnapshotSchema)
	}
	payload := rest[n+int(size):]
	switch got := uint64(len(payload)); {
	case got < h.PayloadSize:
		return nil, fail("snapshot truncated: the header says the payload is %d bytes, the file holds %d (a half-written file?)", h.PayloadSize, got)
	case got > h.PayloadSize:
		return nil, fail("snapshot has %d bytes after its %d-byte payload, expected the payload to end the file", got-h.PayloadSize, h.PayloadSize)
	}
	if sum := sha256.Sum256(payload); !bytes.Equal(sum[:], h.PayloadSha256) {
		return nil, fail("snapshot corrupted: its payload's sha256 is %x, the header records %x", sum, h.PayloadSha256)
	}
	p, err := decodePayload(payload)
	if err != nil {
		return nil, fail("snapshot payload does not decode: %v", err)
	}
	return p, nil
}

// decodePayload decodes an IndexSnapshot whose string table and item
// tables stay where they are, in data, which must not change afterwards.
// They are most of a snapshot, and copying them (with the string table's
// UTF-8 check, which its writer made) is most of what proto.Unmarshal
// would do.
func decodePayload(data []byte) (*pb.IndexSnapshot, error) {
	p := &pb.IndexSnapshot{}
	for b := data; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		field, known := payloadFields[num]
		if !known {
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		if typ != protowire.BytesType {
			return nil, fmt.Errorf("field %d has wire type %d, expected length-delimited", num, typ)
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		b = b[n:]
		if err := field(p, v); err != nil {
			return nil, fmt.Errorf("field %d: %w", num, err)
		}
	}
	return p, nil
}

// payloadFields decode each field of IndexSnapshot, by number. Every
// field is length-delimited: a string or bytes, packed numbers, or a
// message.
var payloadFields = func() map[protowire.Number]func(*pb.IndexSnapshot, []byte) error {
	byName := map[protoreflect.Name]func(*pb.IndexSnapshot, []byte) error{
		"strings": func(p *pb.IndexSnapshot, v []byte) error {
			p.Strings = unsafe.String(unsafe.SliceData(v), len(v))
			return nil
		},
		"string_ends": func(p *pb.IndexSnapshot, v []byte) (err error) {
			p.StringEnds, err = appendPacked(p.StringEnds, v)
			return
		},
		"input_sets": func(p *pb.IndexSnapshot, v []byte) error { p.InputSets = v; return nil },
		"input_set_ends": func(p *pb.IndexSnapshot, v []byte) (err error) {
			p.InputSetEnds, err = appendPacked(p.InputSetEnds, v)
			return
		},
		"lock_files": func(p *pb.IndexSnapshot, v []byte) error { p.LockFiles = v; return nil },
		"lock_file_ends": func(p *pb.IndexSnapshot, v []byte) (err error) {
			p.LockFileEnds, err = appendPacked(p.LockFileEnds, v)
			return
		},
		"lock_nodes": func(p *pb.IndexSnapshot, v []byte) error { p.LockNodes = v; return nil },
		"lock_node_ends": func(p *pb.IndexSnapshot, v []byte) (err error) {
			p.LockNodeEnds, err = appendPacked(p.LockNodeEnds, v)
			return
		},
		"flakes": func(p *pb.IndexSnapshot, v []byte) error {
			f := &pb.FlakeSnapshot{}
			p.Flakes = append(p.Flakes, f)
			return proto.Unmarshal(v, f)
		},
		"pin_extras": func(p *pb.IndexSnapshot, v []byte) error {
			x := &pb.FlakeRef{}
			p.PinExtras = append(p.PinExtras, x)
			return proto.Unmarshal(v, x)
		},
	}
	fields := (&pb.IndexSnapshot{}).ProtoReflect().Descriptor().Fields()
	out := map[protowire.Number]func(*pb.IndexSnapshot, []byte) error{}
	for i := range fields.Len() {
		fd := fields.Get(i)
		if byName[fd.Name()] == nil {
			panic(fmt.Sprintf("IndexSnapshot field %s has no decoder", fd.Name()))
		}
		out[fd.Number()] = byName[fd.Name()]
	}
	return out
}()

// appendPacked decodes packed varints.
func appendPacked(out []uint32, v []byte) ([]uint32, error) {
	count := 0
	for _, c := range v {
		if c < 0x80 {
			count++
		}
	}
	out = slices.Grow(out, count)
	for len(v) > 0 {
		x, n := protowire.ConsumeVarint(v)
		if n < 0 {
			return nil, protowire.ParseError(n)
		}
		if x > math.MaxUint32 {
			return nil, fmt.Errorf("%d overflows a uint32", x)
		}
		out = append(out, uint32(x))
		v = v[n:]
	}
	return out, nil
}

// decompile turns a snapshot payload back into the Index it was compiled
// from, its flakes by name and versions by precedence. Versions that share
// an input set or a lock file share its messages.
func decompile(origin string, p *pb.IndexSnapshot) (*pb.Index, error) {
	// build checks every number the payload holds, so what it accepts
	// decompiles without further checks.
	ix, err := build(origin, p, nil)
	if err != nil {
		return nil, err
	}
	tab := ix.tab
	sets := func(k uint32) map[string]*pb.Input {
		return tab.inputs(k).get()
	}
	locks := map[uint32]*pb.LockFile{}
	lock := func(k uint32) *pb.LockFile {
		l := tab.lock(k)
		if l == nil {
			return nil
		}
		if locks[k] == nil {
			locks[k] = tab.lockFile(l.raw, l.k)
		}
		return locks[k]
	}
	m := &pb.Index{Schema: Schema}
	for i, pf := range p.Flakes {
		f := ix.flakes[i]
		out := &pb.Flake{Name: pf.Name, Description: pf.Description, Source: pf.Source, DefaultRef: pf.DefaultRef, Numbering: pf.Numbering, Flake: pf.Flake}
		refs := func(rs []*pb.RefSnapshot) map[string]*pb.Ref {
			var out map[string]*pb.Ref
			for _, r := range rs {
				if out == nil {
					out = map[string]*pb.Ref{}
				}
				out[r.Name] = &pb.Ref{Rev: r.Rev, NarHash: r.NarHash, LastModified: r.LastModified, RevCount: r.RevCount, Inputs: sets(r.InputSet), LockFile: lock(r.LockFile)}
			}
			return out
		}
		out.Refs, out.Revs = refs(pf.Refs), refs(pf.Revs)
		for j, v := range f.Versions {
			out.Versions = append(out.Versions, &pb.Version{Version: v.String(), Locked: v.pin(),
				Inputs: sets(column(f.cols.InputSet, j)), LockFile: lock(column(f.cols.LockFile, j))})
		}
		m.Flakes = append(m.Flakes, out)
	}
	return m, nil
}
