// Package lockfile reads and writes flake.lock files that Nix 2.8 and later
// accept unchanged.
//
// Nix compares a lock file with the one it would compute, as JSON text, so
// every byte counts: version 7, one node per input path (two paths that
// share a node are rejected by --no-update-lock-file and rewritten by
// nix flake lock), node keys named like the input with _2, _3, ... in
// depth-first order over sorted input names, keys sorted, two-space
// indentation and a final newline. A node's "original" is Nix's parse of
// the declaration; "locked" holds exactly the attributes Nix 2.8's fetcher
// for the type records, no more (2.8 rejects rev or lastModified on a
// tarball) and no less (it verifies each one against what it fetches).
package lockfile

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Node is the root or the pin of one input path.
type Node struct {
	Inputs map[string]*Edge
	// Original is the input as declared; nil for the root.
	Original *pb.FlakeRef
	// Locked is the exact tree; nil for the root.
	Locked *pb.FlakeRef
	// NotFlake marks a flake = false input.
	NotFlake bool
}

// Edge is an input of a node: a node of its own, or a follows path from
// the root.
type Edge struct {
	Node    *Node
	Follows []string
}

// Lookup returns the node at an input path, following no follows edges;
// nil when there is none.
func (n *Node) Lookup(path []string) *Node {
	cur := n
	for _, p := range path {
		if cur == nil || cur.Inputs[p] == nil {
			return nil
		}
		cur = cur.Inputs[p].Node
	}
	return cur
}

// Marshal renders a lock file byte for byte as Nix writes it.
func Marshal(root *Node) ([]byte, error) { return marshalFile(ToProto(root)) }

// marshalFile renders a lock file message as Nix writes lock files.
func marshalFile(m *pb.LockFile) ([]byte, error) {
	nodes := map[string]any{}
	for key, n := range m.Nodes {
		obj := map[string]any{}
		if len(n.Inputs) > 0 {
			inputs := map[string]any{}
			for name, in := range n.Inputs {
				if f := in.GetFollows(); f != nil {
					inputs[name] = append([]string{}, f.Names...)
				} else {
					inputs[name] = in.GetNode()
				}
			}
			obj["inputs"] = inputs
		}
		if n.Locked != nil {
			obj["original"] = flakeref.Attrs(n.Original)
			obj["locked"] = flakeref.Attrs(n.Locked)
			if n.Flake != nil && !*n.Flake {
				obj["flake"] = false
			}
		}
		nodes[key] = obj
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(map[string]any{"nodes": nodes, "root": m.Root, "version": m.Version}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Parse reads a flake.lock of version 5 to 7, as Nix 2.8 and later read
// one, keeping every attribute whichever Nix wrote it (Nix 2.26 records a
// tarball's lastModified, which 2.8 refuses): a lock is the user's, and
// stays as it is where nothing moves. Nodes that several inputs name by
// one key become one Node, as Nix reads them.
func Parse(name string, data []byte) (*Node, error) {
	var f struct {
		Nodes   map[string]json.RawMessage `json:"nodes"`
		Root    string                     `json:"root"`
		Version int                        `json:"version"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return nil, fmt.Errorf("%s: %s is a JSON %s; expected an object with nodes, root and version", name, orTop(typeErr.Field), typeErr.Value)
		}
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if f.Version < 5 || f.Version > 7 {
		return nil, fmt.Errorf("%s: lock file version %d is not supported (expected 5 to 7)", name, f.Version)
	}
	m := &pb.LockFile{Version: int32(f.Version), Root: f.Root, Nodes: map[string]*pb.LockNode{}}
	for _, key := range slices.Sorted(maps.Keys(f.Nodes)) {
		n, err := decodeNode(f.Nodes[key], flakeref.SourceOf)
		if err != nil {
			return nil, fmt.Errorf("%s: node %q: %v", name, key, err)
		}
		m.Nodes[key] = n
	}
	root, err := FromProto(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	return root, nil
}

func orTop(field string) string {
	if field == "" {
		return "the file"
	}
	return "field " + field
}

// numbers turns json.Number values into int64, as attributes hold them.
func numbers(m map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				out[k] = i
				continue
			}
		}
		out[k] = v
	}
	return out
}

// Unfetched lists the input paths whose pin is of a type that some Nix
// from nix on cannot fetch (a file download, which newer Nix writes into
// the locks of flakes that use it, for Nix 2.8), sorted, each with its type
// and the first Nix that fetches it.
func Unfetched(root *Node, nix flakeref.NixVersion) []string {
	var out []string
	var walk func(n *Node, prefix string)
	walk = func(n *Node, prefix string) {
		for _, name := range slices.Sorted(maps.Keys(n.Inputs)) {
			e := n.Inputs[name]
			if e.Node == nil {
				continue
			}
			path := name
			if prefix != "" {
				path = prefix + "/" + name
			}
			if t, ok := flakeref.LookupType(e.Node.Locked.GetType()); ok && !t.Fetched(nix) {
				out = append(out, fmt.Sprintf("%s (%s, Nix %s and later)", path, t.Name, t.Since))
			}
			walk(e.Node, path)
		}
	}
	walk(root, "")
	return out
}

// Trim keeps of a locked source what every Nix from nix on reads for its
// type (its location, the attributes flakeref.Types allows from nix on,
// and the declaration's attributes it repeats), so that a pin copied from
// a lock a newer Nix wrote (a FlakeHub tarball's rev and lastModified,
// say) reads in the oldest Nix the lock is for. A type that Nix cannot
// fetch is kept as it is.
func Trim(locked *pb.FlakeRef, nix flakeref.NixVersion) *pb.FlakeRef {
	t, ok := flakeref.LookupType(locked.Type)
	if !ok || !t.Fetched(nix) {
		return locked
	}
	attrs := flakeref.Attrs(locked)
	keep := map[string]any{"type": locked.Type}
	for _, names := range [][]string{t.Location, t.OptionalLocation, t.LockAttrs(nix), t.Declared, {"dir"}} {
		for _, k := range names {
			if v, ok := attrs[k]; ok {
				keep[k] = v
			}
		}
	}
	trimmed, err := flakeref.SourceOf(keep)
	if err != nil {
		return locked // cannot happen: the attributes came from a source
	}
	return trimmed
}

// LockedFor renders the locked attributes of a tree for an input declared
// as original, for every Nix from nix on: what flakeref.Types says that
// Nix reads for the type, no more and no less. That is the location (a
// forge's owner, repo and host; a url; a path), the type's pin (forges:
// rev, lastModified, narHash; git: ref, rev, revCount, lastModified,
// narHash; a tarball its narHash, and from the Nix releases that read the
// lockable tarball protocol its rev, revCount and lastModified, where the
// tree has them; a path its narHash), and what the declaration carries
// over: its "dir", which Nix keeps, and git's submodules and shallow. A
// git or hg ref is the one the pin was fetched through (a branch, or for a
// rev the default branch), else the one the declaration names, else the
// tree's own (a version's tag).
//
// A tarball declaration (a requirement URL, .../f/OWNER/PROJECT/REQ.tar.gz)
// locks to a tarball, as Nix locks one through the redirect it gets: a
// forge version becomes its rev's archive (flakeref.Tarball), with its rev
// and lastModified.
func LockedFor(original, tree *pb.FlakeRef, ref string, nix flakeref.NixVersion) (*pb.FlakeRef, error) {
	if tree == nil {
		return nil, fmt.Errorf("no locked source")
	}
	if original.GetType() == "tarball" && tree.Type != "tarball" {
		if url, ok := flakeref.Tarball(tree); ok {
			tree = &pb.FlakeRef{Type: "tarball", Url: url, Rev: tree.Rev, RevCount: tree.RevCount, LastModified: tree.LastModified, NarHash: tree.NarHash}
		}
	}
	t, known := flakeref.LookupType(tree.Type)
	if !known || len(t.Pin) == 0 || !t.Fetched(nix) {
		var lockable []string
		for _, t := range flakeref.Types {
			if len(t.Pin) > 0 && t.Fetched(nix) {
				lockable = append(lockable, t.Name)
			}
		}
		return nil, fmt.Errorf("type %q cannot be locked for Nix %s (expected %s)", tree.Type, nix, strings.Join(lockable, ", "))
	}
	from := flakeref.Attrs(tree)
	if t.Kind == flakeref.KindRepository && original.Type == tree.Type && strings.HasPrefix(original.Url, tree.Url+"?") {
		// Nix 2.8 keeps the query a repository URL was declared with
		// (?dir=sub) in the url it locks.
		from["url"] = original.Url
	}
	if slices.Contains(t.Pin, "ref") {
		if r := cmp.Or(ref, original.Ref, tree.Ref); r != "" {
			from["ref"] = r
		}
	}
	attrs := map[string]any{"type": t.Name}
	var missing []string
	for _, a := range slices.Concat(t.Location, t.Pin) {
		if v, ok := from[a]; ok {
			attrs[a] = v
		} else {
			missing = append(missing, a)
		}
	}
	for _, a := range slices.Concat(t.OptionalLocation, t.LockAttrs(nix)) {
		if v, ok := from[a]; ok {
			attrs[a] = v
		}
	}
	declared := flakeref.Attrs(original)
	for _, a := range append([]string{"dir"}, t.Declared...) {
		if v, ok := declared[a]; ok {
			attrs[a] = v
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the index's %s source lacks %s, which Nix needs to fetch and verify it", tree.Type, strings.Join(missing, ", "))
	}
	return flakeref.SourceOf(attrs)
}
