package lockfile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// FromProto builds the graph of a lock file message. Inputs that name one
// node key share one Node, as Nix reads them; a cycle through node keys,
// which only follows paths may express, is an error.
func FromProto(m *pb.LockFile) (*Node, error) {
	if m == nil {
		return nil, nil
	}
	built := map[string]*Node{}
	onPath := map[string]bool{}
	var build func(key string) (*Node, error)
	build = func(key string) (*Node, error) {
		if n, ok := built[key]; ok {
			return n, nil
		}
		if onPath[key] {
			return nil, fmt.Errorf("node %q is its own input (a cycle of node keys; Nix allows cycles only through follows)", key)
		}
		pn, ok := m.Nodes[key]
		if !ok {
			return nil, fmt.Errorf("node %q is named but not defined", key)
		}
		onPath[key] = true
		defer delete(onPath, key)
		n := &Node{Inputs: map[string]*Edge{}, Original: pn.Original, Locked: pn.Locked, NotFlake: pn.Flake != nil && !*pn.Flake}
		if (pn.Locked == nil) != (pn.Original == nil) && key != m.Root {
			return nil, fmt.Errorf("node %q has one of locked and original; a locked node needs both", key)
		}
		for _, name := range slices.Sorted(maps.Keys(pn.Inputs)) {
			switch t := pn.Inputs[name].GetTarget().(type) {
			case *pb.LockInput_Node:
				child, err := build(t.Node)
				if err != nil {
					return nil, err
				}
				n.Inputs[name] = &Edge{Node: child}
			case *pb.LockInput_Follows:
				n.Inputs[name] = &Edge{Follows: append([]string{}, t.Follows.GetNames()...)}
			default:
				return nil, fmt.Errorf("node %q: input %q names neither a node nor a follows path", key, name)
			}
		}
		built[key] = n
		return n, nil
	}
	if m.Root == "" {
		return nil, fmt.Errorf("no root node key")
	}
	return build(m.Root)
}

// ToProto names the nodes of a graph as Nix's LockFile::toJSON does: depth
// first over sorted input names, each node under its input's name, with
// _2, _3, ... when the name is taken; a node reached twice keeps its first
// key. It always writes version 7, the version Nix 2.4 and later write.
func ToProto(root *Node) *pb.LockFile {
	m := &pb.LockFile{Version: 7, Root: "root", Nodes: map[string]*pb.LockNode{}}
	done := map[*Node]string{}
	var dump func(key string, n *Node) string
	dump = func(key string, n *Node) string {
		if k, ok := done[n]; ok {
			return k
		}
		if _, taken := m.Nodes[key]; taken {
			for i := 2; ; i++ {
				if k := fmt.Sprintf("%s_%d", key, i); m.Nodes[k] == nil {
					key = k
					break
				}
			}
		}
		pn := &pb.LockNode{Original: n.Original, Locked: n.Locked}
		if n.NotFlake {
			f := false
			pn.Flake = &f
		}
		m.Nodes[key] = pn
		done[n] = key
		for _, name := range slices.Sorted(maps.Keys(n.Inputs)) {
			if pn.Inputs == nil {
				pn.Inputs = map[string]*pb.LockInput{}
			}
			e := n.Inputs[name]
			if e.Node == nil {
				pn.Inputs[name] = &pb.LockInput{Target: &pb.LockInput_Follows{Follows: &pb.InputPath{Names: append([]string{}, e.Follows...)}}}
				continue
			}
			pn.Inputs[name] = &pb.LockInput{Target: &pb.LockInput_Node{Node: dump(name, e.Node)}}
		}
		return key
	}
	dump("root", root)
	return m
}

// Record reads a committed flake.lock into the index's LockFile message,
// exactly: node keys, every attribute of original and locked whichever
// Nix wrote them (a FlakeHub tarball's rev and lastModified included, which
// Nix 2.8 itself would refuse), flake = false, follows paths, the version.
// It judges nothing but the shape (index validation does); a version 5
// lock's "info" set is merged into locked, as Nix reads it. Fields Nix
// ignores are ignored. Parse is the reading that applies Nix 2.8's rules.
func Record(name string, data []byte) (*pb.LockFile, error) {
	var f struct {
		Nodes   map[string]json.RawMessage `json:"nodes"`
		Root    string                     `json:"root"`
		Version int32                      `json:"version"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	lf := &pb.LockFile{Version: f.Version, Root: f.Root, Nodes: make(map[string]*pb.LockNode, len(f.Nodes))}
	for _, key := range slices.Sorted(maps.Keys(f.Nodes)) {
		n, err := decodeNode(f.Nodes[key], flakeref.SourceOf)
		if err != nil {
			return nil, fmt.Errorf("%s: node %q: %v", name, key, err)
		}
		lf.Nodes[key] = n
	}
	return lf, nil
}

// decodeNode reads one node of a flake.lock, its attribute sets through
// attrs: flakeref.FromAttrs for Nix 2.8's reading, flakeref.SourceOf to
// record them as they are.
func decodeNode(raw json.RawMessage, attrs func(map[string]any) (*pb.FlakeRef, error)) (*pb.LockNode, error) {
	var jn struct {
		Inputs   map[string]json.RawMessage `json:"inputs"`
		Original map[string]any             `json:"original"`
		Locked   map[string]any             `json:"locked"`
		Info     map[string]any             `json:"info"` // version 5 kept some locked attributes here
		Flake    *bool                      `json:"flake"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&jn); err != nil {
		return nil, err
	}
	n := &pb.LockNode{Flake: jn.Flake}
	var err error
	if jn.Locked != nil {
		locked := numbers(jn.Locked)
		maps.Copy(locked, numbers(jn.Info))
		if n.Locked, err = attrs(locked); err != nil {
			return nil, fmt.Errorf("locked: %v", err)
		}
	}
	if jn.Original != nil || jn.Locked != nil {
		if n.Original, err = attrs(numbers(jn.Original)); err != nil {
			return nil, fmt.Errorf("original: %v", err)
		}
	}
	for _, in := range slices.Sorted(maps.Keys(jn.Inputs)) {
		var key string
		var follows []string
		switch r := jn.Inputs[in]; {
		case json.Unmarshal(r, &key) == nil:
			n.Inputs = setInput(n.Inputs, in, &pb.LockInput{Target: &pb.LockInput_Node{Node: key}})
		case json.Unmarshal(r, &follows) == nil:
			n.Inputs = setInput(n.Inputs, in, &pb.LockInput{Target: &pb.LockInput_Follows{Follows: &pb.InputPath{Names: follows}}})
		default:
			return nil, fmt.Errorf("input %q is %s; expected a node name or a follows path (a list of input names)", in, r)
		}
	}
	return n, nil
}

func setInput(m map[string]*pb.LockInput, name string, in *pb.LockInput) map[string]*pb.LockInput {
	if m == nil {
		m = map[string]*pb.LockInput{}
	}
	m[name] = in
	return m
}
