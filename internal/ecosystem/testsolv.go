package ecosystem

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// WriteTestcase writes the ecosystem and a request as a libsolv testcase
// (testsolv's input), so the same problem can be given to libsolv.
//
// libsolv compares versions with RPM's rules and joins requirements by
// package, not by range, so each distinct Cargo requirement becomes a
// capability ("lib-00042(^0.3.2)") that exactly the versions matching it
// provide. Every package may be installed in several versions
// (multiversion), as Nix allows. libsolv then answers with its own policy:
// the newest version satisfying each requirement, with no attempt to share.
func (e *Ecosystem) WriteTestcase(w io.Writer, request map[string]*pb.Input) error {
	u, roots, err := e.problem(request)
	if err != nil {
		return err
	}
	// Every requirement anywhere, by flake.
	reqs := map[*uflake]map[string]*ureq{}
	for _, f := range u.flakes {
		reqs[f] = maps.Clone(f.reqs)
	}
	for _, r := range roots {
		reqs[r.flake][r.text] = r
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "repo system 0 testtags <inline>")
	fmt.Fprintln(bw, "repo available 0 testtags <inline>")
	for _, f := range u.flakes {
		provides := map[*uversion][]string{}
		for _, k := range slices.Sorted(maps.Keys(reqs[f])) {
			for _, v := range reqs[f][k].matches {
				provides[v] = append(provides[v], capability(reqs[f][k]))
			}
		}
		for _, pv := range f.Flake.Versions {
			v := f.byVersion[pv.Version]
			fmt.Fprintf(bw, "#>=Pkg: %s %s 1 noarch\n", f.Name, pv.Version)
			for _, d := range v.deps {
				fmt.Fprintf(bw, "#>=Req: %s\n", capability(d))
			}
			for _, c := range provides[v] {
				fmt.Fprintf(bw, "#>=Prv: %s\n", c)
			}
		}
	}
	fmt.Fprintln(bw, "system unset * system")
	fmt.Fprintln(bw, "job multiversion all packages")
	for _, r := range roots {
		fmt.Fprintf(bw, "job install provides %s\n", capability(r))
	}
	fmt.Fprintln(bw, "result transaction,problems <inline>")
	return bw.Flush()
}

func capability(r *ureq) string {
	return fmt.Sprintf("%s(%s)", r.flake.Name, strings.ReplaceAll(r.text, " ", ""))
}

// ParseTestsolv reads the trees testsolv installs from its output.
func ParseTestsolv(out string) []Tree {
	var trees []Tree
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimPrefix(line, "+")
		rest, ok := strings.CutPrefix(line, "install ")
		if !ok {
			continue
		}
		nevra, _, _ := strings.Cut(rest, "@")
		nevra = strings.TrimSuffix(nevra, ".noarch")
		nevra = strings.TrimSuffix(nevra, "-1")
		i := strings.LastIndex(nevra, "-")
		if i < 0 {
			continue
		}
		trees = append(trees, Tree{nevra[:i], nevra[i+1:]})
	}
	return trees
}
