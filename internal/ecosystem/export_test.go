package ecosystem

import pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"

// FromIndex wraps a hand-written index, for tests of the writers and the
// checker on problems small enough to solve by hand.
func FromIndex(ix *pb.Index) *Ecosystem { return &Ecosystem{Index: ix} }
