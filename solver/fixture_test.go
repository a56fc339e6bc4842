package solver

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

var update = flag.Bool("update", false, "rewrite the want sections of testdata/resolve/*.txtar")

// A fixture is a txtar archive with three or four files:
//
//	-- universe --          the index, one flake version (or ref head) per
//	hyprutils 0.8.0         unindented line, its inputs indented beneath:
//	  nixpkgs ^0.1          NAME [FLAKE] [REQ] [ref=REF] [flake=false]
//	  b/nixpkgs -> nixpkgs  (FLAKE defaults to NAME's last segment, a
//	  b/c version ^1        version-only override of b's input c,
//	                        follows may end in a REQ of its own,
//	nixpkgs ref main        missing REQ is unversioned), PATH -> FOLLOWS,
//	                        and "FLAKE ref NAME [at VERSION]" for a ref
//	                        head (the first ref of a flake is its default;
//	                        "at" makes it that version's tree)
//	  lock PATH TREE        beneath a version or ref head: its own
//	                        flake.lock pins input PATH (relative to it)
//	                        to TREE: "FLAKE VERSION", "FLAKE ref NAME",
//	                        "FLAKE@KEY" (a tree no index has), or
//	                        "-> PATH" (a follows, from the lock's root);
//	                        "original=REF" after it gives the node's
//	                        original that ref; "FLAKE numbering time"
//	                        numbers FLAKE's versions by commit time;
//	                        an input's URL may be given whole (with ://)
//	-- request --           root inputs, unindented, same syntax
//	-- options --           optional: strategy cargo | single FLAKE | any
//	                        | lock PATH TREE (the existing flake.lock)
//	                        | update PATH | maxclauses N
//	-- want --              the answer rendered by renderAnswer, or
//	                        "conflict:" and the explanation
//
// Flakes live at github:fixture/NAME, and an input naming a flake the
// universe lacks points there too: it is simply not in the index.
type fixture struct {
	index *pb.Index
	req   *Request
	want  string
}

func fixtureURL(flake, ref string) string {
	if ref != "" {
		return "github:fixture/" + flake + "/" + ref
	}
	return "github:fixture/" + flake
}

func fakeLocked(key string) *pb.FlakeRef {
	rev := sha1.Sum([]byte(key))
	nar := sha256.Sum256([]byte(key))
	return &pb.FlakeRef{Rev: hex.EncodeToString(rev[:]), NarHash: "sha256-" + base64.StdEncoding.EncodeToString(nar[:]), LastModified: 1700000000}
}

// addLockLine adds one "lock PATH TREE" line to a lock file tree.
func addLockLine(t testing.TB, root *lockfile.Node, fields []string) {
	t.Helper()
	if len(fields) < 2 {
		t.Fatalf("lock %v: expected PATH TREE", fields)
	}
	segs := strings.Split(fields[0], "/")
	parent := root
	for _, s := range segs[:len(segs)-1] {
		e := parent.Inputs[s]
		if e == nil || e.Node == nil {
			t.Fatalf("lock %s: %s is not locked before it", fields[0], s)
		}
		parent = e.Node
	}
	name, tree := segs[len(segs)-1], fields[1:]
	if tree[0] == "->" {
		parent.Inputs[name] = &lockfile.Edge{Follows: splitPath(strings.Join(tree[1:], ""))}
		return
	}
	original := ""
	if last := tree[len(tree)-1]; strings.HasPrefix(last, "original=") {
		original, tree = strings.TrimPrefix(last, "original="), tree[:len(tree)-1]
	}
	var flake, key string
	switch {
	case len(tree) == 1 && strings.Contains(tree[0], "@"):
		flake, _, _ = strings.Cut(tree[0], "@")
		key = tree[0]
	case len(tree) == 2:
		flake, key = tree[0], tree[0]+"@"+tree[1]
	case len(tree) == 3 && tree[1] == "ref":
		flake, key = tree[0], tree[0]+"@ref:"+tree[2]
	default:
		t.Fatalf("lock %v: expected FLAKE VERSION, FLAKE ref NAME, FLAKE@KEY or -> PATH", fields)
	}
	locked := fakeLocked(key)
	locked.Type, locked.Owner, locked.Repo = "github", "fixture", flake
	parent.Inputs[name] = &lockfile.Edge{Node: &lockfile.Node{
		Inputs:   map[string]*lockfile.Edge{},
		Original: &pb.FlakeRef{Type: "github", Owner: "fixture", Repo: flake, Ref: original},
		Locked:   locked,
	}}
}

// parseInputLine reads one input declaration into decls.
func parseInputLine(decls map[string]*pb.Input, line string) {
	f := strings.Fields(line)
	segs := strings.Split(f[0], "/")
	m := decls
	for _, s := range segs[:len(segs)-1] {
		if m[s] == nil {
			m[s] = &pb.Input{}
		}
		if m[s].Inputs == nil {
			m[s].Inputs = map[string]*pb.Input{}
		}
		m = m[s].Inputs
	}
	name := segs[len(segs)-1]
	in := &pb.Input{}
	if old := m[name]; old != nil {
		in.Inputs = old.Inputs
	}
	m[name] = in
	rest := f[1:]
	if len(rest) > 0 && rest[0] == "->" {
		target := ""
		if len(rest) > 1 {
			target = rest[1]
		}
		in.Follows = &target
		if len(rest) > 2 {
			in.Version = strings.Join(rest[2:], " ")
		}
		return
	}
	if len(rest) == 2 && rest[0] == "version" {
		in.Version = rest[1] // a version-only override: the url stays the input's own
		return
	}
	flake, ref := name, ""
	for _, t := range rest {
		switch {
		case strings.HasPrefix(t, "ref="):
			ref = strings.TrimPrefix(t, "ref=")
		case t == "flake=false":
			no := false
			in.Flake = &no
		case strings.Contains(t, "://"):
			in.Url = t
			return
		case strings.ContainsAny(t[:1], "0123456789^~=<>*"):
			in.Version = t
		default:
			flake = t
		}
	}
	in.Url = fixtureURL(flake, ref)
}

func parseFixture(t *testing.T, ar *txtar.Archive) *fixture {
	t.Helper()
	fx := &fixture{index: &pb.Index{Schema: index.Schema}, req: &Request{Inputs: map[string]*pb.Input{}, Limits: proving}}
	flakes := map[string]*pb.Flake{}
	for _, f := range ar.Files {
		lines := strings.Split(strings.TrimRight(string(f.Data), "\n"), "\n")
		switch f.Name {
		case "universe":
			var cur map[string]*pb.Input
			var curLock *lockfile.Node
			// The lock lines of a tree come after its line: its lock file is
			// complete once the universe is read.
			var locks []func()
			defer func() {
				for _, f := range locks {
					f()
				}
			}()
			for _, line := range lines {
				if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
					continue
				}
				if strings.HasPrefix(line, " ") {
					if f := strings.Fields(line); f[0] == "lock" {
						if curLock.Inputs == nil {
							curLock.Inputs = map[string]*lockfile.Edge{}
						}
						addLockLine(t, curLock, f[1:])
						continue
					}
					parseInputLine(cur, strings.TrimSpace(line))
					continue
				}
				w := strings.Fields(line)
				fl := flakes[w[0]]
				if fl == nil {
					fl = &pb.Flake{Name: w[0], Source: &pb.FlakeLocation{Type: "github", Owner: "fixture", Repo: w[0]}, Refs: map[string]*pb.Ref{}}
					flakes[w[0]] = fl
					fx.index.Flakes = append(fx.index.Flakes, fl)
				}
				cur = map[string]*pb.Input{}
				curLock = &lockfile.Node{}
				if (len(w) == 3 || len(w) == 5 && w[3] == "at") && w[1] == "ref" {
					l := fakeLocked(w[0] + "@ref:" + w[2])
					if len(w) == 5 {
						// The head is a version's very tree.
						l = fakeLocked(w[0] + "@" + w[4])
					}
					ref := &pb.Ref{Rev: l.Rev, NarHash: l.NarHash, LastModified: l.LastModified, Inputs: cur}
					fl.Refs[w[2]] = ref
					lock := curLock
					locks = append(locks, func() { ref.LockFile = lockProto(lock) })
					if fl.DefaultRef == "" {
						fl.DefaultRef = w[2]
					}
					continue
				}
				if len(w) == 3 && w[1] == "numbering" && w[2] == "time" {
					fl.Numbering = pb.Numbering_NUMBERING_COMMIT_TIME
					continue
				}
				if len(w) != 2 {
					t.Fatalf("universe: %q: expected FLAKE VERSION, FLAKE ref NAME or FLAKE numbering time", line)
				}
				v := &pb.Version{Version: w[1], Locked: fakeLocked(w[0] + "@" + w[1]), Inputs: cur}
				fl.Versions = append(fl.Versions, v)
				lock := curLock
				locks = append(locks, func() { v.LockFile = lockProto(lock) })
			}
		case "request":
			for _, line := range lines {
				if strings.TrimSpace(line) != "" {
					parseInputLine(fx.req.Inputs, strings.TrimSpace(line))
				}
			}
		case "options":
			for _, line := range lines {
				w := strings.Fields(line)
				switch {
				case len(w) == 0:
				case w[0] == "strategy" && len(w) == 2:
					s, err := ParseStrategy(w[1])
					if err != nil {
						t.Fatal(err)
					}
					fx.req.Strategy = s
				case w[0] == "single" && len(w) == 2:
					fx.req.Single = append(fx.req.Single, w[1])
				case w[0] == "any":
					fx.req.UnversionedAny = true
				case w[0] == "lock" && len(w) >= 3:
					if fx.req.Lock == nil {
						fx.req.Lock = &lockfile.Node{Inputs: map[string]*lockfile.Edge{}}
					}
					addLockLine(t, fx.req.Lock, w[1:])
				case w[0] == "update" && len(w) == 2:
					fx.req.Update = append(fx.req.Update, w[1])
				case w[0] == "maxclauses" && len(w) == 2:
					fmt.Sscan(w[1], &fx.req.Limits.MaxClauses)
				default:
					t.Fatalf("options: %q: unknown option", line)
				}
			}
		case "want":
			fx.want = string(f.Data)
		default:
			t.Fatalf("unknown section %q", f.Name)
		}
	}
	return fx
}

// proving are the limits of tests that expect proofs: a work budget, so
// that the answer does not depend on how busy the machine is, and no time
// limit short of it.
var proving = Limits{Effort: time.Hour, Work: 100_000_000}

// lockProto is a tree's own lock file, nil when its lines locked nothing.
func lockProto(n *lockfile.Node) *pb.LockFile {
	if len(n.Inputs) == 0 {
		return nil
	}
	return lockfile.ToProto(n)
}

// renderAnswer prints an answer the way want sections spell it.
func renderAnswer(a *Answer, err error) string {
	if err != nil {
		return "error:\n" + err.Error() + "\n"
	}
	var b strings.Builder
	width := 0
	for _, p := range a.Paths {
		width = max(width, len(p.Path))
	}
	for _, p := range a.Paths {
		fmt.Fprintf(&b, "%-*s  ", width, p.Path)
		switch p.Kind {
		case Pinned:
			b.WriteString(p.Node.Label())
			if p.Origin == OriginDependencyLock || p.Origin == OriginExistingLock {
				b.WriteString(" (" + p.Origin.String() + ")")
			}
		case Unpinned:
			b.WriteString("unpinned: " + p.Unpinned)
		case Follows:
			target := strings.Join(p.Follows, "/")
			if target == "" {
				target = `""` // the root flake
			}
			b.WriteString("-> " + target)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "nodes %d\n", len(a.Nodes))
	for _, d := range a.Duplicates {
		fmt.Fprintf(&b, "duplicate %s\n", d.Flake)
		for _, e := range d.Edges {
			fmt.Fprintf(&b, "  %s: %s requires %s, pinned %s\n", e.Path, e.DeclaredBy, orStar(e.Requirement), e.Node.Label())
		}
	}
	return b.String()
}

func orStar(req string) string {
	if req == "" {
		return "(unversioned)"
	}
	return req
}

func loadFixtureIndex(t testing.TB, m *pb.Index) *index.Layers {
	t.Helper()
	data, err := index.MarshalJSON(m)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := index.Parse("fixture", data)
	if err != nil {
		t.Fatalf("fixture index is invalid: %v", err)
	}
	return index.NewLayers(ix)
}

func TestFixtures(t *testing.T) {
	files, err := filepath.Glob("testdata/resolve/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			fx := parseFixture(t, ar)
			layers := loadFixtureIndex(t, fx.index)
			a, err := Resolve(context.Background(), layers, fx.req)
			got := renderAnswer(a, err)
			// Every fixture is small enough to check against exhaustive
			// search, which -update does too: a wrong answer is never
			// written down as the expected one.
			checkOptimal(t, layers, fx.req, a, err)
			if t.Failed() {
				return
			}
			if *update {
				for i := range ar.Files {
					if ar.Files[i].Name == "want" {
						ar.Files[i].Data = []byte(got)
					}
				}
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if diff := cmp.Diff(fx.want, got); diff != "" {
				t.Errorf("answer differs (-want +got):\n%s", diff)
			}
		})
	}
}

func mustReq(s string) *versionreq.Req { return versionreq.MustParse(s) }
