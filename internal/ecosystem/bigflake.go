package ecosystem

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"

	"google.golang.org/protobuf/proto"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// BigFlake is an index with one flake of a great many versions, "big",
// and one flake, "app", that requires a narrow range of them: the shape of
// a registry that publishes every commit of a busy repository, which
// stresses loading and memory rather than the solver.
type BigFlake struct {
	Index *pb.Index
	// Request is a root requirement on app, whose one version requires
	// big "~57.3".
	Request map[string]*pb.Input
}

const (
	// One version in bigLockEvery (each minor's first) carries a committed
	// flake.lock, and the locks change every bigLockChange versions; the
	// declared inputs change every bigInputsEvery versions.
	bigLockEvery   = 100
	bigLockChange  = 1_000
	bigInputsEvery = 10_000
)

// GenerateBig builds a BigFlake whose big has n versions, numbered
// MAJOR.MINOR.PATCH with 100 patches per minor and 100 minors per major
// (1,000,000 versions end at 99.99.99). Each version declares nixpkgs, a
// library following it, and flake-utils, on the nixpkgs branch of its
// major; each minor's first carries a flake.lock pinning them.
func GenerateBig(n int) *BigFlake {
	big := flake("big", "eco", "big")
	big.Refs = map[string]*pb.Ref{}
	var inputs map[string]*pb.Input
	var lock *pb.LockFile
	for i := range n {
		version := fmt.Sprintf("%d.%d.%d", i/10_000, i/100%100, i%100)
		if i%bigInputsEvery == 0 {
			inputs = bigInputs(i / bigInputsEvery)
		}
		if i%bigLockChange == 0 {
			lock = bigLock(i/bigLockChange, i/bigInputsEvery)
		}
		// Versions share the messages of their inputs and lock: only
		// the serialized form is loaded, where nothing is shared.
		v := &pb.Version{Version: version, Locked: bigPin("big@"+version, int64(i)), Inputs: inputs}
		if i%bigLockEvery == 0 {
			v.LockFile = lock
		}
		big.Versions = append(big.Versions, v)
	}
	head := bigPin("big@main", int64(n))
	big.Refs["main"] = &pb.Ref{Rev: head.Rev, NarHash: head.NarHash, LastModified: head.LastModified, RevCount: head.RevCount,
		Inputs: inputs, LockFile: lock}
	big.DefaultRef = "main"

	app := flake("app", "eco", "app")
	app.Versions = []*pb.Version{{Version: "1.0.0", Locked: bigPin("app@1.0.0", 0),
		Inputs: map[string]*pb.Input{"big": {Url: "github:eco/big", Version: "~57.3"}}}}
	return &BigFlake{
		Index:   &pb.Index{Schema: 1, Flakes: []*pb.Flake{big, app}},
		Request: map[string]*pb.Input{"app": {Url: "github:eco/app", Version: "^1"}},
	}
}

// bigPin is the locked tree of key, the k-th commit.
func bigPin(key string, k int64) *pb.FlakeRef {
	rev := sha1.Sum([]byte(key))
	nar := sha256.Sum256([]byte(key))
	return &pb.FlakeRef{Rev: hex.EncodeToString(rev[:]), NarHash: "sha256-" + base64.StdEncoding.EncodeToString(nar[:]),
		LastModified: 1_500_000_000 + 600*k, RevCount: 1000 + k}
}

// bigInputs are the inputs declared in the era-th stretch of versions,
// each on its own nixpkgs branch.
func bigInputs(era int) map[string]*pb.Input {
	return map[string]*pb.Input{
		"nixpkgs":     {Url: fmt.Sprintf("github:NixOS/nixpkgs/nixos-%02d.%02d", 15+era/2, 5+era%2*6)},
		"flake-utils": {Url: "github:numtide/flake-utils"},
		"helper":      {Url: "github:eco/helper", Inputs: map[string]*pb.Input{"nixpkgs": {Follows: proto.String("nixpkgs")}}},
	}
}

// bigLock is the k-th flake.lock: nixpkgs moves with every lock, the
// library and flake-utils rarely.
func bigLock(k, era int) *pb.LockFile {
	pin := func(owner, repo string, at int) *pb.LockNode {
		p := bigPin(fmt.Sprintf("%s/%s@%d", owner, repo, at), int64(at))
		return &pb.LockNode{
			Original: &pb.FlakeRef{Type: "github", Owner: owner, Repo: repo},
			Locked:   &pb.FlakeRef{Type: "github", Owner: owner, Repo: repo, Rev: p.Rev, NarHash: p.NarHash, LastModified: p.LastModified},
		}
	}
	nixpkgs := pin("NixOS", "nixpkgs", k)
	nixpkgs.Original.Ref = fmt.Sprintf("nixos-%02d.%02d", 15+era/2, 5+era%2*6)
	helper := pin("eco", "helper", k/100)
	helper.Inputs = map[string]*pb.LockInput{"nixpkgs": {Target: &pb.LockInput_Follows{Follows: &pb.InputPath{Names: []string{"nixpkgs"}}}}}
	utils := pin("numtide", "flake-utils", k/1000)
	utils.Inputs = map[string]*pb.LockInput{"systems": {Target: &pb.LockInput_Node{Node: "systems"}}}
	return &pb.LockFile{Version: 7, Root: "root", Nodes: map[string]*pb.LockNode{
		"root": {Inputs: map[string]*pb.LockInput{
			"nixpkgs":     {Target: &pb.LockInput_Node{Node: "nixpkgs"}},
			"helper":      {Target: &pb.LockInput_Node{Node: "helper"}},
			"flake-utils": {Target: &pb.LockInput_Node{Node: "flake-utils"}},
		}},
		"nixpkgs":     nixpkgs,
		"helper":      helper,
		"flake-utils": utils,
		"systems":     pin("nix-systems", "default", 0),
	}}
}
