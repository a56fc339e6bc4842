package solver

import (
	"github.com/flakeresolve/flakeresolve/index"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// FlakeOf is the flake of the indexes that a reference in URL form points
// at, read exactly as a resolution with those registries (nil: none) reads
// an input's url (an indirect reference through the registries, then by
// the index names; FlakeHub URLs by the repository they publish, anything
// else by source); nil when no index has it or the reference does not
// parse.
func FlakeOf(layers *index.Layers, indirect Registries, url string) *index.Flake {
	r := &resolver{universe: universe{layers: layers, indirect: indirect, targets: map[string]*target{}}}
	return r.target(url).flake
}

// VersionOfTree is the newest version of f whose tree locked is (the same
// narHash, or where either lacks one, the same rev), as a resolution
// recognises a lock's pin; nil when it is none.
func VersionOfTree(f *index.Flake, locked *pb.FlakeRef) *index.Version {
	return treeVersion(f, locked)
}
