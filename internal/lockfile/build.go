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
	"google.golang.org/protobuf/proto"
)

// Build turns a resolution of a flake's inputs into a lock file tree.
// Inputs the resolver left unpinned (their flake is in no index) keep
// their pin, and everything beneath it, from the old lock when its
// declaration is unchanged, as Nix itself would; without one they are an
// error that says how to get one.
func Build(decls map[string]*flakenix.Input, resp *pb.ResolveResponse, old *Node) (*Node, error) {
	root := &Node{Inputs: map[string]*Edge{}}
	paths := make([]string, 0, len(resp.Paths))
	for p := range resp.Paths {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, shallowFirst) // parents before children
	nodes := map[string]*Node{"": root}
	var problems []string
	for _, p := range paths {
		pin := resp.Paths[p]
		segs := strings.Split(p, "/")
		parent := nodes[strings.Join(segs[:len(segs)-1], "/")]
		if parent == nil {
			continue // beneath a pin kept whole from the old lock
		}
		name := segs[len(segs)-1]
		if pin.Follows != "" {
			parent.Inputs[name] = &Edge{Follows: strings.Split(pin.Follows, "/")}
			continue
		}
		var original *pb.Source
		if len(segs) == 1 && decls[name] != nil {
			original = decls[name].Source
		} else {
			var err error
			if original, err = flakeref.Parse(pin.Url); err != nil {
				problems = append(problems, fmt.Sprintf("input '%s': %v", p, err))
				continue
			}
		}
		if pin.Unpinned != "" {
			prev := old.Lookup(segs)
			if prev == nil || prev.Locked == nil || !flakeref.Equal(prev.Original, original) {
				problems = append(problems, fmt.Sprintf("input '%s' (%s): %s, and flake.lock has no pin for it to keep; lock it once with nix flake lock, and flakeresolve keeps that pin from then on", p, pin.Url, pin.Unpinned))
				continue
			}
			parent.Inputs[name] = &Edge{Node: copyTree(prev)}
			continue
		}
		locked, err := LockedFor(original, pin.Locked, pin.Ref)
		if err != nil {
			problems = append(problems, fmt.Sprintf("input '%s' (%s %s): %v", p, pin.Flake, orRef(pin), err))
			continue
		}
		n := &Node{Inputs: map[string]*Edge{}, Original: original, Locked: locked, NotFlake: pin.NotFlake}
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

func orRef(pin *pb.PathPin) string {
	if pin.Version != "" {
		return pin.Version
	}
	return "ref:" + pin.Ref
}

// copyTree copies a subtree so that it is one node per path even when the
// old lock shared nodes between paths.
func copyTree(n *Node) *Node {
	c := &Node{Inputs: map[string]*Edge{}, NotFlake: n.NotFlake}
	if n.Locked != nil {
		c.Original, c.Locked = proto.Clone(n.Original).(*pb.Source), proto.Clone(n.Locked).(*pb.Source)
	}
	for name, e := range n.Inputs {
		if e.Node != nil {
			c.Inputs[name] = &Edge{Node: copyTree(e.Node)}
		} else {
			c.Inputs[name] = &Edge{Follows: append([]string{}, e.Follows...)}
		}
	}
	return c
}

// Pins lists the trees an old lock pins, for a stable re-resolution: every
// node at its path, except beneath root inputs whose declaration changed,
// which Nix would lock afresh too.
func Pins(old *Node, decls map[string]*flakenix.Input) []*pb.ExistingPin {
	if old == nil {
		return nil
	}
	var pins []*pb.ExistingPin
	var walk func(n *Node, prefix string)
	walk = func(n *Node, prefix string) {
		for _, name := range slices.Sorted(maps.Keys(n.Inputs)) {
			e := n.Inputs[name]
			if e.Node == nil || e.Node.Locked == nil {
				continue
			}
			path := name
			if prefix != "" {
				path = prefix + "/" + name
			} else if d := decls[name]; d == nil || d.Source == nil || !flakeref.Equal(d.Source, e.Node.Original) {
				continue
			}
			pins = append(pins, &pb.ExistingPin{Path: path, NarHash: e.Node.Locked.NarHash, Rev: e.Node.Locked.Rev})
			walk(e.Node, path)
		}
	}
	walk(old, "")
	return pins
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
func Follows(resp *pb.ResolveResponse) []FollowsLine {
	redirected := map[string]bool{}
	type cand struct{ path, target string }
	var cands []cand
	for _, n := range resp.Nodes {
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
