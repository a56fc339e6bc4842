package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/internal/flakenix"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func newLockCmd() *cobra.Command {
	var (
		indexes      []string
		remote       serverFlags
		registries   []string
		update       []string
		check        bool
		follows      bool
		writeFollows bool
		strat        string
		timeout      time.Duration
		effort       time.Duration
		summary      string
		asJSON       bool
		graph        string
		minNix       string
	)
	cmd := &cobra.Command{
		Use:   "lock [DIR...]",
		Short: "Write DIR/flake.lock from the flake's versioned inputs",
		Long: `lock reads DIR/flake.nix (and DIR/flake.versions.nix, if present), resolves
its inputs against the indexes (or a server), and writes DIR/flake.lock in
the exact form Nix 2.8 and later accept unchanged: nix flake metadata
--no-update-lock-file reads it, and nix flake lock leaves it as it is.
DIR defaults to the current directory; several directories are locked in
turn, with the indexes loaded once, each line of output prefixed by its
directory, and the exit code of the worst (2, then 1, 4, 5).

Requirements: an input's version is a Cargo requirement ("^0.2405", "~1.4",
">=1.2, <2"). Nix 2.8 rejects version attributes in flake.nix, so they may
live in flake.versions.nix beside it instead:

  # flake.versions.nix
  {
    version = "1.2.0";                      # this flake's own version
    inputs.nixpkgs.version = "^0.2405";
    inputs.hyprland.inputs.hyprutils.version = "^0.8";  # an override's
  }

Both forms can be mixed; one attribute given two values is an error.
Inputs without a version lock like today's Nix: to the ref their URL names
or the default branch's head. Inputs whose flake is in no index keep their
pin from the existing flake.lock.

--min-nix VERSION names the oldest Nix that must read the lock (default
2.8): a tarball pin carries rev and revCount from 2.16.2 and lastModified
from 2.17.1, the releases from which every later Nix reads them (the
lockable tarball protocol reached 2.13.5, 2.13.6, 2.15.2, 2.15.3 and 2.16.2
too, but not 2.14 nor 2.16.0), and a file download is fetched from 2.9. An
input whose URL is a requirement URL (https://HOST/f/OWNER/PROJECT/REQ.tar.gz,
as FlakeHub and flakeresolve serve --http-listen answer) locks to the
pinned tarball the server redirects to, with the attributes of its Link
header that the lock's Nix reads.

An existing flake.lock is kept where it still satisfies the requirements;
--update INPUT releases the pins of INPUT and everything beneath it. The
file is replaced atomically, and only when it changes.

What changed is printed as Nix prints it ("Flake lock file updates:", then
a "• Updated input 'x':" line per change, exactly as nix flake lock does),
on standard error. --summary markdown prints instead, on standard output,
a table for a pull request (input, from, to, and why: the requirement, the
branch that moved, the duplicate removed), the input graph and Nix's text;
--json prints the changes as the flakeresolve.v1.LockChanges message;
--graph prints the input graph (Mermaid or Graphviz dot).

Deduplication: where several paths pin the same tree (one nixpkgs where
there were ten), the lock has identical nodes, which Nix fetches once.
--follows prints the inputs.A.inputs.C.follows lines that make Nix share
those nodes; --write-follows adds them to flake.nix (before outputs) and
locks again.

Exit codes (for CI):
  0  flake.lock is up to date (written if it changed, unless --check)
  1  error: unreadable or invalid flake.nix, flake.lock or index
  2  usage error
  4  conflict: no pins satisfy every requirement (the explanation is printed)
  5  --check only: flake.lock would change (nothing is written)`,
		Example: `  flakeresolve lock
  flakeresolve lock --index registry.json path/to/flake
  flakeresolve lock --check                # in CI: fail when flake.lock is stale
  flakeresolve lock --update nixpkgs,home-manager
  flakeresolve lock --summary markdown > pr-body.md
  flakeresolve lock --json | jq '.updated[].path'
  flakeresolve lock --graph dot | dot -Tsvg > inputs.svg
  flakeresolve lock hosts/laptop hosts/server   # one index load, both locked
  flakeresolve lock --follows              # print follows lines for duplicates
  flakeresolve lock --server 127.0.0.1:50051`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if remote.addr != "" && len(indexes) > 0 {
				return usageErr("--server and --index exclude each other: a server answers from its own indexes")
			}
			if check && writeFollows {
				return usageErr("--check writes nothing, so it cannot be combined with --write-follows")
			}
			out, err := parseLockOutput(summary, asJSON, graph, follows)
			if err != nil {
				return err
			}
			strategy, err := parseStrategy(strat)
			if err != nil {
				return err
			}
			nix, err := flakeref.ParseNixVersion(minNix)
			if err != nil {
				return usageErr("--min-nix: %v", err)
			}
			dirs := args
			if len(dirs) == 0 {
				dirs = []string{"."}
			}
			client := &resolveClient{remote: remote, indexes: indexes, registries: registries}
			run := func(dir string, stdout, stderr io.Writer) error {
				l := &locker{dir: dir, client: client, update: update, strategy: strategy, timeout: timeout, effort: effort, nix: nix}
				return l.run(cmd.Context(), lockRun{out: out, check: check, writeFollows: writeFollows, several: len(dirs) > 1, stdout: stdout, stderr: stderr})
			}
			if len(dirs) == 1 {
				return run(dirs[0], cmd.OutOrStdout(), cmd.ErrOrStderr())
			}
			return lockEach(dirs, cmd.OutOrStdout(), cmd.ErrOrStderr(), out, run)
		},
	}
	cmd.Flags().StringArrayVar(&registries, "registry", nil, registryUsage)
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "index `FILE` to resolve against (JSON or binary; repeat to layer, first wins; default: the embedded index)")
	remote.register(cmd)
	cmd.Flags().StringSliceVar(&update, "update", nil, "release the pins of input `INPUT` (a path such as nixpkgs or hyprland/hyprutils) and beneath it (repeatable, or comma-separated)")
	cmd.Flags().BoolVar(&check, "check", false, "write nothing; exit 5 if flake.lock would change")
	cmd.Flags().BoolVar(&follows, "follows", false, "print the follows lines that would let Nix share duplicated nodes")
	cmd.Flags().BoolVar(&writeFollows, "write-follows", false, "add those follows lines to flake.nix, then lock")
	cmd.Flags().StringVar(&strat, "strategy", "", strategyUsage())
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "give up after this long")
	cmd.Flags().DurationVar(&effort, "effort", 0, "time to spend improving the first answer and proving it optimal (default 2s)")
	cmd.Flags().StringVar(&summary, "summary", "nix", "how to tell what changed, as `FORMAT`: nix (Nix's own text, on standard error) or markdown (a table, the input graph and Nix's text, on standard output)")
	cmd.Flags().BoolVar(&asJSON, "json", false, `print the changes as {"dir", "changed", "added", "removed", "updated", "duplicates"} (the LockChanges message; one document per directory)`)
	cmd.Flags().StringVar(&graph, "graph", "", graphUsage)
	cmd.Flags().StringVar(&minNix, "min-nix", flakeref.MinNix.String(), "the oldest Nix `VERSION` that must read the lock (2.8, 2.18, ...): which attributes a pin may carry")
	return cmd
}

// lockOutput is what lock prints on standard output: at most one of the
// markdown summary, the JSON changes, the input graph and follows lines,
// so that what a program reads there is one thing.
type lockOutput struct {
	markdown bool
	json     bool
	graph    string // "", "mermaid" or "dot"
	follows  bool
}

func parseLockOutput(summary string, asJSON bool, graph string, follows bool) (lockOutput, error) {
	out := lockOutput{json: asJSON, follows: follows}
	switch summary {
	case "nix":
	case "markdown":
		out.markdown = true
	default:
		return out, usageErr("--summary %q: expected nix or markdown", summary)
	}
	var err error
	if out.graph, err = parseGraph(graph); err != nil {
		return out, err
	}
	var set []string
	for flag, on := range map[string]bool{"--summary markdown": out.markdown, "--json": out.json, "--graph": out.graph != "", "--follows": out.follows} {
		if on {
			set = append(set, flag)
		}
	}
	if len(set) > 1 {
		sort.Strings(set)
		return out, usageErr("%s each print on standard output; choose one", strings.Join(set, " and "))
	}
	return out, nil
}

// lockRun is how one directory's run prints.
type lockRun struct {
	out          lockOutput
	check        bool
	writeFollows bool
	// several: other directories are locked in the same run, so the
	// markdown and the graph name this one.
	several        bool
	stdout, stderr io.Writer
}

// run locks one flake directory and prints what changed.
func (l *locker) run(ctx context.Context, r lockRun) error {
	if err := l.read(); err != nil {
		return err
	}
	for _, w := range l.flake.Warnings {
		fmt.Fprintln(r.stderr, "warning: "+w)
	}
	root, resp, err := l.lock(ctx)
	if err != nil {
		return err
	}
	lines := lockfile.Follows(resp)
	if r.writeFollows && len(lines) > 0 {
		if err := l.addFollows(lines); err != nil {
			return err
		}
		fmt.Fprintf(r.stderr, "added %d follows line(s) to %s\n", len(lines), filepath.Join(l.dir, "flake.nix"))
		if root, resp, err = l.lock(ctx); err != nil {
			return err
		}
		lines = lockfile.Follows(resp)
	}
	if r.out.follows {
		for _, line := range lines {
			fmt.Fprintln(r.stdout, line)
		}
	}
	data, err := lockfile.Marshal(root)
	if err != nil {
		return &exitErr{exitError, err}
	}
	// Nix compares lock files as it would write them, so a file it
	// reads the same (another key order, an older version) stays.
	changed := l.old == nil
	if !changed {
		was, err := lockfile.Marshal(l.old)
		changed = err != nil || !bytes.Equal(data, was)
	}
	diff := lockfile.Diff(l.old, root)
	changes := lockfile.Changes(diff, l.old, resp, l.update)
	changes.Dir, changes.Changed = l.dir, changed
	if err := l.report(r, diff, changes, resp, len(lines)); err != nil {
		return &exitErr{exitError, err}
	}
	if beyond := lockfile.Unfetched(root, l.nix); len(beyond) > 0 {
		fmt.Fprintf(r.stderr, "warning: Nix %s cannot fetch %d input(s) the locks of dependencies pin: %s\n", l.nix, len(beyond), strings.Join(beyond, ", "))
	}
	switch {
	case !changed:
		fmt.Fprintf(r.stderr, "%s is up to date\n", l.lockPath())
	case r.check:
		return &exitErr{exitChanged, fmt.Errorf("%s would change; run flakeresolve lock %s", l.lockPath(), l.dir)}
	default:
		if err := boundedfile.WriteAtomic(l.lockPath(), data); err != nil {
			return &exitErr{exitError, err}
		}
		fmt.Fprintf(r.stderr, "wrote %s\n", l.lockPath())
	}
	return nil
}

// locker holds what one lock run reads and resolves.
type locker struct {
	dir string
	// client is shared by the runs of one command: --write-follows locks
	// twice, and the indexes load once.
	client   *resolveClient
	update   []string
	strategy pb.Strategy
	timeout  time.Duration
	effort   time.Duration
	// nix is the oldest Nix that must read the lock.
	nix flakeref.NixVersion

	flake    *flakenix.Flake
	old      *lockfile.Node
	oldBytes []byte
}

func (l *locker) lockPath() string { return filepath.Join(l.dir, "flake.lock") }

func (l *locker) read() error {
	f, err := flakenix.ReadDir(l.dir)
	if err != nil {
		return &exitErr{exitError, err}
	}
	l.flake = f
	data, err := boundedfile.Read(l.lockPath(), boundedfile.MaxFlakeLock)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil
	case err != nil:
		return &exitErr{exitError, err}
	}
	old, err := lockfile.Parse(l.lockPath(), data)
	if err != nil {
		return &exitErr{exitError, err}
	}
	l.old, l.oldBytes = old, data
	return nil
}

func (l *locker) lock(ctx context.Context) (*lockfile.Node, *pb.ResolveInputsResponse, error) {
	if len(l.flake.Inputs) == 0 {
		return &lockfile.Node{Inputs: map[string]*lockfile.Edge{}}, &pb.ResolveInputsResponse{}, nil
	}
	for _, u := range l.update {
		if l.flake.Inputs[strings.Split(u, "/")[0]] == nil {
			return nil, nil, usageErr("--update %s: flake.nix has no input %q (inputs: %s)", u, strings.Split(u, "/")[0], strings.Join(l.flake.InputNames(), ", "))
		}
	}
	req := &pb.ResolveInputsRequest{
		Inputs:      flakenix.ToProto(l.flake.Inputs),
		Strategy:    l.strategy,
		LockFile:    l.oldProto(),
		UpdatePaths: l.update,
		Timeout:     durationpb.New(l.timeout),
	}
	if l.effort > 0 {
		req.Effort = durationpb.New(l.effort)
	}
	ctx, cancel := context.WithTimeout(ctx, l.timeout+5*time.Second)
	defer cancel()
	resp, err := l.client.call(ctx, req)
	if err != nil {
		return nil, nil, l.placed(err)
	}
	root, err := lockfile.Build(l.flake.Inputs, resp, l.nix)
	if err != nil {
		return nil, nil, &exitErr{exitError, err}
	}
	return root, resp, nil
}

// placed turns the service's complaint about a request field into an
// error at the declaration it comes from: the request was built from
// flake.nix and flake.versions.nix, so a bad field is a bad file (exit 1).
func (l *locker) placed(err error) error {
	var fe *service.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if pos, ok := l.flake.FieldPos(fe.Field); ok {
		return &exitErr{exitError, fmt.Errorf("%s: %s", pos, fe.Msg)}
	}
	return &exitErr{exitError, fmt.Errorf("%s: %s", filepath.Join(l.dir, "flake.nix"), fe)}
}

// oldProto is the existing lock as the request carries it, nil when there
// is none.
func (l *locker) oldProto() *pb.LockFile {
	if l.old == nil {
		return nil
	}
	return lockfile.ToProto(l.old)
}

func (l *locker) addFollows(lines []lockfile.FollowsLine) error {
	texts := make([]string, len(lines))
	for i, line := range lines {
		texts[i] = line.String()
	}
	path := filepath.Join(l.dir, "flake.nix")
	src := l.flake.WithBindings(texts)
	if _, err := flakenix.Parse(path, src); err != nil {
		return &exitErr{exitError, fmt.Errorf("adding follows lines would break flake.nix (%v); add them by hand:\n  %s", err, strings.Join(texts, "\n  "))}
	}
	if err := boundedfile.WriteAtomic(path, src); err != nil {
		return &exitErr{exitError, err}
	}
	return l.read()
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	if rev == "" {
		return "a pin without rev"
	}
	return rev
}
