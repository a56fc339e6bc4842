package flakeref

import (
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// AtLocation is the reference to where a flake lives: its location's
// attributes, nothing that pins a tree. Index code merges a version's pin
// over it to get the version's locked reference.
func AtLocation(l *pb.FlakeLocation) *pb.FlakeRef {
	if l == nil {
		return nil
	}
	r := &pb.FlakeRef{}
	copyByName(l.ProtoReflect(), r.ProtoReflect())
	return r
}

// Location is where a reference's flake lives: the reference without what
// pins a tree (ref, rev, narHash, lastModified, revCount).
func Location(r *pb.FlakeRef) *pb.FlakeLocation {
	if r == nil {
		return nil
	}
	l := &pb.FlakeLocation{}
	copyByName(r.ProtoReflect(), l.ProtoReflect())
	return l
}

// copyByName sets every field of to that from sets under the same name:
// the location's fields are the reference's, by name and number, so the
// messages' descriptors are the one table of which attribute is where.
func copyByName(from, to protoreflect.Message) {
	fields := to.Descriptor().Fields()
	from.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if t := fields.ByName(fd.Name()); t != nil {
			to.Set(t, v)
		}
		return true
	})
}
