package ecosystem

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// GenerateLayered builds a "layered" ecosystem of n flakes (n >= 20), shaped
// unlike Generate's single hub:
//
//   - V versions per library on average, by size: 20 below 1,000 flakes, 30
//     below 10,000, 50 from there on (100×20, 2,000×30, 20,000×50);
//   - 2 + ⌊log₂(2n)⌋/3 hubs (4 at 100 flakes, 5 at 2,000, 7 at 20,000) with
//     4V SemVer versions each, 1 release in 20 a new major line (before 1.0,
//     1 in 4 a new minor line, the class of a 0.x version); hub i
//     requires up to two of the hubs before it, so hubs form chains too;
//   - the other flakes are libraries in 4 + 4⌊log₁₀ n⌋ layers (12, 16, 20),
//     layer d holding a share proportional to d+1, so the foundations are
//     the fewest; within a layer popularity follows a Zipf law (s = 1.2);
//   - a library has V/2 to 3V/2 releases; 1 release in 10 starts a new
//     major version and 1 in 5 a new minor, so caret compatibility classes
//     are short;
//   - a library version requires one or two hubs, one to three libraries of
//     the layer just below (chains as deep as the layers) and, one time in
//     three, a library of any deeper layer, each at the caret of the release
//     that was newest then; one requirement in three is pinned instead to a
//     release of an older compatibility class, which forces duplicates;
//     consecutive releases keep their inputs three times in four.
//
// A request names the two most popular hubs at their newest line and
// libraries of the upper half of the layers by popularity, a third each at
// "*", at the caret of the newest release, and at an older class.
func GenerateLayered(n int, seed uint64) *Ecosystem {
	rng := rand.New(rand.NewPCG(seed, uint64(n)<<32|0x4c41))
	e := &Ecosystem{Index: &pb.Index{Schema: 1}, seed: seed}
	v := versionsPerFlake(n)

	nHubs := 2 + bits.Len(uint(n))/3
	var hubs []*layeredFlake
	for i := range nHubs {
		f := &layeredFlake{Flake: flake(fmt.Sprintf("hub-%d", i), "hubs", fmt.Sprintf("hub-%d", i))}
		f.releases = semverReleases(rng, 4*v, 0, 1, 6)
		var below []*layeredFlake
		for range rng.IntN(min(i, 2) + 1) {
			below = append(below, hubs[rng.IntN(i)])
		}
		addVersions(f.Flake, f.releases, func(r release) map[string]*pb.Input {
			in := map[string]*pb.Input{}
			for _, d := range below {
				d.require(rng, in, r.epoch)
			}
			return in
		})
		hubs = append(hubs, f)
		e.Index.Flakes = append(e.Index.Flakes, f.Flake)
	}
	hubZipf := rand.NewZipf(rng, 1.2, 1, uint64(nHubs-1))

	nLayers := 4 + 4*int(math.Log10(float64(n)))
	nLibs := n - nHubs
	layers := make([][]*layeredFlake, nLayers)
	zipfs := make([]*rand.Zipf, nLayers)
	for d := range nLayers {
		// Layer d's share is (d+1)/(1+2+...+nLayers) of the libraries; the
		// top layer takes what rounding leaves.
		size := nLibs * (d + 1) * 2 / (nLayers * (nLayers + 1))
		if d == nLayers-1 {
			size = nLibs
			for _, l := range layers[:d] {
				size -= len(l)
			}
		}
		size = max(size, 1)
		zipfs[d] = rand.NewZipf(rng, 1.2, 1, uint64(size-1))
		for i := range size {
			name := fmt.Sprintf("lib-%d-%05d", d, i)
			f := &layeredFlake{Flake: flake(name, "eco", name)}
			// Deeper layers start releasing earlier, so their releases exist
			// when the layers above them first require them.
			start := d*epochs/(3*nLayers) + rng.IntN(epochs/3)
			f.releases = semverReleases(rng, v/2+rng.IntN(v+1), start, 2, 6)
			var last map[string]*pb.Input
			addVersions(f.Flake, f.releases, func(r release) map[string]*pb.Input {
				if last != nil && rng.IntN(4) != 0 {
					return last
				}
				last = map[string]*pb.Input{}
				for range 1 + rng.IntN(2) {
					hubs[hubZipf.Uint64()].require(rng, last, r.epoch)
				}
				if d > 0 {
					for range 1 + rng.IntN(3) {
						layers[d-1][zipfs[d-1].Uint64()].require(rng, last, r.epoch)
					}
				}
				if d > 1 && rng.IntN(3) == 0 {
					deeper := rng.IntN(d - 1)
					layers[deeper][zipfs[deeper].Uint64()].require(rng, last, r.epoch)
				}
				return last
			})
			layers[d] = append(layers[d], f)
			e.Index.Flakes = append(e.Index.Flakes, f.Flake)
		}
	}

	// Requests draw from the upper half of the layers, the top layer's
	// most popular libraries first.
	var apps []*layeredFlake
	for d := nLayers - 1; d >= nLayers/2; d-- {
		apps = append(apps, layers[d]...)
	}
	e.request = func(rng *rand.Rand, n int) map[string]*pb.Input {
		in := map[string]*pb.Input{}
		for _, h := range hubs[:2] {
			in[h.Name] = &pb.Input{Url: githubURL(h.Flake), Version: "^" + class(h.releases[len(h.releases)-1].version)}
		}
		zipf := rand.NewZipf(rng, 1.2, 1, uint64(len(apps)-1))
		for len(in) < n && len(in) < len(apps)+2 {
			f := apps[zipf.Uint64()]
			if in[f.Name] != nil {
				continue
			}
			newest := len(f.releases) - 1
			req := "*"
			switch rng.IntN(3) {
			case 1:
				req = "^" + f.releases[newest].version
			case 2:
				req = "^" + f.releases[f.lagging(rng, newest)].version
			}
			in[f.Name] = &pb.Input{Url: githubURL(f.Flake), Version: req}
		}
		return in
	}
	return e
}

// versionsPerFlake is the mean number of versions of a layered library.
func versionsPerFlake(n int) int {
	switch {
	case n < 1000:
		return 20
	case n < 10000:
		return 30
	}
	return 50
}

// layeredFlake is a generated flake with its release history, which the
// flakes generated after it consult to require it.
type layeredFlake struct {
	*pb.Flake
	releases []release
}

// require adds to in a caret requirement on the release of f that was
// newest at epoch or, one time in three, on one of an older compatibility
// class. Nothing is added when f had no release yet.
func (f *layeredFlake) require(rng *rand.Rand, in map[string]*pb.Input, epoch int) {
	k := newestAt(f.releases, epoch)
	if k < 0 {
		return
	}
	if rng.IntN(3) == 0 {
		k = f.lagging(rng, k)
	}
	in[f.Name] = &pb.Input{Url: githubURL(f.Flake), Version: "^" + f.releases[k].version}
}

// lagging picks a release of a compatibility class older than release k's,
// or k itself when its class is the first.
func (f *layeredFlake) lagging(rng *rand.Rand, k int) int {
	first := k // the first release of k's class
	for first > 0 && class(f.releases[first-1].version) == class(f.releases[k].version) {
		first--
	}
	if first == 0 {
		return k
	}
	return rng.IntN(first)
}

// class is the caret compatibility class of a MAJOR.MINOR.PATCH version:
// its first non-zero component and the zeros before it ("2", "0.3",
// "0.0.7"), which "^" + class matches exactly.
func class(version string) string {
	parts := strings.SplitN(version, ".", 3)
	for i, p := range parts[:2] {
		if p != "0" {
			return strings.Join(parts[:i+1], ".")
		}
	}
	return version
}
