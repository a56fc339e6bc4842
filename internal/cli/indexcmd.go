package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/gitindex"
	"github.com/flakeresolve/flakeresolve/internal/importer"
	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func newIndexCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "index",
		Short: "Check, describe and build index files",
	}
	cmd.AddCommand(newIndexValidateCmd(), newIndexStatsCmd(), newIndexImportCmd(), newIndexBuildCmd(), newIndexSnapshotCmd(), newIndexRegistryCmd())
	return cmd
}

func newIndexValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check index files and list every problem",
		Long: `validate reads each index file (JSON, binary or snapshot) and checks every
flake, version and input: versions are strict SemVer, no two versions share
a precedence, locked sources have the fields Nix needs for their type,
requirements parse, follows point at declared inputs, and each version's
and ref's own flake.lock reads as Nix reads one. A snapshot, which loading
trusts, is checked whole and then validated like any index. Every problem
is listed with its flake, version and field. Exit 1 if any file is invalid.`,
		Example: `  flakeresolve index validate index.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("validate takes one or more index files")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			bad := 0
			for _, f := range args {
				m, err := decodeFile(f)
				if err == nil {
					if probs := index.Validate(m); len(probs) > 0 {
						err = &index.InvalidError{Origin: f, Problems: probs}
					}
				}
				if err != nil {
					bad++
					fmt.Fprintln(cmd.OutOrStdout(), err)
					continue
				}
				versions, refs := counts(m)
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok, %d flakes, %d versions, %d refs\n", f, len(m.Flakes), versions, refs)
			}
			if bad > 0 {
				return &exitErr{exitError, fmt.Errorf("%d of %d index file(s) invalid", bad, len(args))}
			}
			return nil
		},
	}
}

func newIndexStatsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stats [FILE...]",
		Short: "Describe index files, or the embedded index",
		Example: `  flakeresolve index stats
  flakeresolve index stats index.json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			type loaded struct {
				ix    *index.Index
				took  time.Duration
				bytes int
			}
			var all []loaded
			if len(args) == 0 {
				start := time.Now()
				ix, err := defaultindex.Load()
				if err != nil {
					return &exitErr{exitError, err}
				}
				all = append(all, loaded{ix, time.Since(start), defaultindex.Size()})
			}
			for _, f := range args {
				start := time.Now()
				ix, err := service.LoadIndex(f)
				if err != nil {
					return &exitErr{exitError, err}
				}
				all = append(all, loaded{ix, time.Since(start), 0})
			}
			w := cmd.OutOrStdout()
			for _, l := range all {
				st := l.ix.Stats()
				fmt.Fprintf(w, "%s: %d flakes, %d versions, %d refs, %d declared inputs; loaded in %s", l.ix.Origin, st.Flakes, st.Versions, st.Refs, st.Inputs, l.took.Round(time.Microsecond))
				if l.bytes > 0 {
					fmt.Fprintf(w, " from %d bytes", l.bytes)
				}
				fmt.Fprintln(w)
				flakes := l.ix.Flakes()
				sort.SliceStable(flakes, func(i, j int) bool { return len(flakes[i].Versions) > len(flakes[j].Versions) })
				var top []string
				for i := 0; i < len(flakes) && i < 8; i++ {
					top = append(top, fmt.Sprintf("%s (%d)", flakes[i].Name, len(flakes[i].Versions)))
				}
				fmt.Fprintf(w, "  most versions: %s\n", strings.Join(top, ", "))
			}
			return nil
		},
	}
}

func newIndexImportCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "import SNAPSHOT -o FILE",
		Short: "Build a versioned index from a real-flake snapshot",
		Long: `import reads a snapshot of real flakes (the real-flakes.json format: tags,
release branches, revs, narHashes, commit counts, declared inputs and each
tree's committed flake.lock) and writes a versioned index, inferring
versions and input requirements by the rules in the README ("The default
index"); every version and ref carries its flake.lock as committed. The
output is JSON when FILE ends in .json, a snapshot when it ends in .snap,
binary otherwise; it is validated before it is written, and written
atomically.`,
		Example: `  flakeresolve index import ../shared/data/real-flakes.json -o index/defaultindex/default.snap
  flakeresolve index import real-flakes.json -o default.json`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("import takes one snapshot file")
			}
			if out == "" {
				return usageErr("import needs -o FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			m, rep, err := importer.Import(args[0])
			if err != nil {
				return &exitErr{exitError, err}
			}
			size, err := writeIndex(m, out, "imported index")
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d flakes, %d versions (%d from nixpkgs pins), %d refs, %d lock files, %d bytes\n",
				out, rep.Flakes, rep.Versions, rep.NixpkgsPins, rep.Refs, rep.LockFiles, size)
			fmt.Fprintf(cmd.ErrOrStderr(), "dropped: %d tags without narHash, %d tags equal in precedence to a preferred tag, %d branch heads without a commit count\n",
				rep.DroppedNoNarHash, rep.DroppedSamePrecedence, rep.DroppedNoRevCount)
			var rules []string
			for r, n := range rep.Inferred {
				rules = append(rules, fmt.Sprintf("%s %d", r, n))
			}
			sort.Strings(rules)
			fmt.Fprintf(cmd.ErrOrStderr(), "inferred requirements: %s\n", strings.Join(rules, ", "))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the index to `FILE` (.json for JSON, .snap for a snapshot, else binary)")
	return cmd
}

func newIndexBuildCmd() *cobra.Command {
	var (
		out     string
		sources []string
	)
	cmd := &cobra.Command{
		Use:   "build -o FILE [NAME=]DIR[?dir=SUBDIR]...",
		Short: "Pre-evaluate local git repositories of flakes into an index",
		Long: `build reads each DIR, a git repository holding a flake, and writes an index
of it: one version per SemVer tag (v1.2.0 or 1.2.0; a tag that is not SemVer
uses the version its flake.nix declares), with the tagged commit's rev,
committer time, commit count, and the narHash of exactly what git archive
gives for it, which is the tree Nix fetches. Each version's inputs come from
the tagged flake.nix and flake.versions.nix, and its flake.lock is recorded
as committed. Branch heads become refs, and the checked-out branch is the
default, so unversioned inputs lock as today.

A repository without version tags is numbered as FlakeHub numbers rolling
releases: the default branch's head is 0.1.N and a release branch's head
(release-24.05, nixos-24.05, ...) 0.2405.N, N its commit count. A repository
with no flake.nix at all is indexed as a plain source tree for flake = false
inputs (versions from its SemVer tags, no inputs). DIR?dir=SUBDIR indexes
the flake in a subdirectory, as a reference's ?dir= names it; the narHash
is still that of the whole repository.

The flake is named after DIR unless NAME= is given, and is found at
git+file://DIR unless --source NAME=FLAKEREF says where it is published (a
github: source then records what Nix's GitHub fetcher expects). A tarball
source is one URL per version: its URL holds {version}, {tag} (the tag, or
the branch of a rolling version) or {rev}, which each version fills in;
serve at each URL the output of git archive --prefix=NAME/ of that rev.
Tags that are skipped (a tag of a tag, a second tag of one version, a
flake.nix or flake.lock that cannot be read) are listed with the reason,
and the run goes on. The output is JSON when FILE ends in .json, a snapshot
when it ends in .snap, binary otherwise; it is validated, then written
atomically.`,
		Example: `  flakeresolve index build -o local.json ~/src/mylib ~/src/myapp
  flakeresolve index build -o registry.json hypr=./hyprland --source hypr=github:hyprwm/Hyprland
  flakeresolve index build -o registry.json 'tools=./monorepo?dir=nix/tools'
  flakeresolve index build -o registry.json ./greeting \
    --source 'greeting=https://example.org/greeting-{version}.tar.gz'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageErr("build takes one or more repository directories")
			}
			if out == "" {
				return usageErr("build needs -o FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			published := map[string]*pb.FlakeLocation{}
			for _, s := range sources {
				name, ref, ok := strings.Cut(s, "=")
				if !ok {
					return usageErr("--source %q: expected NAME=FLAKEREF", s)
				}
				src, err := flakeref.Parse(ref)
				if err != nil {
					return usageErr("--source %s: %v", name, err)
				}
				if src.Ref != "" || src.Rev != "" {
					return usageErr("--source %s: %s names a ref or rev; give where the flake lives, without either", name, ref)
				}
				published[name] = flakeref.Location(src)
			}
			var repos []gitindex.Repo
			for _, a := range args {
				body, query, hasQuery := strings.Cut(a, "?")
				r := gitindex.Repo{Dir: body}
				if name, dir, ok := strings.Cut(body, "="); ok {
					r.Name, r.Dir = name, dir
				}
				if hasQuery {
					sub, ok := strings.CutPrefix(query, "dir=")
					if !ok || sub == "" {
						return usageErr("%s: expected DIR?dir=SUBDIR", a)
					}
					r.Subdir = sub
				}
				key := r.Name
				if key == "" {
					key = filepath.Base(filepath.Clean(r.Dir))
				}
				r.Source = published[key]
				delete(published, key)
				repos = append(repos, r)
			}
			for name := range published {
				return usageErr("--source %s: no repository is named %s", name, name)
			}
			m, skipped, err := gitindex.Build(cmd.Context(), repos, progressPrinter(cmd.ErrOrStderr()))
			if err != nil {
				return &exitErr{exitError, err}
			}
			for _, s := range skipped {
				fmt.Fprintf(cmd.ErrOrStderr(), "skipped %s %s: %s\n", s.Repo, s.Ref, s.Reason)
			}
			if _, err := writeIndex(m, out, "built index"); err != nil {
				return err
			}
			versions, refs := counts(m)
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d flakes, %d versions, %d refs\n", out, len(m.Flakes), versions, refs)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the index to `FILE` (.json for JSON, .snap for a snapshot, else binary)")
	cmd.Flags().StringArrayVar(&sources, "source", nil, "`NAME=FLAKEREF`: where flake NAME is published (repeatable)")
	return cmd
}

// progressPrinter shows index build progress: one updating line on a
// terminal, a line per repository otherwise (logs, CI).
func progressPrinter(w io.Writer) func(gitindex.Event) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return func(e gitindex.Event) {
		switch {
		case tty:
			fmt.Fprintf(w, "\r\033[K[%d/%d] %s: %d/%d refs %s", e.RepoN, e.RepoMax, e.Repo, e.Done, e.Total, e.Ref)
			if e.Done == e.Total && e.RepoN == e.RepoMax {
				fmt.Fprintln(w)
			}
		case e.Done == e.Total:
			fmt.Fprintf(w, "[%d/%d] %s: %d tags and branches read\n", e.RepoN, e.RepoMax, e.Repo, e.Total)
		}
	}
}

// writeIndex validates an index and writes it atomically, as JSON when the
// file name ends in .json, as a snapshot when it ends in .snap, and binary
// otherwise; it returns the size.
func writeIndex(m *pb.Index, out, origin string) (int, error) {
	var data []byte
	var err error
	if strings.HasSuffix(out, snapshotSuffix) {
		// Writing a snapshot validates the index: it is the last time
		// anything does.
		data, err = index.MarshalSnapshot(origin, m)
	} else if probs := index.Validate(m); len(probs) > 0 {
		err = &index.InvalidError{Origin: origin, Problems: probs}
	} else if strings.HasSuffix(out, ".json") {
		data, err = index.MarshalJSON(m)
	} else {
		data, err = index.MarshalBinary(m)
	}
	if err == nil {
		err = boundedfile.WriteAtomic(out, data)
	}
	if err != nil {
		return 0, &exitErr{exitError, err}
	}
	return len(data), nil
}

// snapshotSuffix marks the files index commands write as snapshots.
const snapshotSuffix = ".snap"

// decodeFile reads an index file of any form without validating it.
func decodeFile(path string) (*pb.Index, error) {
	data, err := boundedfile.Read(path, boundedfile.MaxIndex)
	if err != nil {
		return nil, err
	}
	return index.Decode(path, data)
}

// counts are the versions and refs of an index message.
func counts(m *pb.Index) (versions, refs int) {
	for _, f := range m.Flakes {
		versions += len(f.Versions)
		refs += len(f.Refs)
	}
	return versions, refs
}

func newIndexSnapshotCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "snapshot INDEX -o FILE",
		Short: "Validate an index and write it as a snapshot, which loads without validating",
		Long: `snapshot reads an index (JSON, binary, or a snapshot), validates it as
validate does, and writes it as a snapshot: the index compiled for loading,
with the sha256 digest of its contents. serve, resolve and query load a
snapshot without validating it again, checking only that it is whole (its
length and digest), so a million-version index loads in about a second
instead of many. Keep the JSON or binary index as the source: a snapshot
is rebuilt from it, and a build that changes the snapshot layout refuses
older snapshots. index build and index import write a snapshot directly
when their output ends in .snap. The output is written atomically.`,
		Example: `  flakeresolve index snapshot registry.json -o registry.snap
  flakeresolve serve --index registry.snap`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageErr("snapshot takes one index file")
			}
			if out == "" {
				return usageErr("snapshot needs -o FILE")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			start := time.Now()
			m, err := decodeFile(args[0])
			if err != nil {
				return &exitErr{exitError, err}
			}
			data, err := index.MarshalSnapshot(args[0], m)
			if err == nil {
				err = boundedfile.WriteAtomic(out, data)
			}
			if err != nil {
				return &exitErr{exitError, err}
			}
			versions, refs := counts(m)
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d flakes, %d versions, %d refs, %d bytes, validated and written in %s\n",
				out, len(m.Flakes), versions, refs, len(data), time.Since(start).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the snapshot to `FILE`")
	return cmd
}
