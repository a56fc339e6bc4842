// Package inputgraph draws a resolution's input graph for people: which
// trees a flake's inputs lock to, and which requirement or follows brought
// each in.
//
// It works from the service's answer (pb.ResolveResponse), so that every
// command that has one (resolve, lock) draws the same graph. The graph is
// one node per distinct tree, not per input path: a flake.lock has a node
// per path, but the question a graph answers is "how many nixpkgs, and who
// pulls each in", so paths that pin one tree meet at one node. The trees
// of a flake that has several share a group, drawn in a shared colour.
// Build makes the graph as data; Mermaid and Dot render it at the edge.
package inputgraph

import (
	"maps"
	"slices"
	"strconv"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Graph is an input graph: the root, the trees, and the declarations
// between them.
type Graph struct {
	Nodes []Node
	Edges []Edge
}

// Kind says what a node stands for.
type Kind int

const (
	// Root is the flake whose inputs were resolved.
	Root Kind = iota
	// Tree is one locked tree, whichever paths pin it.
	Tree
	// Unpinned is an input path left without a pin (its flake is in no
	// index and no lock pins it): one node per path.
	Unpinned
)

// Node is a root, a tree or an unpinned input.
type Node struct {
	// ID names the node in the renderings: "root", "t1", "t2", ... in the
	// answer's order of trees, "u1", ... for unpinned paths.
	ID    string
	Label string
	Kind  Kind
	// Group is, for a tree of a flake that has several trees, the
	// flake's number among such flakes (1, 2, ... by name); 0 otherwise.
	Group int
	// Paths are the input paths the node stands for.
	Paths []string
}

// Edge is a declared input from one node to another.
type Edge struct {
	From, To string
	// Label is the requirement on the edge or, for an input with none, where
	// its pin comes from: "ref" (a branch head), "rev", "flake.lock"
	// (the declaring flake's own lock), "kept" (the existing lock); for a
	// follows, "follows".
	Label string
	// Follows marks an input that follows another path: the edge goes to
	// the tree (or the root) that path ends at.
	Follows bool
}

// Build makes the input graph of an answer; root labels the root node.
// Edges come in the order of their input paths, each drawn once however
// many paths declare it.
func Build(resp *pb.ResolveResponse, root string) *Graph {
	g := &Graph{Nodes: []Node{{ID: "root", Label: root, Kind: Root}}}
	at := map[string]string{"": "root"} // pinned or unpinned path -> node ID
	trees := map[string]int{}           // flake -> number of trees
	for _, n := range resp.GetNodes() {
		trees[n.Flake]++
	}
	groups := map[string]int{}
	for _, f := range slices.Sorted(maps.Keys(trees)) {
		if trees[f] > 1 {
			groups[f] = len(groups) + 1
		}
	}
	for i, n := range resp.GetNodes() {
		id := "t" + strconv.Itoa(i+1)
		g.Nodes = append(g.Nodes, Node{ID: id, Label: treeLabel(n), Kind: Tree, Group: groups[n.Flake], Paths: n.Paths})
		for _, p := range n.Paths {
			at[p] = id
		}
	}
	paths := slices.Sorted(maps.Keys(resp.GetPaths()))
	unpinned := 0
	for _, p := range paths {
		if pin := resp.Paths[p]; pin.Unpinned != "" {
			unpinned++
			id := "u" + strconv.Itoa(unpinned)
			g.Nodes = append(g.Nodes, Node{ID: id, Label: pin.Url + " (unpinned)", Kind: Unpinned, Paths: []string{p}})
			at[p] = id
		}
	}
	// end resolves a path through its follows to the node it ends at.
	var end func(p string, hops int) (string, bool)
	end = func(p string, hops int) (string, bool) {
		if id, ok := at[p]; ok {
			return id, true
		}
		pin := resp.Paths[p]
		if pin.GetFollows() == nil || hops > len(resp.Paths) {
			return "", false
		}
		return end(strings.Join(pin.Follows.Names, "/"), hops+1)
	}
	seen := map[Edge]bool{}
	for _, p := range paths {
		pin := resp.Paths[p]
		parent := ""
		if i := strings.LastIndex(p, "/"); i >= 0 {
			parent = p[:i]
		}
		from, ok := end(parent, 0)
		if !ok {
			continue
		}
		e := Edge{From: from, Label: edgeLabel(pin)}
		if pin.Follows != nil {
			e.Follows = true
			if e.To, ok = end(strings.Join(pin.Follows.Names, "/"), 0); !ok {
				continue // follows a path the answer does not have
			}
		} else {
			e.To = at[p]
		}
		if !seen[e] {
			seen[e] = true
			g.Edges = append(g.Edges, e)
		}
	}
	return g
}

// treeLabel names a tree as people know it: its flake and version, or its
// ref, else (a tree pinned by a lock file) its source and rev.
func treeLabel(n *pb.ResolvedNode) string {
	switch {
	case n.Version != "":
		return n.Flake + " " + n.Version
	case n.Ref != "":
		return n.Flake + " ref:" + n.Ref
	case n.GetLocked().GetRev() != "":
		return n.Flake + " rev:" + n.Locked.Rev[:min(12, len(n.Locked.Rev))]
	}
	return n.Flake
}

func edgeLabel(pin *pb.PathPin) string {
	if pin.Follows != nil {
		return "follows"
	}
	if pin.Requirement != "" {
		return pin.Requirement
	}
	switch pin.Origin {
	case pb.PinOrigin_PIN_ORIGIN_REF_HEAD:
		return "ref"
	case pb.PinOrigin_PIN_ORIGIN_REV:
		return "rev"
	case pb.PinOrigin_PIN_ORIGIN_DEPENDENCY_LOCK:
		return "flake.lock"
	case pb.PinOrigin_PIN_ORIGIN_EXISTING_LOCK:
		return "kept"
	}
	return ""
}

// palette colours the groups of duplicated trees, in turn: light fills
// that keep dark text readable, with a darker border of the same hue.
var palette = []struct{ fill, stroke string }{
	{"#fde0dd", "#c51b8a"},
	{"#deebf7", "#3182bd"},
	{"#e5f5e0", "#31a354"},
	{"#fee6ce", "#e6550d"},
	{"#efedf5", "#756bb1"},
	{"#fff7bc", "#d95f0e"},
}

func colour(group int) (fill, stroke string) {
	c := palette[(group-1)%len(palette)]
	return c.fill, c.stroke
}

// groups lists the node IDs of each group, by group number.
func (g *Graph) groups() [][]string {
	var out [][]string
	for _, n := range g.Nodes {
		if n.Group == 0 {
			continue
		}
		for len(out) < n.Group {
			out = append(out, nil)
		}
		out[n.Group-1] = append(out[n.Group-1], n.ID)
	}
	return out
}

// Mermaid renders the graph as a Mermaid flowchart, left to right: the
// root as a stadium, unpinned inputs with a dashed border, follows as
// dotted arrows, and each group of duplicated trees in a class of its own
// colour (dup1, dup2, ...).
func (g *Graph) Mermaid() string {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	for _, n := range g.Nodes {
		label := `"` + mermaidText(n.Label) + `"`
		switch n.Kind {
		case Root:
			b.WriteString("  " + n.ID + "([" + label + "])\n")
		case Unpinned:
			b.WriteString("  " + n.ID + "[" + label + "]:::unpinned\n")
		default:
			b.WriteString("  " + n.ID + "[" + label + "]\n")
		}
	}
	for _, e := range g.Edges {
		arrow := "-->"
		if e.Follows {
			arrow = "-.->"
		}
		label := ""
		if e.Label != "" {
			label = `|"` + mermaidText(e.Label) + `"|`
		}
		b.WriteString("  " + e.From + " " + arrow + label + " " + e.To + "\n")
	}
	for i, ids := range g.groups() {
		fill, stroke := colour(i + 1)
		name := "dup" + strconv.Itoa(i+1)
		b.WriteString("  classDef " + name + " fill:" + fill + ",stroke:" + stroke + ",stroke-width:2px\n")
		b.WriteString("  class " + strings.Join(ids, ",") + " " + name + "\n")
	}
	if slices.ContainsFunc(g.Nodes, func(n Node) bool { return n.Kind == Unpinned }) {
		b.WriteString("  classDef unpinned stroke-dasharray:4 4\n")
	}
	return b.String()
}

// mermaidText escapes a label for a quoted Mermaid string: its entity
// codes stand for the quote, and for the angle brackets and ampersand
// that Mermaid would otherwise read as HTML (requirements such as
// ">=1.2, <2" have them).
func mermaidText(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "<", "#lt;", ">", "#gt;", "&", "#amp;").Replace(s)
}

// Dot renders the graph in Graphviz's dot language, left to right: boxes
// for trees, an ellipse for the root, dashed boxes for unpinned inputs,
// dashed edges for follows, and each group of duplicated trees filled in
// a colour of its own.
func (g *Graph) Dot() string {
	var b strings.Builder
	b.WriteString("digraph inputs {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, n := range g.Nodes {
		attrs := []string{"label=" + dotText(n.Label)}
		switch n.Kind {
		case Root:
			attrs = append(attrs, "shape=ellipse")
		case Unpinned:
			attrs = append(attrs, "style=dashed")
		}
		if n.Group > 0 {
			fill, stroke := colour(n.Group)
			attrs = append(attrs, "style=filled", "fillcolor="+dotText(fill), "color="+dotText(stroke), "penwidth=2")
		}
		b.WriteString("  " + dotText(n.ID) + " [" + strings.Join(attrs, ", ") + "];\n")
	}
	for _, e := range g.Edges {
		var attrs []string
		if e.Label != "" {
			attrs = append(attrs, "label="+dotText(e.Label))
		}
		if e.Follows {
			attrs = append(attrs, "style=dashed")
		}
		b.WriteString("  " + dotText(e.From) + " -> " + dotText(e.To))
		if len(attrs) > 0 {
			b.WriteString(" [" + strings.Join(attrs, ", ") + "]")
		}
		b.WriteString(";\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// dotText quotes a string as a dot ID.
func dotText(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s) + `"`
}
