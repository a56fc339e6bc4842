package ecosystem

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/flakeresolve/flakeresolve/internal/versionreq"
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
	bw := bufio.NewWriter(w)
	byURL := map[string]*pb.Flake{}
	for _, f := range e.Index.Flakes {
		byURL["github:"+f.Source.Owner+"/"+f.Source.Repo] = f
	}
	// Every requirement anywhere, by flake.
	reqs := map[*pb.Flake]map[string]*versionreq.Req{}
	note := func(in *pb.Input) error {
		f := byURL[in.Url]
		if f == nil || in.Version == "" {
			return fmt.Errorf("input %s: only versioned inputs to generated flakes are written", in.Url)
		}
		q, err := versionreq.Parse(in.Version)
		if err != nil {
			return err
		}
		if reqs[f] == nil {
			reqs[f] = map[string]*versionreq.Req{}
		}
		reqs[f][q.String()] = q
		return nil
	}
	for _, f := range e.Index.Flakes {
		for _, v := range f.Versions {
			for _, in := range v.Inputs {
				if err := note(in); err != nil {
					return err
				}
			}
		}
	}
	for _, in := range request {
		if err := note(in); err != nil {
			return err
		}
	}
	capability := func(in *pb.Input) string {
		return fmt.Sprintf("%s(%s)", byURL[in.Url].Name, strings.ReplaceAll(versionreq.MustParse(in.Version).String(), " ", ""))
	}
	fmt.Fprintln(bw, "repo system 0 testtags <inline>")
	fmt.Fprintln(bw, "repo available 0 testtags <inline>")
	for _, f := range e.Index.Flakes {
		keys := slices.Sorted(maps.Keys(reqs[f]))
		for _, v := range f.Versions {
			sv := semver.MustParse(v.Version)
			fmt.Fprintf(bw, "#>=Pkg: %s %s 1 noarch\n", f.Name, v.Version)
			for _, name := range slices.Sorted(maps.Keys(v.Inputs)) {
				fmt.Fprintf(bw, "#>=Req: %s\n", capability(v.Inputs[name]))
			}
			for _, k := range keys {
				if reqs[f][k].Matches(sv) {
					fmt.Fprintf(bw, "#>=Prv: %s(%s)\n", f.Name, strings.ReplaceAll(k, " ", ""))
				}
			}
		}
	}
	fmt.Fprintln(bw, "system unset * system")
	fmt.Fprintln(bw, "job multiversion all packages")
	for _, name := range slices.Sorted(maps.Keys(request)) {
		fmt.Fprintf(bw, "job install provides %s\n", capability(request[name]))
	}
	fmt.Fprintln(bw, "result transaction,problems <inline>")
	return bw.Flush()
}

// ParseTestsolv reads the packages testsolv installs ("name version"),
// sorted, from its output.
func ParseTestsolv(out string) []string {
	var pkgs []string
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
		pkgs = append(pkgs, nevra[:i]+" "+nevra[i+1:])
	}
	sort.Strings(pkgs)
	return pkgs
}
