package ecosystem_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

func TestGeneratorsAreValidAndDeterministic(t *testing.T) {
	for _, g := range ecosystem.Generators {
		t.Run(g.Name, func(t *testing.T) {
			a, b := g.Generate(200, 3), g.Generate(200, 3)
			da, _ := index.MarshalBinary(a.Index)
			db, _ := index.MarshalBinary(b.Index)
			if !bytes.Equal(da, db) {
				t.Fatal("the same size and seed gave different ecosystems")
			}
			if dc, _ := index.MarshalBinary(g.Generate(200, 4).Index); bytes.Equal(da, dc) {
				t.Error("seeds 3 and 4 gave the same ecosystem")
			}
			if probs := index.Validate(a.Index); len(probs) > 0 {
				t.Fatalf("generated index is invalid: %v", probs[0])
			}
			if n := len(a.Index.Flakes); n != 200 {
				t.Errorf("%d flakes, want 200", n)
			}
			req := a.Request(20, 1)
			if got := len(req); got != 20 {
				t.Errorf("request has %d inputs, want 20", got)
			}
			if !maps(req, a.Request(20, 1)) || maps(req, a.Request(20, 2)) {
				t.Error("requests are not determined by their seed")
			}
		})
	}
}

func maps(a, b map[string]*pb.Input) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] == nil || b[k].Version != v.Version {
			return false
		}
	}
	return true
}

func TestLookup(t *testing.T) {
	g, err := ecosystem.Lookup("layered")
	if err != nil || g.Name != "layered" {
		t.Fatalf("Lookup(layered) = %v, %v", g.Name, err)
	}
	if _, err := ecosystem.Lookup("nixpkgs"); err == nil || !strings.Contains(err.Error(), "hub, layered") {
		t.Errorf("Lookup(nixpkgs) error %v, want the known names", err)
	}
}

// TestShapes checks what the generators' documentation promises, and that
// the layered generator differs where it says: more hubs, deeper chains,
// more lagging requirements.
func TestShapes(t *testing.T) {
	hub, layered := measure(ecosystem.Generate(100, 1).Index), measure(ecosystem.GenerateLayered(100, 1).Index)
	t.Logf("hub: %+v", hub)
	t.Logf("layered: %+v", layered)
	if hub.hubs != 1 || layered.hubs != 4 {
		t.Errorf("hubs: %d and %d, want 1 (hub) and 4 (layered, 100 flakes)", hub.hubs, layered.hubs)
	}
	if layered.meanDepth < 1.5*hub.meanDepth {
		t.Errorf("mean requirement depth %.1f (layered) against %.1f (hub), want half as deep again", layered.meanDepth, hub.meanDepth)
	}
	if layered.lagging < 1.5*hub.lagging {
		t.Errorf("lagging requirements %.2f (layered) against %.2f (hub), want half as many again", layered.lagging, hub.lagging)
	}
	if layered.meanVersions < 18 || layered.meanVersions > 22 {
		t.Errorf("layered, 100 flakes: %.1f versions per library, want about 20", layered.meanVersions)
	}
	if got := meanVersions(ecosystem.GenerateLayered(1000, 1).Index); got < 27 || got > 33 {
		t.Errorf("layered, 1,000 flakes: %.1f versions per library, want about 30", got)
	}
}

func isHub(f *pb.Flake) bool { return len(f.Versions) > 1000 || strings.HasPrefix(f.Name, "hub-") }

// meanVersions is the mean number of versions of the libraries.
func meanVersions(ix *pb.Index) float64 {
	libs, versions := 0, 0
	for _, f := range ix.Flakes {
		if !isHub(f) {
			libs++
			versions += len(f.Versions)
		}
	}
	return float64(versions) / float64(libs)
}

// shape is what TestShapes measures of an index.
type shape struct {
	hubs         int     // flakes with more than 1,000 versions, or named hub-*
	meanVersions float64 // of the other flakes, the libraries
	// meanDepth is the length of the longest requirement chain the newest
	// version of a flake starts, in flakes, on average.
	meanDepth float64
	// lagging is the share of requirements on libraries that excluded,
	// when they were released, the library's newest version then.
	lagging float64
}

func measure(ix *pb.Index) shape {
	type rel struct {
		sv    *semver.Version
		epoch int64
	}
	byURL := map[string]*pb.Flake{}
	for _, f := range ix.Flakes {
		byURL["github:"+f.Source.Owner+"/"+f.Source.Repo] = f
	}
	rels := map[*pb.Flake][]rel{} // parsed when first needed
	releases := func(f *pb.Flake) []rel {
		if rels[f] == nil {
			for _, v := range f.Versions {
				rels[f] = append(rels[f], rel{semver.MustParse(v.Version), v.Locked.LastModified})
			}
		}
		return rels[f]
	}
	s := shape{meanVersions: meanVersions(ix)}
	deps := map[string]map[string]bool{}
	reqs, lagging := 0, 0
	for _, f := range ix.Flakes {
		if isHub(f) {
			s.hubs++
		}
		deps[f.Name] = map[string]bool{}
		for i, v := range f.Versions {
			for _, in := range v.Inputs {
				d := byURL[in.Url]
				if i == len(f.Versions)-1 {
					deps[f.Name][d.Name] = true
				}
				if isHub(d) {
					continue
				}
				// The dependency's newest version released by then.
				var newest *semver.Version
				for _, r := range releases(d) {
					if r.epoch <= v.Locked.LastModified && (newest == nil || r.sv.GreaterThan(newest)) {
						newest = r.sv
					}
				}
				reqs++
				if newest != nil && !versionreq.MustParse(in.Version).Matches(newest) {
					lagging++
				}
			}
		}
	}
	s.lagging = float64(lagging) / float64(reqs)
	memo := map[string]int{}
	var depth func(string) int
	depth = func(name string) int {
		if d, ok := memo[name]; ok {
			return d
		}
		best := 0
		for d := range deps[name] {
			best = max(best, depth(d))
		}
		memo[name] = best + 1
		return best + 1
	}
	total := 0
	for name := range deps {
		total += depth(name)
	}
	s.meanDepth = float64(total) / float64(len(deps))
	return s
}

// peer finds a peer solver's command: missing, the test skips it, except
// in CI, which installs every peer (.ci/deps).
func peer(t *testing.T, name, pkg string) string {
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s (Debian %s) is required in CI", name, pkg)
		}
		t.Skipf("%s not installed (apt-get install %s)", name, pkg)
	}
	return bin
}

// TestPeersAgree gives small generated problems to testsolv, aspcud and
// the resolver (strategy fewest, aspcud's objective). Every answer must
// pass Check; aspcud must prove its answer optimal (ReadAspcud checks the
// cost it reports); no answer may beat aspcud's optimum, the resolver must
// report its own answer's trees and staleness, and what it proves must be
// aspcud's optimum.
func TestPeersAgree(t *testing.T) {
	testsolv := peer(t, "testsolv", "libsolv-tools")
	for _, c := range []struct {
		gen             string
		flakes, request int
	}{{"hub", 40, 3}, {"layered", 40, 0}, {"layered", 40, 1}, {"layered", 60, 2}} {
		t.Run(fmt.Sprintf("%s-%d-%d", c.gen, c.flakes, c.request), func(t *testing.T) {
			g, _ := ecosystem.Lookup(c.gen)
			e := g.Generate(c.flakes, 1)
			req := e.Request(8, uint64(c.request))

			var tc bytes.Buffer
			if err := e.WriteTestcase(&tc, req); err != nil {
				t.Fatal(err)
			}
			file := filepath.Join(t.TempDir(), "p.t")
			os.WriteFile(file, tc.Bytes(), 0o644)
			out, _ := exec.Command(testsolv, file).CombinedOutput() // exits 1: the testcase has no expected result
			libsolv := ecosystem.ParseTestsolv(string(out))
			if len(libsolv) == 0 {
				t.Fatalf("testsolv installed nothing:\n%s", out)
			}
			if err := e.Check(req, libsolv); err != nil {
				t.Errorf("testsolv: %v", err)
			}

			asp, err := runAspcud(t, e, req)
			if err != nil {
				t.Fatal(err)
			}
			if !asp.Proven {
				t.Fatalf("aspcud did not prove its answer optimal within a minute (lower bound %v)", asp.LowerBound)
			}
			if err := e.Check(req, asp.Trees); err != nil {
				t.Errorf("aspcud: %v", err)
			}
			if len(libsolv) < len(asp.Trees) {
				t.Errorf("testsolv found %d trees, below aspcud's optimum %d", len(libsolv), len(asp.Trees))
			}

			// fewest's objective is aspcud's: the trees, then the staleness.
			a, err := solver.Resolve(context.Background(), load(t, e), &solver.Request{Inputs: req, Strategy: solver.Fewest, Limits: solver.Limits{Effort: time.Second}})
			if err != nil {
				t.Fatal(err)
			}
			var ours []ecosystem.Tree
			for _, n := range a.Nodes {
				ours = append(ours, ecosystem.Tree{Flake: n.Flake, Version: n.Version})
			}
			if err := e.Check(req, ours); err != nil {
				t.Errorf("resolver: %v", err)
			}
			ourStale, _ := e.Staleness(ours)
			trees, stale := a.Stats.Objective[0], a.Stats.Objective[1]
			if trees.Criterion != solver.Trees || trees.Value != len(ours) || stale.Criterion != solver.Staleness || stale.Value != ourStale {
				t.Errorf("resolver reports the objective %+v, its answer has %d trees and staleness %d", a.Stats.Objective, len(ours), ourStale)
			}
			switch {
			case len(ours) < len(asp.Trees) || len(ours) == len(asp.Trees) && ourStale < asp.Cost[1]:
				t.Errorf("resolver found %d trees and staleness %d, better than aspcud's proven optimum %v", len(ours), ourStale, asp.Cost)
			case trees.Proven && len(ours) != len(asp.Trees):
				t.Errorf("resolver proved %d trees minimal, aspcud found %d", len(ours), len(asp.Trees))
			case a.Stats.Proven() && ourStale != asp.Cost[1]:
				t.Errorf("resolver proved staleness %d optimal for %d trees, aspcud found %d", ourStale, len(ours), asp.Cost[1])
			}
			t.Logf("trees, staleness: resolver %d, %d (proven %v, %v), aspcud %d, %d (proven), testsolv %d", len(ours), ourStale, trees.Proven, stale.Proven, len(asp.Trees), asp.Cost[1], len(libsolv))
		})
	}
}

func load(t *testing.T, e *ecosystem.Ecosystem) *index.Layers {
	data, err := index.MarshalBinary(e.Index)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Parse("eco", data)
	if err != nil {
		t.Fatal(err)
	}
	return index.NewLayers(ix)
}
