package lockfile

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// ChangeKind says what happened to an input path between two locks.
type ChangeKind int

const (
	Added ChangeKind = iota + 1
	Removed
	Updated
)

// Change is one line of Nix's lock file diff: an input path whose edge
// appeared, disappeared, or now locks another tree or follows another
// path.
type Change struct {
	Kind ChangeKind
	Path []string
	// Old and New are the path's edge in each lock: a node, whose Locked
	// is the tree, or a follows path. Old is nil for an added path, New
	// for a removed one.
	Old, New *Edge
}

// Diff compares two locks as Nix 2.8's LockFile::diff does, which is what
// CI users know from `nix flake lock` and paste into pull requests: every
// input path of each lock (a node that several paths share is entered
// once, by the first path that reaches it depth first), ordered name by
// name; a path whose edges differ is updated, where two nodes differ by
// their locked reference only (not original or flake), two follows by
// their path, and a node never equals a follows. A nil lock is an empty
// one.
func Diff(old, new *Node) []Change {
	o, n := allInputs(old), allInputs(new)
	var out []Change
	i, j := 0, 0
	for i < len(o) || j < len(n) {
		switch {
		case j < len(n) && (i == len(o) || comparePaths(o[i].path, n[j].path) > 0):
			out = append(out, Change{Kind: Added, Path: n[j].path, New: n[j].edge})
			j++
		case i < len(o) && (j == len(n) || comparePaths(o[i].path, n[j].path) < 0):
			out = append(out, Change{Kind: Removed, Path: o[i].path, Old: o[i].edge})
			i++
		default:
			if !sameEdge(o[i].edge, n[j].edge) {
				out = append(out, Change{Kind: Updated, Path: n[j].path, Old: o[i].edge, New: n[j].edge})
			}
			i++
			j++
		}
	}
	return out
}

type pathEdge struct {
	path []string
	edge *Edge
}

// allInputs is LockFile::getAllInputs: every input path with its edge,
// sorted; a node's inputs are listed under the first path that reaches it.
func allInputs(root *Node) []pathEdge {
	var out []pathEdge
	done := map[*Node]bool{}
	var walk func(prefix []string, n *Node)
	walk = func(prefix []string, n *Node) {
		if n == nil || done[n] {
			return
		}
		done[n] = true
		for _, name := range slices.Sorted(maps.Keys(n.Inputs)) {
			e := n.Inputs[name]
			path := append(slices.Clip(prefix), name)
			out = append(out, pathEdge{path, e})
			walk(path, e.Node)
		}
	}
	walk(nil, root)
	slices.SortStableFunc(out, func(a, b pathEdge) int { return comparePaths(a.path, b.path) })
	return out
}

// comparePaths orders input paths as Nix's std::vector<std::string> does:
// name by name, so "a/x" comes before "a-b" although '/' sorts after '-'.
func comparePaths(a, b []string) int { return slices.Compare(a, b) }

func sameEdge(a, b *Edge) bool {
	switch {
	case a.Node != nil && b.Node != nil:
		return proto.Equal(a.Node.Locked, b.Node.Locked)
	case a.Node == nil && b.Node == nil:
		return slices.Equal(a.Follows, b.Follows)
	}
	return false
}

// String renders the change exactly as Nix 2.8 prints it, without the
// colours it uses on a terminal (and filters out of commit messages).
func (c Change) String() string {
	path := strings.Join(c.Path, "/")
	switch c.Kind {
	case Added:
		return fmt.Sprintf("• Added input '%s':\n    %s\n", path, describe(c.New))
	case Removed:
		return fmt.Sprintf("• Removed input '%s'\n", path)
	}
	return fmt.Sprintf("• Updated input '%s':\n    %s\n  → %s\n", path, describe(c.Old), describe(c.New))
}

// describe is Nix's rendering of an edge: the locked reference quoted,
// with the day of its lastModified in UTC, or the follows path.
func describe(e *Edge) string {
	if e.Node == nil {
		return fmt.Sprintf("follows '%s'", strings.Join(e.Follows, "/"))
	}
	s := "'" + flakeref.LockedURL(e.Node.Locked) + "'"
	if lm := e.Node.Locked.GetLastModified(); lm != 0 {
		s += " (" + time.Unix(lm, 0).UTC().Format(time.DateOnly) + ")"
	}
	return s
}

// Changes is the message form of the diff from the lock old to a lock
// built from the answer resp, for `flakeresolve lock --json`: each change
// with the answer's pin for its path and the facts that say why it moved
// (an --update of update released it; it now shares a tree it did not
// share before), and the answer's duplicates.
func Changes(diff []Change, old *Node, resp *pb.ResolveResponse, update []string) *pb.LockChanges {
	out := &pb.LockChanges{Duplicates: resp.GetDuplicates()}
	treeOf := map[string]*pb.ResolvedNode{}
	for _, n := range resp.GetNodes() {
		for _, p := range n.Paths {
			treeOf[p] = n
		}
	}
	for _, c := range diff {
		path := strings.Join(c.Path, "/")
		m := &pb.LockChanges_Change{Path: path}
		if c.Old != nil {
			m.From = pinOf(c.Old)
		}
		if c.New != nil {
			m.To = pinOf(c.New)
			if p := resp.GetPaths()[path]; p != nil {
				// The answer's reasons, with the attributes the lock records.
				m.To = proto.Clone(p).(*pb.PathPin)
				if c.New.Node != nil {
					m.To.Locked, m.To.Original = c.New.Node.Locked, c.New.Node.Original
				}
			}
		}
		for _, u := range update {
			m.Released = m.Released || path == u || strings.HasPrefix(path, u+"/")
		}
		switch c.Kind {
		case Added:
			out.Added = append(out.Added, m)
		case Removed:
			out.Removed = append(out.Removed, m)
		case Updated:
			if c.Old.Node != nil && c.New.Node != nil && treeOf[path] != nil {
				for _, q := range treeOf[path].Paths {
					was := old.Lookup(strings.Split(q, "/"))
					if q != path && was != nil && !proto.Equal(was.Locked, c.Old.Node.Locked) {
						m.NowShares = append(m.NowShares, q)
					}
				}
			}
			out.Updated = append(out.Updated, m)
		}
	}
	return out
}

// pinOf is what a lock holds at a path, as a pin.
func pinOf(e *Edge) *pb.PathPin {
	if e.Node == nil {
		return &pb.PathPin{Follows: &pb.InputPath{Names: e.Follows}}
	}
	return &pb.PathPin{Locked: e.Node.Locked, Original: e.Node.Original, NotFlake: e.Node.NotFlake}
}
