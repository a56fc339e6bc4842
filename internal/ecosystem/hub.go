package ecosystem

import (
	"fmt"
	"math/rand/v2"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// The "hub" generator: one nixpkgs-like hub with thousands of FlakeHub-style
// versions (0.YYMM.N release lines and 0.1.N unstable), libraries whose
// popularity follows a Zipf law, rolling 0.1.N flakes, and requirements
// that lag behind (a version requires the lines its dependencies had when
// it was released).

// Hub release lines, FlakeHub-numbered: 0.2105.N ... 0.2605.N, and 0.1.N.
var hubLines = []int{2105, 2111, 2205, 2211, 2305, 2311, 2405, 2411, 2505, 2511, 2605}

const (
	hubPerLine   = 150  // versions per release line
	hubUnstable  = 1500 // 0.1.N versions
	rollingShare = 20   // one flake in rollingShare is a rolling 0.1.N flake
)

// Generate builds a "hub" ecosystem of n flakes (n >= 10): a nixpkgs-like
// hub with 3,150 versions, one flake in twenty a rolling 0.1.N flake with
// 20 to 220 versions, the rest libraries whose popularity follows a Zipf
// law (s = 1.1). Popular libraries release more often; each version
// requires the hub line current at its release (a quarter of them the
// unstable line), up to three more popular libraries and sometimes a
// rolling flake, each at the caret of the release that was newest then, and
// one requirement in eight lags further behind. Consecutive releases mostly
// keep their inputs, as real flakes do.
func Generate(n int, seed uint64) *Ecosystem {
	rng := rand.New(rand.NewPCG(seed, uint64(n)))
	e := &Ecosystem{Index: &pb.Index{Schema: 1}, seed: seed}

	hub := flake("nixpkgs", "NixOS", "nixpkgs")
	var hubReleases []release
	for i, line := range hubLines {
		for k := range hubPerLine {
			// Line i is current from epoch i*epochs/len(hubLines) on.
			ep := i*epochs/len(hubLines) + k*epochs/len(hubLines)/hubPerLine
			hubReleases = append(hubReleases, release{fmt.Sprintf("0.%d.%d", line, 1000+k), ep})
		}
	}
	for k := range hubUnstable {
		hubReleases = append(hubReleases, release{fmt.Sprintf("0.1.%d", 5000+k), k * epochs / hubUnstable})
	}
	addVersions(hub, hubReleases, nil)
	e.Index.Flakes = append(e.Index.Flakes, hub)

	// Rolling flakes first (they depend on nothing but may be depended on),
	// then libraries by popularity.
	nRolling := max(1, n/rollingShare)
	var rolling []*pb.Flake
	rollReleases := map[*pb.Flake][]release{}
	for i := range nRolling {
		f := flake(fmt.Sprintf("roll-%05d", i), "eco", fmt.Sprintf("roll-%05d", i))
		var rs []release
		count := 20 + rng.IntN(200)
		for k := range count {
			rs = append(rs, release{fmt.Sprintf("0.1.%d", 100+k), k * epochs / count})
		}
		addVersions(f, rs, nil)
		rolling = append(rolling, f)
		rollReleases[f] = rs
		e.Index.Flakes = append(e.Index.Flakes, f)
	}

	nLibs := n - 1 - nRolling
	libReleases := make([][]release, nLibs)
	var libs []*pb.Flake // by popularity, most popular first
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(nLibs-1))
	for i := range nLibs {
		f := flake(fmt.Sprintf("lib-%05d", i), "eco", fmt.Sprintf("lib-%05d", i))
		// Popular libraries release more often.
		count := 3 + int(40/(1+float64(i)/20)) + rng.IntN(5)
		rs := semverReleases(rng, count, rng.IntN(epochs/2), 1, 5)
		libReleases[i] = rs
		deps := func(r release) map[string]*pb.Input {
			in := map[string]*pb.Input{"nixpkgs": {Url: "github:NixOS/nixpkgs", Version: hubReq(rng, r.epoch)}}
			if i > 0 {
				for range rng.IntN(4) {
					j := int(zipf.Uint64()) % i // more popular than i: a DAG
					if req := laggingReq(rng, libReleases[j], r.epoch); req != "" {
						name := fmt.Sprintf("lib-%05d", j)
						in[name] = &pb.Input{Url: "github:eco/" + name, Version: req}
					}
				}
			}
			if rng.IntN(3) == 0 {
				rf := rolling[rng.IntN(len(rolling))]
				if req := laggingReq(rng, rollReleases[rf], r.epoch); req != "" {
					in[rf.Name] = &pb.Input{Url: "github:eco/" + rf.Name, Version: req}
				}
			}
			return in
		}
		// Consecutive releases mostly keep their inputs, as real flakes do.
		var last map[string]*pb.Input
		addVersions(f, rs, func(r release) map[string]*pb.Input {
			if last == nil || rng.IntN(4) == 0 {
				last = deps(r)
			}
			return last
		})
		libs = append(libs, f)
		e.Index.Flakes = append(e.Index.Flakes, f)
	}
	e.request = func(rng *rand.Rand, n int) map[string]*pb.Input { return hubRequest(rng, libs, n) }
	return e
}

// hubReq is the hub requirement of a release at epoch: the stable line
// current then (or, one time in four, the unstable line from then on).
func hubReq(rng *rand.Rand, epoch int) string {
	if rng.IntN(4) == 0 {
		return fmt.Sprintf("^0.1.%d", 5000+epoch*hubUnstable/epochs)
	}
	i := min(len(hubLines)-1, epoch*len(hubLines)/epochs)
	return fmt.Sprintf("^0.%d", hubLines[i])
}

// laggingReq is a caret requirement on the release of a dependency that was
// newest at epoch, or, one time in eight, on an older one (the conflict
// pressure of requirements that lag behind). "" when the dependency had
// not been released yet.
func laggingReq(rng *rand.Rand, rs []release, epoch int) string {
	k := newestAt(rs, epoch)
	if k < 0 {
		return ""
	}
	if rng.IntN(8) == 0 {
		k = rng.IntN(k + 1)
	}
	return "^" + rs[k].version
}

// hubRequest picks root inputs: the newest stable hub line and n-1
// libraries by popularity, each at its newest major line or any version.
func hubRequest(rng *rand.Rand, libs []*pb.Flake, n int) map[string]*pb.Input {
	zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(libs)-1))
	in := map[string]*pb.Input{"nixpkgs": {Url: "github:NixOS/nixpkgs", Version: fmt.Sprintf("^0.%d", hubLines[len(hubLines)-1])}}
	for len(in) < n && len(in) < len(libs)+1 {
		f := libs[int(zipf.Uint64())%len(libs)]
		if in[f.Name] != nil {
			continue
		}
		req := "*"
		if rng.IntN(2) == 0 {
			newest := f.Versions[len(f.Versions)-1].Version
			req = "^" + newest
		}
		in[f.Name] = &pb.Input{Url: "github:eco/" + f.Name, Version: req}
	}
	return in
}
