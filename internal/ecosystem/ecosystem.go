// Package ecosystem generates synthetic flake ecosystems and hands the same
// problems to flakeresolve and to peer solvers, for benchmarks and for
// independent checks of the resolver's answers.
//
// A benchmark claim must hold on problems the resolver was not tuned to, so
// there are two generators of different shapes, chosen by name (Generators):
//
//   - "hub": one nixpkgs-like hub with thousands of FlakeHub-style versions,
//     Zipf-popular libraries whose release counts follow popularity,
//     rolling 0.1.N flakes, and one requirement in eight lagging behind;
//   - "layered": several smaller hubs that depend on each other, libraries in
//     layers that each require the layer below (deep requirement chains),
//     about V versions per library for V = 20, 30 or 50 by ecosystem size,
//     and one requirement in three pinned to an older compatibility class,
//     which is what forces several versions of a flake.
//
// Generation is deterministic for a size and a seed, so a benchmark problem
// is named by its generator, size and seed and never needs to be committed.
//
// A problem (an ecosystem and a request's root inputs) is written in each
// tool's own input form: the index protobuf and a request for flakeresolve,
// a libsolv testcase for testsolv (WriteTestcase), and CUDF for aspcud
// (WriteCUDF). The peers' answers are read back as trees and judged here
// (Check), independently of the resolver: a peer is never trusted blindly,
// and neither is the resolver.
package ecosystem

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Generator is one shape of synthetic ecosystem.
type Generator struct {
	Name string
	// Shape says in a line what the generator makes, for tables and help.
	Shape string
	// Generate builds an ecosystem of n flakes (n >= 100) from a seed.
	Generate func(n int, seed uint64) *Ecosystem
}

// Generators are the generators by name, the first being the default.
var Generators = []Generator{
	{"hub", "one nixpkgs-like hub, Zipf libraries, one requirement in eight lagging", Generate},
	{"layered", "several hubs, layered libraries with deep chains, one requirement in three lagging a class", GenerateLayered},
}

// Lookup finds a generator by name.
func Lookup(name string) (Generator, error) {
	var names []string
	for _, g := range Generators {
		if g.Name == name {
			return g, nil
		}
		names = append(names, g.Name)
	}
	return Generator{}, fmt.Errorf("unknown ecosystem generator %q, expected one of %s", name, strings.Join(names, ", "))
}

// Ecosystem is a generated index with what its request generator needs.
type Ecosystem struct {
	Index *pb.Index
	seed  uint64
	// request draws n root inputs the way the generator's users would.
	request func(rng *rand.Rand, n int) map[string]*pb.Input

	once sync.Once
	u    *universe
	uErr error
}

// Request picks n root inputs the way a user's flake does; the same seed
// gives the same request.
func (e *Ecosystem) Request(n int, seed uint64) map[string]*pb.Input {
	return e.request(rand.New(rand.NewPCG(e.seed, seed)), n)
}

// Versions is the number of versions in the ecosystem.
func (e *Ecosystem) Versions() int {
	n := 0
	for _, f := range e.Index.Flakes {
		n += len(f.Versions)
	}
	return n
}

// epochs is how many steps release time runs over.
const epochs = 100

type release struct {
	version string
	epoch   int
}

func flake(name, owner, repo string) *pb.Flake {
	return &pb.Flake{Name: name, Source: &pb.Source{Type: "github", Owner: owner, Repo: repo}}
}

// addVersions adds a version for each release, locked to a rev and narHash made
// from its name, with the inputs the generator gives it.
func addVersions(f *pb.Flake, rs []release, inputs func(release) map[string]*pb.Input) {
	for _, r := range rs {
		key := f.Name + "@" + r.version
		rev := sha1.Sum([]byte(key))
		nar := sha256.Sum256([]byte(key))
		v := &pb.Version{Version: r.version, Locked: &pb.Source{
			Rev: hex.EncodeToString(rev[:]), NarHash: "sha256-" + base64.StdEncoding.EncodeToString(nar[:]),
			LastModified: int64(1_600_000_000 + r.epoch*1_000_000),
		}}
		if inputs != nil {
			v.Inputs = inputs(r)
		}
		f.Versions = append(f.Versions, v)
	}
}

func githubURL(f *pb.Flake) string { return "github:" + f.Source.Owner + "/" + f.Source.Repo }

// semverReleases spreads count releases from start to the last epoch: out of
// every 20 releases, about majors bump the major version, about minors - majors
// the minor, and the rest the patch.
func semverReleases(rng *rand.Rand, count, start, majors, minors int) []release {
	major, minor, patch := 0, 1, 0
	var rs []release
	for k := range count {
		rs = append(rs, release{fmt.Sprintf("%d.%d.%d", major, minor, patch), start + k*(epochs-start)/count})
		switch x := rng.IntN(20); {
		case x < majors:
			major, minor, patch = major+1, 0, 0
		case x < minors:
			minor, patch = minor+1, 0
		default:
			patch++
		}
	}
	return rs
}

// newestAt is the index of the release that was newest at epoch, or -1
// when none had been released yet.
func newestAt(rs []release, epoch int) int {
	return sort.Search(len(rs), func(i int) bool { return rs[i].epoch > epoch }) - 1
}
