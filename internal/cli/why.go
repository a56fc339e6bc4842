package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func newWhyCmd() *cobra.Command {
	var (
		indexes    []string
		registries []string
		remote     serverFlags
		asJSON     bool
		timeout    time.Duration
		effort     time.Duration
		strat      string
	)
	cmd := &cobra.Command{
		Use:   "why FLAKE|PATH [DIR|REQUEST.json]",
		Short: "Say why a flake, or an input path, is pinned as it is",
		Long: `why resolves the inputs of a flake directory (read as lock reads it:
flake.nix, flake.versions.nix and flake.lock; the default is the current
directory) or of a request file (read as resolve reads it; - is standard
input), and shows every input path that reaches FLAKE's trees, as cargo
tree -i and pnpm why do: the inputs from the root to it with the
requirement on each, and why each path holds its tree:

  requirement      a version the requirement admits (the newest, or not, and
                   why: the tree is shared with other paths)
  ref head         an unversioned input, locked to its ref's head as Nix does
  rev              the rev the reference names
  dependency lock  the pin of the declaring flake's own flake.lock
  existing lock    the pin of the existing flake.lock, kept

A PATH (an argument with a "/", or a root input's name that is no flake)
explains that one input path.`,
		Example: `  flakeresolve why nixpkgs
  flakeresolve why hyprutils path/to/flake
  flakeresolve why hyprland/hyprutils request.json
  flakeresolve why --json nixpkgs | jq '.trees[].routes[].path'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usageErr("why takes FLAKE or PATH and at most one DIR or REQUEST.json, got %d argument(s); see flakeresolve why --help", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if remote.addr != "" && len(indexes) > 0 {
				return usageErr("--server and --index exclude each other: a server answers from its own indexes")
			}
			from := "."
			if len(args) == 2 {
				from = args[1]
			}
			ci, err := readCallerInputs(from, cmd.InOrStdin())
			if err != nil {
				return err
			}
			for _, w := range ci.warnings {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w)
			}
			if strat != "" {
				if ci.req.Strategy, err = parseStrategy(strat); err != nil {
					return err
				}
			}
			ci.req.Timeout = durationpb.New(timeout)
			if effort > 0 {
				ci.req.Effort = durationpb.New(effort)
			}
			req := &pb.ExplainInputsRequest{ResolveRequest: ci.req}
			if strings.Contains(args[0], "/") {
				req.Target = &pb.ExplainInputsRequest_Path{Path: args[0]}
			} else {
				req.Target = &pb.ExplainInputsRequest_Flake{Flake: args[0]}
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout+5*time.Second)
			defer cancel()
			client := &resolveClient{remote: remote, indexes: indexes, registries: registries}
			defer client.close()
			a, err := client.get()
			if err != nil {
				return err
			}
			resp, err := a.ExplainInputs(ctx, req)
			if isA[*index.NotFoundError](err) && ci.req.Inputs[args[0]] != nil {
				// A root input's name that is no flake's: the path.
				req.Target = &pb.ExplainInputsRequest_Path{Path: args[0]}
				resp, err = a.ExplainInputs(ctx, req)
			}
			if err != nil {
				err = ci.placed(err, "resolve_request.")
			}
			return answer(cmd.OutOrStdout(), asJSON, resp, err, func(w io.Writer) error {
				printWhy(w, args[0], resp)
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "index `FILE` to resolve against (JSON or binary; repeat to layer, first wins)")
	cmd.Flags().StringArrayVar(&registries, "registry", nil, registryUsage)
	remote.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"trees": [{"tree", "routes": [{"path", "edges", "reason"}]}]} (the ExplainInputsResponse message)`)
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	cmd.Flags().DurationVar(&effort, "effort", 0, "time to spend improving the first answer and proving it optimal (default 2s)")
	cmd.Flags().StringVar(&strat, "strategy", "", strategyUsage())
	return cmd
}

// printWhy shows each tree, then each route to it with its reason.
func printWhy(w io.Writer, target string, resp *pb.ExplainInputsResponse) {
	if len(resp.Trees) == 0 {
		fmt.Fprintf(w, "no input path reaches %s\n", target)
		return
	}
	for i, te := range resp.Trees {
		if i > 0 {
			fmt.Fprintln(w)
		}
		if t := te.Tree; t != nil {
			fmt.Fprintf(w, "%s  %s\n", treeLabel(t), flakeref.String(t.Locked))
		}
		listed := map[string]bool{}
		for _, r := range te.Routes {
			listed[r.Path] = true
		}
		for _, r := range te.Routes {
			fmt.Fprintf(w, "  %s: %s\n", r.Path, routeText(r))
			reason := reasonText(r)
			switch end := r.Edges[len(r.Edges)-1].Path; {
			case reason == "":
			case end == r.Path:
				fmt.Fprintf(w, "    %s\n", reason)
			case !listed[end]:
				// A path that follows another holds that one's tree;
				// its reason is the other's, given here when the other
				// has no line of its own.
				fmt.Fprintf(w, "    follows %s, pinned by %s\n", end, reason)
			}
		}
	}
}

// treeLabel names a tree as pinLabel names a pin.
func treeLabel(t *pb.Tree) string {
	origin := pb.PinOrigin_PIN_ORIGIN_REV
	if t.Ref != "" {
		origin = pb.PinOrigin_PIN_ORIGIN_REF_HEAD
	}
	return pinLabel(&pb.Pin{Flake: t.Flake, Version: t.Version, Ref: t.Ref, Locked: t.Locked, Origin: origin})
}

// routeText is a route from the root, each input with its requirement and
// the tree it pins, as far as its first follows: the path that follows
// names has a route of its own.
func routeText(r *pb.InputRoute) string {
	parts := []string{"root"}
	for _, e := range r.Edges {
		name := e.Path[strings.LastIndexByte(e.Path, '/')+1:]
		var what []string
		if e.PathPin.Requirement != "" {
			what = append(what, e.PathPin.Requirement)
		}
		switch res := e.PathPin.Resolution.(type) {
		case *pb.PathPin_Follows:
			parts = append(parts, fmt.Sprintf("%s (follows %s)", name, followsText(res.Follows)))
			return strings.Join(parts, " → ")
		case *pb.PathPin_Unpinned:
			what = append(what, "unpinned: "+res.Unpinned.Reason)
		case *pb.PathPin_Pin:
			what = append(what, pinLabel(res.Pin))
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", name, strings.Join(what, ": ")))
	}
	return strings.Join(parts, " → ")
}

// reasonText says why the route's last edge holds its tree.
func reasonText(r *pb.InputRoute) string {
	rs := r.Reason
	if rs == nil || len(r.Edges) == 0 {
		return ""
	}
	last := r.Edges[len(r.Edges)-1]
	pin := last.PathPin.GetPin()
	var s string
	switch rs.Origin {
	case pb.PinOrigin_PIN_ORIGIN_REQUIREMENT:
		switch {
		case rs.NewestAdmittedVersion == pin.GetVersion():
			s = fmt.Sprintf("requirement %s: the newest of the %d versions it admits", last.PathPin.Requirement, rs.AdmittedVersionCount)
		default:
			s = fmt.Sprintf("requirement %s: one of the %d versions it admits, not the newest (%s)", last.PathPin.Requirement, rs.AdmittedVersionCount, rs.NewestAdmittedVersion)
		}
	case pb.PinOrigin_PIN_ORIGIN_REF_HEAD:
		s = "unversioned: the head of ref " + pin.GetRef()
	case pb.PinOrigin_PIN_ORIGIN_REV:
		s = "the rev its reference names"
	case pb.PinOrigin_PIN_ORIGIN_DEPENDENCY_LOCK:
		s = "unversioned: the pin of " + declarerLabel(last.DeclaredBy) + "'s own flake.lock"
	case pb.PinOrigin_PIN_ORIGIN_EXISTING_LOCK:
		s = "kept from the existing flake.lock"
	default:
		s = rs.Origin.String()
	}
	if len(rs.OtherPaths) > 0 {
		s += "; the same tree as " + joinAnd(rs.OtherPaths)
	}
	return s
}
