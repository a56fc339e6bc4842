package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/server"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func newQueryCmd() *cobra.Command {
	var (
		indexes []string
		addr    string
		asJSON  bool
		timeout time.Duration
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

Answers come from the embedded default index, from --index files (layered:
a flake in an earlier file hides the same name in later ones), or from a
running server with --server.`,
		Example: `  flakeresolve query hyprutils '^0.8'
  flakeresolve query hyprutils '>=0.8, <0.10' --json
  flakeresolve query nixpkgs '^0.2405'
  flakeresolve query --index private.json --index public.json mylib '*'
  flakeresolve query --server 127.0.0.1:50051 hyprlang '~0.6'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return usageErr("query takes NAME and REQUIREMENT, got %d argument(s); see flakeresolve query --help", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if addr != "" && len(indexes) > 0 {
				return usageErr("--server and --index exclude each other: a server answers from its own indexes")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			req := &pb.QueryRequest{Name: args[0], Requirement: args[1]}
			var resp *pb.QueryResponse
			var err error
			if addr != "" {
				resp, err = queryRemote(ctx, addr, req)
			} else {
				oneShotGC()
				var layers *index.Layers
				layers, err = server.LoadLayers(indexes, defaultindex.Load)
				if err != nil {
					return &exitErr{exitError, err}
				}
				resp, err = server.NewService(layers).Query(ctx, req)
			}
			if err != nil {
				return statusErr(err)
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), resp)
			}
			printQuery(cmd.OutOrStdout(), resp)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "index `FILE` to answer from (JSON or binary; repeat to layer, first wins)")
	cmd.Flags().StringVar(&addr, "server", "", "ask the server at `ADDR` (host:port) instead of a local index")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print {"versions": [{"version": ..., "locked": {...}}, ...]}`)
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	return cmd
}

func queryRemote(ctx context.Context, addr string, req *pb.QueryRequest) (*pb.QueryResponse, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return pb.NewResolverServiceClient(conn).Query(ctx, req)
}

// statusErr maps a gRPC status to the CLI's exit codes.
func statusErr(err error) error {
	st, ok := status.FromError(err)
	if !ok {
		return &exitErr{exitError, err}
	}
	switch st.Code() {
	case codes.InvalidArgument:
		return &exitErr{exitUsage, fmt.Errorf("%s", st.Message())}
	case codes.NotFound:
		return &exitErr{exitNotFound, fmt.Errorf("%s", st.Message())}
	case codes.FailedPrecondition:
		return &exitErr{exitConflict, fmt.Errorf("%s", st.Message())}
	case codes.ResourceExhausted:
		return &exitErr{exitError, fmt.Errorf("%s", st.Message())}
	case codes.DeadlineExceeded:
		if _, limit := limitDetail(st); limit {
			return &exitErr{exitError, fmt.Errorf("%s", st.Message())}
		}
		return &exitErr{exitError, fmt.Errorf("server unreachable: %s", st.Message())}
	case codes.Unavailable:
		return &exitErr{exitError, fmt.Errorf("server unreachable: %s", st.Message())}
	}
	return &exitErr{exitError, fmt.Errorf("%s: %s", st.Code(), st.Message())}
}

func printQuery(w io.Writer, resp *pb.QueryResponse) {
	fmt.Fprintf(w, "%s %s: %d of %d versions\n", resp.Name, resp.Requirement, len(resp.Versions), resp.TotalVersions)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, v := range resp.Versions {
		date := ""
		if v.Locked.LastModified > 0 {
			date = time.Unix(v.Locked.LastModified, 0).UTC().Format("2006-01-02")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", v.Version, date, flakeref.String(v.Locked), v.Locked.NarHash)
	}
	tw.Flush()
}

// limitDetail finds the LimitExceeded detail a Resolve attaches when it
// hits a limit, which tells a solve deadline from a network one.
func limitDetail(st *status.Status) (*pb.LimitExceeded, bool) {
	for _, d := range st.Details() {
		if le, ok := d.(*pb.LimitExceeded); ok {
			return le, true
		}
	}
	return nil, false
}
