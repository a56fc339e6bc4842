package inputgraph

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

var update = flag.Bool("update", false, "rewrite testdata/answer.mmd and answer.dot")

// answer is a resolution with every shape the graph draws: two flakes with
// two trees each, a tree two paths share, follows to a tree, through
// another follows, and to the root, an input whose pin a dependency's lock
// gives, a ref head, an unpinned input, and labels that need escaping.
func answer() *pb.ResolveResponse {
	locked := func(rev string) *pb.Source {
		return &pb.Source{Type: "github", Owner: "o", Repo: "r", Rev: rev, NarHash: "sha256-" + rev}
	}
	pin := func(flake, version, req string) *pb.PathPin {
		return &pb.PathPin{Flake: flake, Version: version, Requirement: req, Origin: pb.PinOrigin_PIN_ORIGIN_REQUIREMENT, Locked: locked(flake + version)}
	}
	follows := func(names ...string) *pb.PathPin {
		return &pb.PathPin{Follows: &pb.InputPath{Names: names}}
	}
	return &pb.ResolveResponse{
		Paths: map[string]*pb.PathPin{
			"app":               pin("app", "2.0.0", ">=2, <3"),
			"app/nixpkgs":       pin("nixpkgs", "0.2405.1", "^0.2405"),
			"app/utils":         pin("utils", "1.0.0", "^1"),
			"app/utils/nixpkgs": follows("app", "nixpkgs"),
			"app/self":          follows(),
			"app/wl":            {Origin: pb.PinOrigin_PIN_ORIGIN_DEPENDENCY_LOCK, Locked: &pb.Source{Type: "tarball", Url: "https://x.example/wl.tar.gz?a=1&b=\"2\"", NarHash: "sha256-wl"}},
			"home":              {Flake: "home", Ref: "master", Origin: pb.PinOrigin_PIN_ORIGIN_REF_HEAD, Locked: locked("home")},
			"home/nixpkgs":      follows("nixpkgs"),
			"home/utils":        follows("app", "utils"),
			"home/later":        follows("home", "utils"),
			"nixpkgs":           pin("nixpkgs", "0.2411.7", "^0.2411"),
			"utils":             pin("utils", "2.1.0", "^2"),
			"utils/nixpkgs":     pin("nixpkgs", "0.2411.7", "^0.2411"),
			"mine":              {Url: "github:someone/mine", Unpinned: "github:someone/mine is in no index"},
		},
		Nodes: []*pb.ResolvedNode{
			{Flake: "app", Version: "2.0.0", Paths: []string{"app"}},
			{Flake: "home", Ref: "master", Paths: []string{"home"}},
			{Flake: "https://x.example/wl.tar.gz?a=1&b=\"2\"", Paths: []string{"app/wl"}},
			{Flake: "nixpkgs", Version: "0.2411.7", Paths: []string{"nixpkgs", "utils/nixpkgs"}},
			{Flake: "nixpkgs", Version: "0.2405.1", Paths: []string{"app/nixpkgs"}},
			{Flake: "utils", Version: "2.1.0", Paths: []string{"utils"}},
			{Flake: "utils", Version: "1.0.0", Paths: []string{"app/utils"}},
		},
	}
}

// TestBuild checks the graph as data: one node per tree, groups for the
// flakes with several trees, follows ending where their chain ends, and
// one edge for the two paths that declare the same one.
func TestBuild(t *testing.T) {
	g := Build(answer(), "my flake")
	var nodes []string
	for _, n := range g.Nodes {
		nodes = append(nodes, fmt.Sprintf("%s %q group %d", n.ID, n.Label, n.Group))
	}
	wantNodes := []string{
		`root "my flake" group 0`,
		`t1 "app 2.0.0" group 0`,
		`t2 "home ref:master" group 0`,
		`t3 "https://x.example/wl.tar.gz?a=1&b=\"2\"" group 0`,
		`t4 "nixpkgs 0.2411.7" group 1`,
		`t5 "nixpkgs 0.2405.1" group 1`,
		`t6 "utils 2.1.0" group 2`,
		`t7 "utils 1.0.0" group 2`,
		`u1 "github:someone/mine (unpinned)" group 0`,
	}
	if !slices.Equal(nodes, wantNodes) {
		t.Errorf("nodes\n%s\nwant\n%s", strings.Join(nodes, "\n"), strings.Join(wantNodes, "\n"))
	}
	var edges []string
	for _, e := range g.Edges {
		s := e.From + " -> " + e.To + " " + e.Label
		if e.Follows {
			s += " (dashed)"
		}
		edges = append(edges, s)
	}
	wantEdges := []string{
		"root -> t1 >=2, <3",
		"t1 -> t5 ^0.2405",
		"t1 -> root follows (dashed)",
		"t1 -> t7 ^1",
		"t7 -> t5 follows (dashed)",
		"t1 -> t3 flake.lock",
		"root -> t2 ref",
		"t2 -> t7 follows (dashed)", // home/later follows home/utils, which follows app/utils: drawn once
		"t2 -> t4 follows (dashed)",
		"root -> u1 ",
		"root -> t4 ^0.2411",
		"root -> t6 ^2",
		"t6 -> t4 ^0.2411",
	}
	if !slices.Equal(edges, wantEdges) {
		t.Errorf("edges\n%s\nwant\n%s", strings.Join(edges, "\n"), strings.Join(wantEdges, "\n"))
	}
}

// TestMermaid compares the rendering with testdata/answer.mmd and checks
// it against the grammar it is written in.
func TestMermaid(t *testing.T) {
	got := Build(answer(), "my flake").Mermaid()
	golden(t, "testdata/answer.mmd", got)
	if err := checkMermaid(got); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{
		"flowchart LR\n  a[\"x\"] --> b\n",           // b is not declared
		"flowchart LR\n  a[\"x \"y\"\"]\n",           // a raw quote
		"flowchart LR\n  a[\"x\"]\n  class a dup1\n", // no classDef dup1
		"flowchart LR\n  a[\"<b>x</b>\"]\n",          // HTML
		"graph\n  a[\"x\"]\n",                        // not a flowchart
		"flowchart LR\n  a[\"x\"]\n  a -->|\"y| a\n", // unclosed label
		"flowchart LR\n  a[\"x\"]:::unpinned\n",      // no classDef unpinned
	} {
		if checkMermaid(bad) == nil {
			t.Errorf("checkMermaid accepts %q", bad)
		}
	}
}

// The statements a Mermaid rendering may use: node declarations (a
// stadium for the root), edges with quoted labels, class definitions and
// assignments. Quoted text holds no quote and no angle bracket (they are
// entity codes).
var (
	mermaidNode     = regexp.MustCompile(`^  (\w+)(?:\(\["[^"<>]*"\]\)|\["[^"<>]*"\])(?::::(\w+))?$`)
	mermaidEdge     = regexp.MustCompile(`^  (\w+) (?:-->|-\.->)(?:\|"[^"<>]*"\|)? (\w+)$`)
	mermaidClassDef = regexp.MustCompile(`^  classDef (\w+) [\w#:,.\- ]+$`)
	mermaidClass    = regexp.MustCompile(`^  class ([\w,]+) (\w+)$`)
)

// checkMermaid is a syntax check of the flowcharts Mermaid renders: every
// line a statement of the forms above, every node used declared first,
// every class used defined.
func checkMermaid(text string) error {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if lines[0] != "flowchart LR" {
		return fmt.Errorf("line 1 is %q, want flowchart LR", lines[0])
	}
	declared, defined := map[string]bool{}, map[string]bool{}
	var usedClasses []string
	for i, line := range lines[1:] {
		var ids []string
		switch {
		case mermaidNode.MatchString(line):
			m := mermaidNode.FindStringSubmatch(line)
			declared[m[1]] = true
			if m[2] != "" {
				usedClasses = append(usedClasses, m[2])
			}
		case mermaidEdge.MatchString(line):
			m := mermaidEdge.FindStringSubmatch(line)
			ids = m[1:]
		case mermaidClassDef.MatchString(line):
			defined[mermaidClassDef.FindStringSubmatch(line)[1]] = true
		case mermaidClass.MatchString(line):
			m := mermaidClass.FindStringSubmatch(line)
			ids = strings.Split(m[1], ",")
			usedClasses = append(usedClasses, m[2])
		default:
			return fmt.Errorf("line %d: %q is no statement of the graph", i+2, line)
		}
		for _, id := range ids {
			if !declared[id] {
				return fmt.Errorf("line %d: node %s is not declared", i+2, id)
			}
		}
	}
	for _, c := range usedClasses {
		if !defined[c] {
			return fmt.Errorf("class %s is used but not defined", c)
		}
	}
	return nil
}

// TestDot compares the rendering with testdata/answer.dot and has
// Graphviz lay it out: it must read it without a warning, and draw every
// node and edge, the follows and the unpinned input dashed.
func TestDot(t *testing.T) {
	g := Build(answer(), "my flake")
	got := g.Dot()
	golden(t, "testdata/answer.dot", got)
	dot, err := exec.LookPath("dot")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("Graphviz's dot is not installed; .ci/deps installs it (apt-get install graphviz)")
		}
		t.Skip("Graphviz's dot is not installed (apt-get install graphviz)")
	}
	cmd := exec.Command(dot, "-Tsvg")
	cmd.Stdin = strings.NewReader(got)
	var svg, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &svg, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("dot -Tsvg: %v\n%s", err, stderr.String())
	}
	count := func(re string) int { return len(regexp.MustCompile(re).FindAllString(svg.String(), -1)) }
	dashed := 0
	for _, e := range g.Edges {
		if e.Follows {
			dashed++
		}
	}
	if n := count(`<g id="node\d+" class="node">`); n != len(g.Nodes) {
		t.Errorf("Graphviz drew %d nodes, want %d", n, len(g.Nodes))
	}
	if n := count(`<g id="edge\d+" class="edge">`); n != len(g.Edges) {
		t.Errorf("Graphviz drew %d edges, want %d", n, len(g.Edges))
	}
	// Dashed edges draw a dashed path and a solid arrowhead; the unpinned
	// node draws a dashed box.
	if n := count(`<path [^>]*stroke-dasharray`); n != dashed {
		t.Errorf("Graphviz drew %d dashed edges, want %d", n, dashed)
	}
	if n := count(`<polygon [^>]*stroke-dasharray`); n != 1 {
		t.Errorf("Graphviz drew %d dashed boxes, want 1 (the unpinned input)", n)
	}
	for _, colour := range []string{`fill="#fde0dd"`, `fill="#deebf7"`} {
		if n := count(colour); n != 2 {
			t.Errorf("Graphviz filled %d nodes with %s, want the 2 trees of a duplicated flake", n, colour)
		}
	}
	if !strings.Contains(svg.String(), "&gt;=2, &lt;3") || !strings.Contains(svg.String(), "b=&quot;2&quot;") {
		t.Errorf("the labels lost characters:\n%s", svg.String())
	}
}

// golden compares got with a file, or rewrites it under -update.
func golden(t *testing.T, file, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./internal/inputgraph -update rewrites it); got\n%s", file, got)
	}
}
