// Package defaultindex embeds the index that flakeresolve serves when it is
// given none: real flakes (Hyprland and its libraries, home-manager, nixvim,
// stylix, disko, crane, ...) and the nixpkgs versions their locks pin, with
// version requirements inferred by internal/importer. It is generated data:
// `make default-index` rebuilds it from the shared real-flake snapshot, as
// an index snapshot (validated when written), so a process loads it
// without validating it again.
package defaultindex

import (
	_ "embed"
	"slices"

	"github.com/flakeresolve/flakeresolve/index"
)

//go:embed default.snap
var data []byte

// Origin is the name the embedded index goes by in messages.
const Origin = "default"

// Load loads the embedded index.
func Load() (*index.Index, error) { return index.Parse(Origin, data) }

// Size is the size of the embedded index in bytes.
func Size() int { return len(data) }

// Bytes is a copy of the embedded index's bytes, for a server that names
// what it serves by their digest.
func Bytes() []byte { return slices.Clone(data) }
