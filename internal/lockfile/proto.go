package lockfile

import (
	"fmt"
	"maps"
	"slices"

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
