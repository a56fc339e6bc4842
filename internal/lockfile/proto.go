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

// ToProto records a committed flake.lock in the index's LockFile message,
// exactly: node keys, every attribute of original and locked whichever
// Nix wrote them (a FlakeHub tarball's rev and lastModified included, which
// Nix 2.8 itself would refuse), flake = false, follows paths, the version.
// It judges nothing but the shape (index validation does); a version 5 or
// 6 lock's "info" set is merged into locked, as Nix reads it. Fields Nix
// ignores are ignored.
func ToProto(name string, data []byte) (*pb.LockFile, error) {
	var f struct {
		Nodes   map[string]json.RawMessage `json:"nodes"`
		Root    string                     `json:"root"`
		Version uint32                     `json:"version"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	lf := &pb.LockFile{Version: f.Version, Root: f.Root, Nodes: make(map[string]*pb.LockNode, len(f.Nodes))}
	for _, key := range slices.Sorted(maps.Keys(f.Nodes)) {
		n, err := nodeToProto(f.Nodes[key])
		if err != nil {
			return nil, fmt.Errorf("%s: node %q: %v", name, key, err)
		}
		lf.Nodes[key] = n
	}
	return lf, nil
}

func nodeToProto(raw json.RawMessage) (*pb.LockNode, error) {
	var jn struct {
		Inputs   map[string]json.RawMessage `json:"inputs"`
		Original map[string]any             `json:"original"`
		Locked   map[string]any             `json:"locked"`
		Info     map[string]any             `json:"info"`
		Flake    *bool                      `json:"flake"`
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	if err := d.Decode(&jn); err != nil {
		return nil, err
	}
	n := &pb.LockNode{Flake: jn.Flake}
	var err error
	if jn.Original != nil {
		if n.Original, err = flakeref.SourceOf(numbers(jn.Original)); err != nil {
			return nil, fmt.Errorf("original: %v", err)
		}
	}
	if jn.Locked != nil {
		locked := numbers(jn.Locked)
		maps.Copy(locked, numbers(jn.Info))
		if n.Locked, err = flakeref.SourceOf(locked); err != nil {
			return nil, fmt.Errorf("locked: %v", err)
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
