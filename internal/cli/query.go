package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func newQueryCmd() *cobra.Command {
	var (
		indexes    []string
		registries []string
		remote     serverFlags
		asJSON     bool
		timeout    time.Duration
		with       string
		input      string
	)
	cmd := &cobra.Command{
		Use:   "query NAME REQUIREMENT",
		Short: "List the versions of a flake that satisfy a version requirement",
		Long: `query lists the versions of flake NAME that satisfy REQUIREMENT, newest first,
each with the exact source it locks to.

REQUIREMENT uses Cargo's syntax: comparators (= > >= < <= ~ ^) joined by
commas; a bare version means caret ("0.8.1" is "^0.8.1", >=0.8.1 and <0.9.0);
"*" is every release. A prerelease matches only a requirement that names a
prerelease of the same MAJOR.MINOR.PATCH.

With --with, query also says which of those versions you can use together
with the other inputs of a flake (a directory, read as lock reads it) or of
a request file (read as resolve reads it):

  current  the version its flake.lock pins
  wanted   the newest that resolves together with every other input
  latest   the newest that matches REQUIREMENT alone

and, when wanted is not latest, the requirements that hold it back. The
flake's root input is the one whose url points at NAME (--input names
another); when there is none, one is added.

Answers come from the embedded default index, from --index files (layered:
a flake in an earlier file hides the same name in later ones), or from a
running server with --server.`,
		Example: `  flakeresolve query hyprutils '^0.8'
  flakeresolve query hyprutils '>=0.8, <0.10' --json
  flakeresolve query nixpkgs '^0.2405'
  flakeresolve query hyprutils '*' --with path/to/flake
  flakeresolve query --index private.json --index public.json mylib '*'
  flakeresolve query --server 127.0.0.1:50051 hyprlang '~0.6'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErr("query takes NAME and REQUIREMENT, got %d argument(s); see flakeresolve query --help", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if remote.addr != "" && len(indexes) > 0 {
				return usageErr("--server and --index exclude each other: a server answers from its own indexes")
			}
			if input != "" && with == "" {
				return usageErr("--input names a root input of the --with flake or request; give --with too")
			}
			req := &pb.ListVersionsRequest{Parent: "flakes/" + args[0], Requirement: args[1], Input: input}
			var ci *callerInputs
			if with != "" {
				var err error
				if ci, err = readCallerInputs(with, cmd.InOrStdin()); err != nil {
					return err
				}
				for _, w := range ci.warnings {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning: "+w)
				}
				req.Context = ci.req
				req.Context.Timeout = durationpb.New(timeout)
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout+5*time.Second)
			defer cancel()
			client := &resolveClient{remote: remote, indexes: indexes, registries: registries}
			defer client.close()
			resp, err := listAll(ctx, client, req)
			if err != nil && ci != nil {
				err = ci.placed(err, "context.")
			}
			return answer(cmd.OutOrStdout(), asJSON, resp, err, func(w io.Writer) error {
				printQuery(w, args[0], resp)
				return nil
			})
		},
	}
	cmd.Flags().StringArrayVar(&registries, "registry", nil, registryUsage)
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "index `FILE` to answer from (JSON or binary; repeat to layer, first wins)")
	remote.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"versions": [{"name", "version", "locked"}, ...], "choice": {...}} (the ListVersionsResponse message)`)
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	cmd.Flags().StringVar(&with, "with", "", "say which versions resolve together with the inputs of flake `DIR` or REQUEST.json (- for standard input)")
	cmd.Flags().StringVar(&input, "input", "", "with --with: the root `INPUT` that is NAME (default: the one whose url points at it, else a new one)")
	return cmd
}

// listAll asks for every page, and returns them as one response.
func listAll(ctx context.Context, c *resolveClient, req *pb.ListVersionsRequest) (*pb.ListVersionsResponse, error) {
	a, err := c.get()
	if err != nil {
		return nil, err
	}
	resp, err := a.ListVersions(ctx, req)
	for err == nil && resp.NextPageToken != "" {
		req.PageToken = resp.NextPageToken
		var page *pb.ListVersionsResponse
		if page, err = a.ListVersions(ctx, req); err == nil {
			resp.Versions = append(resp.Versions, page.Versions...)
			resp.NextPageToken = page.NextPageToken
		}
	}
	return resp, err
}

func printQuery(w io.Writer, name string, resp *pb.ListVersionsResponse) {
	fmt.Fprintf(w, "%s %s: %d of %d versions\n", name, resp.Requirement, resp.TotalSize, resp.VersionCount)
	marks := map[string][]string{}
	if c := resp.Choice; c != nil {
		printChoice(w, c)
		for _, m := range []struct{ what, version string }{{"current", c.CurrentVersion}, {"wanted", c.WantedVersion}, {"latest", c.LatestVersion}} {
			if m.version != "" {
				marks[m.version] = append(marks[m.version], m.what)
			}
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range resp.Versions {
		date := ""
		if v.Locked.LastModified > 0 {
			date = time.Unix(v.Locked.LastModified, 0).UTC().Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s", v.Version, date, flakeref.String(v.Locked), v.Locked.NarHash)
		if m := marks[v.Version]; len(m) > 0 {
			fmt.Fprintf(tw, "\t%s", joinAnd(m))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
}
