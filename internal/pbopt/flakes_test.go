package pbopt

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// flakeInstance is the "fewest trees, then newest" problem of a request on
// a generated ecosystem, built here from the ecosystem alone (not by the
// resolver's encoder): a variable per (flake, version) reachable from the
// request; every requirement of a chosen version, and every root input,
// needs a matching version chosen; minimise the number of chosen versions,
// then the sum of their staleness (0 for a flake's newest reachable
// version, 1 for the next, ...). Several versions of a flake may be chosen.
type flakeInstance struct {
	p     *Problem
	vars  []flakeVersion // vars[v-1] is variable v
	reqs  []flakeReq     // every distinct requirement met, in order
	roots []int          // indexes into reqs
}

type flakeVersion struct {
	flake     *pb.Flake
	version   *pb.Version
	staleness int
	reqs      []int // indexes into reqs
}

type flakeReq struct {
	flake   *pb.Flake
	text    string
	matches []int // variables
}

func newFlakeInstance(idx *pb.Index, request map[string]*pb.Input) (*flakeInstance, error) {
	byURL := map[string]*pb.Flake{}
	for _, f := range idx.Flakes {
		byURL["github:"+f.Source.Owner+"/"+f.Source.Repo] = f
	}
	in := &flakeInstance{}
	reqIndex := map[string]int{}
	varOf := map[*pb.Version]int{}
	parsed := map[*pb.Version]*semver.Version{}
	var queue []int // variables whose inputs are still to read
	require := func(input *pb.Input) (int, error) {
		f := byURL[input.Url]
		if f == nil {
			return 0, fmt.Errorf("input %s: not a generated flake", input.Url)
		}
		key := f.Name + " " + input.Version
		if i, ok := reqIndex[key]; ok {
			return i, nil
		}
		q, err := versionreq.Parse(input.Version)
		if err != nil {
			return 0, fmt.Errorf("input %s: %w", input.Url, err)
		}
		r := flakeReq{flake: f, text: input.Version}
		for _, v := range f.Versions {
			sv, ok := parsed[v]
			if !ok {
				sv = semver.MustParse(v.Version)
				parsed[v] = sv
			}
			if !q.Matches(sv) {
				continue
			}
			x, ok := varOf[v]
			if !ok {
				in.vars = append(in.vars, flakeVersion{flake: f, version: v})
				x = len(in.vars)
				varOf[v] = x
				queue = append(queue, x)
			}
			r.matches = append(r.matches, x)
		}
		in.reqs = append(in.reqs, r)
		reqIndex[key] = len(in.reqs) - 1
		return len(in.reqs) - 1, nil
	}
	for _, name := range slices.Sorted(maps.Keys(request)) {
		i, err := require(request[name])
		if err != nil {
			return nil, err
		}
		in.roots = append(in.roots, i)
	}
	for len(queue) > 0 {
		x := queue[0]
		queue = queue[1:]
		inputs := in.vars[x-1].version.Inputs
		for _, name := range slices.Sorted(maps.Keys(inputs)) {
			i, err := require(inputs[name])
			if err != nil {
				return nil, err
			}
			in.vars[x-1].reqs = append(in.vars[x-1].reqs, i)
		}
	}
	// Staleness: rank among the flake's reachable versions, newest first.
	byFlake := map[*pb.Flake][]int{}
	for x := range in.vars {
		byFlake[in.vars[x].flake] = append(byFlake[in.vars[x].flake], x)
	}
	for _, xs := range byFlake {
		slices.SortFunc(xs, func(a, b int) int {
			return parsed[in.vars[b].version].Compare(parsed[in.vars[a].version])
		})
		for rank, x := range xs {
			in.vars[x].staleness = rank
		}
	}

	p := &Problem{NumVars: len(in.vars)}
	for _, r := range in.roots {
		p.Constraints = append(p.Constraints, Constraint{Lits: slices.Clone(in.reqs[r].matches), AtLeast: 1})
	}
	count := Objective{}
	stale := Objective{}
	for x, fv := range in.vars {
		for _, r := range fv.reqs {
			p.Constraints = append(p.Constraints, Constraint{Lits: append([]int{-(x + 1)}, in.reqs[r].matches...), AtLeast: 1})
		}
		count.Lits = append(count.Lits, x+1)
		if fv.staleness > 0 {
			stale.Lits = append(stale.Lits, x+1)
			stale.Weights = append(stale.Weights, int64(fv.staleness))
		}
	}
	p.Levels = []Objective{count, stale}
	in.p = p
	return in, nil
}

// hubIndex is the shape that makes versions hard to share: a hub with
// many versions and libraries whose versions each require a range of it.
// Every library is a root input ("*"): an answer picks a version of each
// and as few hub versions as hit all their ranges. The ranges of a
// library's versions move up with its releases, as real ones do.
func hubIndex(rng *rand.Rand, hubVersions, libs, libVersions, width int) (*pb.Index, map[string]*pb.Input) {
	idx := &pb.Index{Schema: 1}
	src := func(name string) *pb.Source { return &pb.Source{Type: "github", Owner: "eco", Repo: name} }
	hub := &pb.Flake{Name: "hub", Source: src("hub")}
	for v := range hubVersions {
		hub.Versions = append(hub.Versions, &pb.Version{Version: fmt.Sprintf("1.0.%d", v)})
	}
	idx.Flakes = append(idx.Flakes, hub)
	request := map[string]*pb.Input{}
	for l := range libs {
		name := fmt.Sprintf("lib-%03d", l)
		f := &pb.Flake{Name: name, Source: src(name)}
		start := rng.IntN(hubVersions - width)
		for v := range libVersions {
			lo := min(hubVersions-width, start+v*width/4+rng.IntN(width/4+1))
			req := fmt.Sprintf(">=1.0.%d, <=1.0.%d", lo, lo+width/2+rng.IntN(width/2))
			f.Versions = append(f.Versions, &pb.Version{Version: fmt.Sprintf("1.0.%d", v),
				Inputs: map[string]*pb.Input{"hub": {Url: "github:eco/hub", Version: req}}})
		}
		idx.Flakes = append(idx.Flakes, f)
		request[name] = &pb.Input{Url: "github:eco/" + name, Version: "*"}
	}
	return idx, request
}

// writeCUDF writes the instance as a CUDF document for aspcud: a package per
// variable, named by its flake, numbered newest highest, with its
// staleness as a property; each distinct requirement is a virtual package
// that exactly its matching versions provide (CUDF dependencies name
// versions of one package, which a several-versions range cannot say), and
// CUDF lets several versions of a package be installed together, as here.
// Criteria: -count(solution),-sum(solution,staleness).
func (in *flakeInstance) writeCUDF(w io.Writer) error {
	bw := bufio.NewWriter(w)
	capName := func(r int) string { return fmt.Sprintf("req%d-%s", r, in.reqs[r].flake.Name) }
	provides := make([][]string, len(in.vars))
	for r, req := range in.reqs {
		for _, x := range req.matches {
			provides[x-1] = append(provides[x-1], capName(r))
		}
	}
	fmt.Fprintf(bw, "preamble: \nproperty: staleness: int = [0]\n\n")
	for x, fv := range in.vars {
		fmt.Fprintf(bw, "package: %s\nversion: %d\nstaleness: %d\n", fv.flake.Name, 1_000_000-fv.staleness, fv.staleness)
		if len(provides[x]) > 0 {
			fmt.Fprintf(bw, "provides: %s\n", strings.Join(provides[x], ", "))
		}
		if len(fv.reqs) > 0 {
			deps := make([]string, len(fv.reqs))
			for i, r := range fv.reqs {
				deps[i] = capName(r)
			}
			fmt.Fprintf(bw, "depends: %s\n", strings.Join(deps, ", "))
		}
		fmt.Fprintln(bw)
	}
	roots := make([]string, len(in.roots))
	for i, r := range in.roots {
		roots[i] = capName(r)
	}
	fmt.Fprintf(bw, "request: flakes\ninstall: %s\n", strings.Join(roots, ", "))
	return bw.Flush()
}

// parseCUDFSolution reads the packages aspcud installs, as variables.
func (in *flakeInstance) parseCUDFSolution(out string) ([]bool, error) {
	index := map[string]int{}
	for x, fv := range in.vars {
		index[fmt.Sprintf("%s %d", fv.flake.Name, 1_000_000-fv.staleness)] = x
	}
	m := make([]bool, len(in.vars))
	var pkg string
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "package: "); ok {
			pkg = v
		}
		if v, ok := strings.CutPrefix(line, "version: "); ok {
			x, ok := index[pkg+" "+v]
			if !ok {
				return nil, fmt.Errorf("aspcud installs %s %s, not a package of the instance", pkg, v)
			}
			m[x] = true
		}
	}
	return m, nil
}
