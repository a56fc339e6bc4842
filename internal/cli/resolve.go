package cli

import (
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/inputgraph"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

func newResolveCmd() *cobra.Command {
	var (
		indexes    []string
		registries []string
		remote     serverFlags
		asJSON     bool
		timeout    time.Duration
		effort     time.Duration
		opts       pb.ResolveInputsRequest
		strat      string
		graph      string
	)
	cmd := &cobra.Command{
		Use:   "resolve REQUEST.json",
		Short: "Pin every input path of a set of root inputs",
		Long: `resolve reads root inputs, declared the way a flake.nix declares them, and
pins every input path: each requirement holds, the fewest distinct trees are
used (one nixpkgs where there would be ten), and among those answers the
versions are the newest.

REQUEST.json ("-" reads standard input):

  {"inputs": {
     "hyprland": {"url": "github:hyprwm/Hyprland", "version": "^0.34"},
     "nixpkgs":  {"url": "github:NixOS/nixpkgs/nixos-unstable", "version": "^0.1"},
     "hm": {"url": "github:nix-community/home-manager",
            "inputs": {"nixpkgs": {"follows": "nixpkgs"}}}},
   "strategy": "newest"}

Inputs take url, version (a Cargo requirement), follows, flake and nested
inputs (overrides). Inputs without a version lock like today's Nix: to the
ref the URL names or the default branch head the index records. A follows
replaces the input, requirement included, as in Nix; a version on the
follows itself is checked. The file is the ResolveInputsRequest message;
its optional fields: "strategy" (newest, fewest, cargo or single; see
--strategy), "singleFlakes" (flakes that must have one version),
"unversionedAsAny", "lockFile" (an existing flake.lock as the LockFile
message, whose still-valid pins stay), "updatePaths" (input paths whose
pins are released), "timeout", "effort" and "workLimit" (a budget of
solver work that ends a search at the same answer on every machine).
Flags add to the file.

When no answer exists, resolve prints the clashing requirements, every
chain of inputs that brought each in, and the changes that would resolve
it, each tried; it exits 4. With --json, an error prints the API's status
(google.rpc.Status with its details) on standard output.`,
		Example: `  flakeresolve resolve request.json
  flakeresolve resolve --json request.json | jq '.paths["hyprland/hyprutils"]'
  flakeresolve resolve --strategy cargo --single nixpkgs request.json
  flakeresolve resolve --graph dot request.json | dot -Tsvg > inputs.svg
  echo '{"inputs": {"hyprutils": {"url": "github:hyprwm/hyprutils", "version": "^0.8"}}}' | flakeresolve resolve -
  flakeresolve resolve --server 127.0.0.1:50051 request.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("resolve takes one REQUEST.json (or - for standard input), got %d argument(s); see flakeresolve resolve --help", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if remote.addr != "" && len(indexes) > 0 {
				return usageErr("--server and --index exclude each other: a server answers from its own indexes")
			}
			if _, err := parseGraph(graph); err != nil {
				return err
			}
			if graph != "" && asJSON {
				return usageErr("--graph and --json each print on standard output; choose one")
			}
			req, err := readResolveRequest(args[0], cmd.InOrStdin())
			if err != nil {
				return err
			}
			if strat != "" {
				if req.Strategy, err = parseStrategy(strat); err != nil {
					return err
				}
			}
			req.SingleFlakes = append(req.SingleFlakes, opts.SingleFlakes...)
			req.UpdatePaths = append(req.UpdatePaths, opts.UpdatePaths...)
			req.UnversionedAsAny = req.UnversionedAsAny || opts.UnversionedAsAny
			if req.Timeout == nil {
				req.Timeout = durationpb.New(timeout)
			}
			if effort > 0 {
				req.Effort = durationpb.New(effort)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout+5*time.Second)
			defer cancel()
			client := &resolveClient{remote: remote, indexes: indexes, registries: registries}
			defer client.close()
			resp, err := client.call(ctx, req)
			return answer(cmd.OutOrStdout(), asJSON, resp, err, func(w io.Writer) error {
				if graph != "" {
					return writeGraph(w, graph, inputgraph.Build(resp, "root"))
				}
				printResolve(w, resp)
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&registries, "registry", nil, registryUsage)
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "index `FILE` to resolve against (JSON or binary; repeat to layer, first wins)")
	remote.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"paths": {PATH: {"pin": {"flake", "version", "locked", ...}}}, "trees": [...], ...} (the ResolveInputsResponse message)`)
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long (a server may cap it lower; locally nothing does)")
	cmd.Flags().DurationVar(&effort, "effort", 0, "time to spend improving the first answer and proving it optimal (default 2s)")
	cmd.Flags().StringVar(&strat, "strategy", "", strategyUsage())
	cmd.Flags().StringArrayVar(&opts.SingleFlakes, "single", nil, "`FLAKE` must resolve to exactly one version (repeatable)")
	cmd.Flags().StringArrayVar(&opts.UpdatePaths, "update", nil, "release the existing pin of input `PATH` and the pins beneath it (repeatable)")
	cmd.Flags().StringVar(&graph, "graph", "", graphUsage)
	cmd.Flags().BoolVar(&opts.UnversionedAsAny, "any", false, "treat inputs without a version as \"*\" instead of locking their ref")
	return cmd
}

func parseStrategy(s string) (pb.Strategy, error) {
	strategy, err := solver.ParseStrategy(s)
	if err != nil {
		return 0, usageErr("--%v", err)
	}
	return strategy.Policy().Proto, nil
}

// strategyRE finds the friendly spellings of the strategy, which become the
// enum names protojson reads; everything else is protojson's, so its
// parse errors still point into the user's file.
var strategyRE = regexp.MustCompile(`("strategy"\s*:\s*)"(` + strings.ReplaceAll(strings.ReplaceAll(solver.StrategyNames(), ", ", "|"), " or ", "|") + `)"`)

// strategyUsage documents --strategy from the policy table.
func strategyUsage() string {
	var b strings.Builder
	for i, p := range solver.Policies {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Name + ": " + p.Doc)
		if i == 0 {
			b.WriteString(" (the default)")
		}
	}
	return b.String()
}

func readResolveRequest(name string, stdin io.Reader) (*pb.ResolveInputsRequest, error) {
	var data []byte
	var err error
	if name == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, boundedfile.MaxRequest))
		name = "standard input"
	} else {
		data, err = boundedfile.Read(name, boundedfile.MaxRequest)
	}
	if err != nil {
		return nil, &exitErr{exitError, err}
	}
	data = strategyRE.ReplaceAllFunc(data, func(m []byte) []byte {
		sub := strategyRE.FindSubmatch(m)
		strategy, _ := solver.ParseStrategy(string(sub[2]))
		return []byte(string(sub[1]) + `"` + strategy.Policy().Proto.String() + `"`)
	})
	req := &pb.ResolveInputsRequest{}
	if err := protojson.Unmarshal(data, req); err != nil {
		msg := strings.Replace(err.Error(), "proto: ", "", 1)
		msg = strings.ReplaceAll(msg, "STRATEGY_", "")
		return nil, usageErr("%s: %s (expected {\"inputs\": {NAME: {\"url\": ..., \"version\": ...}}, ...}; see flakeresolve resolve --help)", name, msg)
	}
	return req, nil
}

func printResolve(w io.Writer, resp *pb.ResolveInputsResponse) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	var nfollows, nunpinned int
	for _, path := range slices.Sorted(maps.Keys(resp.Paths)) {
		switch r := resp.Paths[path].Resolution.(type) {
		case *pb.PathPin_Follows:
			nfollows++
			fmt.Fprintf(tw, "%s\t-> %s\n", path, followsText(r.Follows))
		case *pb.PathPin_Unpinned:
			nunpinned++
			fmt.Fprintf(tw, "%s\tunpinned\t%s\n", path, r.Unpinned.Reason)
		case *pb.PathPin_Pin:
			fmt.Fprintf(tw, "%s\t%s\t%s\n", path, pinLabel(r.Pin), flakeref.String(r.Pin.Locked))
		}
	}
	tw.Flush()
	st := resp.Stats
	proven := "proven optimal"
	if !st.Proven {
		var open []string
		for _, b := range st.Objective {
			if !b.Proven {
				open = append(open, fmt.Sprintf("%s %d, at least %d", criterionName(b.Criterion), b.Value, b.LowerBound))
			}
		}
		proven = "not proven optimal before the effort ran out (" + strings.Join(open, "; ") + ")"
	}
	fmt.Fprintf(w, "\n%d trees for %d paths (%d follow, %d unpinned); %s\n", len(resp.Trees), len(resp.Paths), nfollows, nunpinned, proven)
	fmt.Fprintf(w, "%d reachable versions, %d candidates, %d variables, %d constraints, %d solver runs, %s\n",
		st.ReachableVersionCount, st.CandidateCount, st.VariableCount, st.ConstraintCount, st.SolveCount, st.Duration.AsDuration().Round(10*time.Microsecond))
	for _, d := range resp.Duplicates {
		fmt.Fprintf(w, "\n%s has several versions because requirements force them:\n", d.Flake)
		for _, e := range d.Edges {
			fmt.Fprintf(w, "  %s at %s: %s requires %s\n", nodeLabel(d.Flake, e.Version, e.Ref), e.Path, declarerLabel(e.DeclaredBy), orUnversioned(e.Requirement))
		}
	}
}

func nodeLabel(flake, version, ref string) string {
	if version != "" {
		return flake + " " + version
	}
	return flake + " ref:" + ref
}

// pinLabel names a path's tree: its flake and version or ref, else (a tree
// pinned by a lock file) its source and rev.
func pinLabel(p *pb.Pin) string {
	flake := p.Flake
	if flake == "" {
		flake = flakeref.String(flakeref.AtLocation(flakeref.Location(p.Locked)))
	}
	switch {
	case p.Version != "":
		return flake + " " + p.Version
	case p.Ref != "" && p.Origin == pb.PinOrigin_PIN_ORIGIN_REF_HEAD:
		return flake + " ref:" + p.Ref
	}
	return flake + " rev:" + short(p.Locked.GetRev())
}

// followsText renders a follows path; the empty path is the root flake.
func followsText(f *pb.InputPath) string {
	if len(f.Names) == 0 {
		return `"" (the root flake)`
	}
	return strings.Join(f.Names, "/")
}

func orUnversioned(req string) string {
	if req == "" {
		return "it (unversioned)"
	}
	return req
}

// criterionName is the criterion as people read it: "root staleness".
func criterionName(c pb.Criterion) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(c.String(), "CRITERION_")), "_", " ")
}
