package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/inputgraph"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// report tells what locking changed: Nix's text on standard error (unless
// the markdown summary carries it), then a line of counts; and on standard
// output the one thing asked for there.
func (l *locker) report(r lockRun, diff []lockfile.Change, changes *pb.LockChanges, resp *pb.ResolveResponse, nFollows int) error {
	nix := nixSummary(diff)
	if !r.out.markdown {
		io.WriteString(r.stderr, nix)
	}
	shared := 0
	for _, n := range resp.Nodes {
		if len(n.Paths) > 1 {
			shared++
		}
	}
	fmt.Fprintf(r.stderr, "%d input paths, %d distinct trees", len(resp.Paths), len(resp.Nodes))
	if shared > 0 {
		fmt.Fprintf(r.stderr, ", %d of them pinned at several paths", shared)
	}
	fmt.Fprintln(r.stderr)
	if nFollows > 0 {
		fmt.Fprintf(r.stderr, "%d follows line(s) would let Nix share those nodes (flakeresolve lock --follows)\n", nFollows)
	}
	switch {
	case r.out.json:
		return printJSON(r.stdout, changes)
	case r.out.markdown:
		_, err := io.WriteString(r.stdout, markdownSummary(changes, resp, l.graphOf(resp), nix, r.several))
		return err
	case r.out.graph != "":
		if r.several {
			fmt.Fprintf(r.stdout, "%s %s\n", graphComment[r.out.graph], l.dir)
		}
		return writeGraph(r.stdout, r.out.graph, l.graphOf(resp))
	}
	return nil
}

// graphOf is the input graph of the flake, its root named by the
// flake's directory.
func (l *locker) graphOf(resp *pb.ResolveResponse) *inputgraph.Graph {
	name := l.dir
	if abs, err := filepath.Abs(l.dir); err == nil {
		name = filepath.Base(abs)
	}
	return inputgraph.Build(resp, name)
}

// nixSummary is what Nix writes into a lock update's commit message
// (nix flake lock --commit-lock-file), which tools such as
// update-flake-lock paste into pull requests: a heading, then
// LockFile::diff. Empty when no input changed.
func nixSummary(diff []lockfile.Change) string {
	if len(diff) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("Flake lock file updates:\n\n")
	for _, c := range diff {
		b.WriteString(c.String())
	}
	return b.String()
}

// markdownSummary is a pull request's description of a lock update: a
// table of the changed inputs with why each moved, why any flake keeps
// several trees, the input graph, and Nix's own text.
func markdownSummary(ch *pb.LockChanges, resp *pb.ResolveResponse, g *inputgraph.Graph, nix string, several bool) string {
	var b strings.Builder
	b.WriteString("## Flake lock file updates")
	if several {
		b.WriteString(": `" + ch.Dir + "`")
	}
	b.WriteString("\n\n")
	rows := slices.Concat(ch.Updated, ch.Added, ch.Removed)
	slices.SortStableFunc(rows, func(a, b *pb.LockChanges_Change) int {
		return slices.Compare(strings.Split(a.Path, "/"), strings.Split(b.Path, "/"))
	})
	switch {
	case len(rows) > 0:
		b.WriteString("| input | from | to | why |\n| --- | --- | --- | --- |\n")
		for _, c := range rows {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.Path, cell(pinCell(c.From)), cell(pinCell(c.To)), cell(why(c, resp)))
		}
	case ch.Changed:
		b.WriteString("No input changed; flake.lock is rewritten in the form Nix writes.\n")
	default:
		b.WriteString("No input changed.\n")
	}
	for _, d := range ch.Duplicates {
		fmt.Fprintf(&b, "\n**%s** has several trees because requirements force them:\n", d.Flake)
		for _, e := range d.Edges {
			fmt.Fprintf(&b, "- %s at `%s`: %s requires %s\n", nodeLabel(d.Flake, e.Version, e.Ref), e.Path, e.DeclaredBy, orUnversioned(e.Requirement))
		}
	}
	b.WriteString("\n<details><summary>Input graph</summary>\n\n```mermaid\n" + g.Mermaid() + "```\n\n</details>\n")
	if nix != "" {
		b.WriteString("\n<details><summary>As Nix prints it</summary>\n\n```\n" + nix + "```\n\n</details>\n")
	}
	return b.String()
}

// cell keeps a table cell in its column.
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// pinCell names one side of a change: a follows, or a tree by its flake
// and version (or ref, or source and rev) and its day.
func pinCell(p *pb.PathPin) string {
	switch {
	case p == nil:
		return "—"
	case p.Follows != nil:
		if len(p.Follows.Names) == 0 {
			return "follows the root flake"
		}
		return "follows `" + strings.Join(p.Follows.Names, "/") + "`"
	}
	label := pinLabel(p)
	if p.Version == "" && p.Ref == "" && p.Locked.GetRev() == "" {
		label = flakeref.String(p.Locked) // a tarball: its URL says which
	}
	s := "`" + label + "`"
	if lm := p.Locked.GetLastModified(); lm != 0 {
		s += " (" + time.Unix(lm, 0).UTC().Format(time.DateOnly) + ")"
	}
	return s
}

// why says what moved a path, from the facts the change carries: where
// its pin comes from, whether --update released it, and the duplicate it
// removed.
func why(c *pb.LockChanges_Change, resp *pb.ResolveResponse) string {
	var parts []string
	to, from := c.To, c.From
	switch {
	case to == nil:
		parts = append(parts, "no longer an input")
	case to.Follows != nil:
		parts = append(parts, "declared follows")
	case from != nil && from.Original != nil && to.Original != nil && !proto.Equal(from.Original, to.Original):
		parts = append(parts, "input declared anew as `"+flakeref.String(to.Original)+"`")
	default:
		switch to.Origin {
		case pb.PinOrigin_PIN_ORIGIN_REQUIREMENT:
			parts = append(parts, "requirement `"+to.Requirement+"`")
		case pb.PinOrigin_PIN_ORIGIN_REF_HEAD:
			branch := "the default branch"
			if to.Ref != "" {
				branch = "branch `" + to.Ref + "`"
			}
			if from != nil && from.Follows == nil {
				parts = append(parts, branch+" moved")
			} else {
				parts = append(parts, "head of "+branch)
			}
		case pb.PinOrigin_PIN_ORIGIN_REV:
			parts = append(parts, "the rev its URL names")
		case pb.PinOrigin_PIN_ORIGIN_DEPENDENCY_LOCK:
			parent := "its flake"
			if i := strings.LastIndex(c.Path, "/"); i >= 0 {
				if p := resp.Paths[c.Path[:i]]; p != nil && p.Locked != nil {
					parent = pinLabel(p)
				}
			}
			parts = append(parts, "pinned by the flake.lock of "+parent)
		case pb.PinOrigin_PIN_ORIGIN_EXISTING_LOCK:
			parts = append(parts, "kept from flake.lock")
		}
	}
	if c.Released {
		parts = append(parts, "released by --update")
	}
	if len(c.NowShares) > 0 {
		parts = append(parts, "removes a duplicate: now the same tree as `"+strings.Join(c.NowShares, "`, `")+"`")
	}
	for _, d := range resp.Duplicates {
		if slices.ContainsFunc(d.Edges, func(e *pb.DuplicateEdge) bool { return e.Path == c.Path }) {
			parts = append(parts, "one of several "+d.Flake+" trees (below)")
		}
	}
	return strings.Join(parts, "; ")
}

// lockEach locks several flake directories in turn, each one's standard
// error (and follows lines) prefixed by it. The exit code is the worst of
// theirs: a usage error, then an error, a conflict, a stale lock.
func lockEach(dirs []string, stdout, stderr io.Writer, out lockOutput, run func(dir string, stdout, stderr io.Writer) error) error {
	severity := map[int]int{exitOK: 0, exitChanged: 1, exitConflict: 2, exitNotFound: 3, exitError: 4, exitUsage: 5}
	worst := exitOK
	var failed []string
	for _, dir := range dirs {
		errw := &prefixWriter{w: stderr, prefix: dir + ": "}
		outw := stdout
		if out.follows {
			outw = &prefixWriter{w: stdout, prefix: dir + ": "}
		}
		err := run(dir, outw, errw)
		if err == nil {
			continue
		}
		fmt.Fprintln(errw, "flakeresolve:", err)
		code := exitUsage // cobra's own errors are about flags and arguments
		var ee *exitErr
		if errors.As(err, &ee) {
			code = ee.code
		}
		if severity[code] > severity[worst] {
			worst = code
		}
		failed = append(failed, fmt.Sprintf("%s exited %d", dir, code))
	}
	if worst == exitOK {
		return nil
	}
	return &exitErr{worst, fmt.Errorf("%d of %d flakes did not lock cleanly (%s); the exit code is the worst", len(failed), len(dirs), strings.Join(failed, ", "))}
}

// prefixWriter starts every line with a prefix.
type prefixWriter struct {
	w       io.Writer
	prefix  string
	midLine bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out []byte
	for _, c := range b {
		if !p.midLine {
			out = append(out, p.prefix...)
		}
		out = append(out, c)
		p.midLine = c != '\n'
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
