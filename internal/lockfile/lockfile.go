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
	Original *pb.Source
	// Locked is the exact tree; nil for the root.
	Locked *pb.Source
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
func Marshal(root *Node) ([]byte, error) {
	m := ToProto(root)
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

// Parse reads a flake.lock of version 5 to 7, as Nix 2.8 does. Nodes that
// several inputs name by one key become one Node, as Nix reads them.
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
	m := &pb.LockFile{Version: uint32(f.Version), Root: f.Root, Nodes: map[string]*pb.LockNode{}}
	for _, key := range slices.Sorted(maps.Keys(f.Nodes)) {
		var jn struct {
			Inputs   map[string]json.RawMessage `json:"inputs"`
			Original map[string]any             `json:"original"`
			Locked   map[string]any             `json:"locked"`
			Info     map[string]any             `json:"info"` // version 5 kept some locked attributes here
			Flake    *bool                      `json:"flake"`
		}
		d := json.NewDecoder(bytes.NewReader(f.Nodes[key]))
		d.UseNumber()
		if err := d.Decode(&jn); err != nil {
			return nil, fmt.Errorf("%s: node %q: %v", name, key, err)
		}
		n := &pb.LockNode{Flake: jn.Flake, Inputs: map[string]*pb.LockInput{}}
		if jn.Locked != nil {
			for k, v := range jn.Info {
				jn.Locked[k] = v
			}
			var err error
			if n.Locked, err = flakeref.FromAttrs(numbers(jn.Locked)); err != nil {
				return nil, fmt.Errorf("%s: node %q: locked: %v", name, key, err)
			}
			if n.Original, err = flakeref.FromAttrs(numbers(jn.Original)); err != nil {
				return nil, fmt.Errorf("%s: node %q: original: %v", name, key, err)
			}
		}
		for in, r := range jn.Inputs {
			var k string
			var follows []string
			switch {
			case json.Unmarshal(r, &k) == nil:
				n.Inputs[in] = &pb.LockInput{Target: &pb.LockInput_Node{Node: k}}
			case json.Unmarshal(r, &follows) == nil:
				n.Inputs[in] = &pb.LockInput{Target: &pb.LockInput_Follows{Follows: &pb.InputPath{Names: follows}}}
			default:
				return nil, fmt.Errorf("%s: node %q: input %q is %s; expected a node name or a follows path (a list of input names)", name, key, in, r)
			}
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

// LockedFor renders the locked attributes of a tree for an input declared
// as original, with the attributes Nix 2.8 records for the type: forges
// (github, gitlab, sourcehut) owner, repo, rev, lastModified and narHash
// (and host); git url, ref, rev, revCount, lastModified and narHash; a
// tarball only url and narHash; a path only path and narHash. A "dir" in
// the declaration carries over, as Nix keeps the subdirectory.
func LockedFor(original, tree *pb.Source, ref string) (*pb.Source, error) {
	if tree == nil {
		return nil, fmt.Errorf("no locked source")
	}
	l := &pb.Source{Type: tree.Type, NarHash: tree.NarHash, Dir: original.Dir}
	var missing []string
	need := func(field, v string) {
		if v == "" {
			missing = append(missing, field)
		}
	}
	switch tree.Type {
	case "github", "gitlab", "sourcehut":
		l.Owner, l.Repo, l.Host, l.Rev, l.LastModified = tree.Owner, tree.Repo, tree.Host, tree.Rev, tree.LastModified
		need("owner", l.Owner)
		need("repo", l.Repo)
		need("rev", l.Rev)
		if l.LastModified == 0 {
			missing = append(missing, "lastModified")
		}
	case "git":
		l.Url, l.Rev, l.RevCount, l.LastModified = tree.Url, tree.Rev, tree.RevCount, tree.LastModified
		l.Submodules, l.Shallow = original.Submodules, original.Shallow
		// The ref Nix fetched: the one the pin was fetched through (a
		// branch, or for a rev the default branch), else the one the
		// declaration names, else the tree's own (a version's tag).
		l.Ref = cmp.Or(ref, original.Ref, tree.Ref)
		need("url", l.Url)
		need("ref", l.Ref)
		need("rev", l.Rev)
		if l.RevCount == 0 {
			missing = append(missing, "revCount")
		}
		if l.LastModified == 0 {
			missing = append(missing, "lastModified")
		}
	case "tarball":
		l.Url = tree.Url
		need("url", l.Url)
	case "path":
		l.Path = tree.Path
		need("path", l.Path)
	default:
		return nil, fmt.Errorf("type %q cannot be locked for Nix 2.8 (expected github, gitlab, sourcehut, git, tarball or path)", tree.Type)
	}
	need("narHash", l.NarHash)
	if len(missing) > 0 {
		return nil, fmt.Errorf("the index's %s source lacks %s, which Nix 2.8 needs to fetch and verify it", tree.Type, strings.Join(missing, ", "))
	}
	return l, nil
}
