package cli

import (
	"io"

	"github.com/flakeresolve/flakeresolve/internal/inputgraph"
)

// graphUsage documents --graph, which resolve and lock share.
const graphUsage = "print the input graph as `FORMAT`: mermaid or dot (Graphviz): one node per tree, edges labelled with their requirement, follows dashed, the trees of a duplicated flake in a shared colour"

// graphComment starts a comment line in each format, to name the flake a
// graph belongs to when several are printed.
var graphComment = map[string]string{"mermaid": "%%", "dot": "//"}

func parseGraph(format string) (string, error) {
	if _, ok := graphComment[format]; !ok && format != "" {
		return "", usageErr("--graph %q: expected mermaid or dot", format)
	}
	return format, nil
}

func writeGraph(w io.Writer, format string, g *inputgraph.Graph) error {
	text := g.Dot()
	if format == "mermaid" {
		text = g.Mermaid()
	}
	_, err := io.WriteString(w, text)
	return err
}
