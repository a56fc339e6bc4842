package lockfile

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flakeresolve/flakeresolve/internal/flakenix"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Build turns a resolution of a flake's inputs into a lock file tree: one
// node per input path, as Nix writes it, for every Nix from nix on. A pin
// taken from the existing lock keeps that lock's attributes, as Nix keeps
// them; one taken from a dependency's own lock keeps those nix reads
// (Trim); any other records what nix records for its type (LockedFor). A
// path the resolution left unpinned cannot be locked.
func Build(decls map[string]*flakenix.Input, resp *pb.ResolveInputsResponse, nix flakeref.NixVersion) (*Node, error) {
	root := &Node{Inputs: map[string]*Edge{}}
	paths := slices.Collect(maps.Keys(resp.Paths))
	slices.SortFunc(paths, shallowFirst) // parents before children
	nodes := map[string]*Node{"": root}
	var problems []string
	for _, p := range paths {
		pin := resp.Paths[p]
		segs := strings.Split(p, "/")
		parent := nodes[strings.Join(segs[:len(segs)-1], "/")]
		if parent == nil {
			continue // beneath a path that could not be locked
		}
		name := segs[len(segs)-1]
		switch r := pin.Resolution.(type) {
		case *pb.PathPin_Follows:
			parent.Inputs[name] = &Edge{Follows: append([]string{}, r.Follows.Names...)}
			continue
		case *pb.PathPin_Unpinned:
			problems = append(problems, fmt.Sprintf("input '%s' (%s): %s; lock it once with nix flake lock, and the pin stays from then on", p, pin.Url, r.Unpinned.Reason))
			continue
		}
		tree := pin.GetPin()
		original := tree.Original
		switch {
		case original != nil:
		case len(segs) == 1 && decls[name] != nil:
			original = decls[name].Source
		default:
			// Nix 2.8 records an input an override replaced as the
			// dependency declared it (2.26 as the override says).
			var err error
			if original, err = flakeref.ParseAny(cmp.Or(pin.DeclaredUrl, pin.Url)); err != nil {
				problems = append(problems, fmt.Sprintf("input '%s': %v", p, err))
				continue
			}
		}
		locked := tree.Locked
		switch tree.Origin {
		case pb.PinOrigin_PIN_ORIGIN_EXISTING_LOCK:
			// Kept as the lock holds it.
		case pb.PinOrigin_PIN_ORIGIN_DEPENDENCY_LOCK:
			locked = Trim(locked, nix)
		default:
			var err error
			if locked, err = LockedFor(original, tree.Locked, tree.Ref, nix); err != nil {
				problems = append(problems, fmt.Sprintf("input '%s' (%s %s): %v", p, tree.Flake, orRef(tree), err))
				continue
			}
		}
		n := &Node{Inputs: map[string]*Edge{}, Original: original, Locked: locked, NotFlake: pin.SourceOnly}
		parent.Inputs[name] = &Edge{Node: n}
		nodes[p] = n
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("cannot lock:\n  %s", strings.Join(problems, "\n  "))
	}
	return root, nil
}

// shallowFirst orders input paths by depth, then by name.
func shallowFirst(a, b string) int {
	if c := cmp.Compare(strings.Count(a, "/"), strings.Count(b, "/")); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func orRef(pin *pb.Pin) string {
	switch {
	case pin.Version != "":
		return pin.Version
	case pin.Ref != "":
		return "ref:" + pin.Ref
	}
	return "rev:" + pin.Locked.GetRev()
}

// FollowsLine is a follows declaration that lets Nix share one node where
// the answer pins identical trees at several paths.
type FollowsLine struct {
	Path   []string // the input path to redirect
	Target string   // the path that keeps its node
}

// String renders the line as it goes into the root flake.nix.
func (l FollowsLine) String() string {
	parts := make([]string, len(l.Path))
	for i, p := range l.Path {
		parts[i] = "inputs." + nixName(p)
	}
	return fmt.Sprintf("%s.follows = %q;", strings.Join(parts, "."), l.Target)
}

func nixName(s string) string {
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '\'')) {
			return fmt.Sprintf("%q", s)
		}
	}
	return s
}

// Follows proposes follows lines for the duplicated pins of an answer:
// each tree keeps the node at its shortest path, and every other path
// that pins it follows that one, unless an enclosing path is redirected
// already (its whole subtree goes with it).
func Follows(resp *pb.ResolveInputsResponse) []FollowsLine {
	redirected := map[string]bool{}
	type cand struct{ path, target string }
	var cands []cand
	for _, n := range resp.Trees {
		if len(n.Paths) < 2 {
			continue
		}
		ps := append([]string{}, n.Paths...)
		slices.SortFunc(ps, shallowFirst)
		for _, p := range ps[1:] {
			cands = append(cands, cand{p, ps[0]})
		}
	}
	slices.SortFunc(cands, func(a, b cand) int { return shallowFirst(a.path, b.path) })
	var lines []FollowsLine
	for _, c := range cands {
		segs := strings.Split(c.path, "/")
		covered := false
		for i := 1; i < len(segs); i++ {
			covered = covered || redirected[strings.Join(segs[:i], "/")]
		}
		// A root input has a url of its own; redirecting it is the user's
		// decision, not a deduplication.
		if len(segs) < 2 || covered || strings.HasPrefix(c.target+"/", c.path+"/") {
			continue
		}
		redirected[c.path] = true
		lines = append(lines, FollowsLine{Path: segs, Target: c.target})
	}
	return lines
}
