package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// This file renders the API's typed answers as text for people: version
// choices and the labels of trees. Conflicts are words of the solver's
// (solver.Cause and solver.Hint render themselves), which the command line
// gets as typed errors, from the service or read back from a server's
// status, and prints as such.

// printChoice says which versions the caller can use.
func printChoice(w io.Writer, c *pb.VersionChoice) {
	or := func(v, none string) string {
		if v == "" {
			return none
		}
		return v
	}
	fmt.Fprintf(w, "root input %q: current %s, wanted %s, latest %s\n", c.Input,
		or(c.CurrentVersion, "none (no flake.lock pins a version)"), or(c.WantedVersion, "none (no version resolves)"), or(c.LatestVersion, "none"))
	if len(c.HeldBackBy) > 0 {
		fmt.Fprintf(w, "held back by:\n")
		for _, cause := range service.ConflictFromProto(&pb.Conflict{Causes: c.HeldBackBy}).Causes {
			fmt.Fprintf(w, "  - %s\n", cause)
		}
	}
}

// declarerLabel names the tree that declares an input; nil is the root.
func declarerLabel(d *pb.FlakeVersionRef) string {
	switch {
	case d == nil:
		return "root"
	case d.Version != "":
		return d.Flake + " " + d.Version
	case d.Ref != "":
		return d.Flake + " ref:" + d.Ref
	}
	return d.Flake
}

// joinAnd joins words as "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
