package solver

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// A request is measured before anything is built from it: expanding
// overrides, reading a lock file and walking follows all cost more than
// the bytes that ask for them (a chain of overrides 2,000 deep is 144 KB
// on the wire and gigabytes expanded), so what a request carries is
// counted first, with nothing allocated per declaration, and a request
// over a limit is refused whole.

// maxFieldShown bounds the field path a limit error names: the path of a
// deep declaration is itself as long as the request is deep.
const maxFieldShown = 256

// CheckSize measures what a request of the API carries against the
// limits: the nesting of its inputs, its declarations (inputs at every
// depth, lock file nodes and their inputs, single flakes, update paths),
// and the length of each of its strings. Fields are named from the
// request ("inputs.a.inputs.nixpkgs"). The solver measures its own
// Request again; this is for callers that hold the API's message and
// would otherwise build from it first (a lock file is read into a graph).
func CheckSize(req *pb.ResolveInputsRequest, lim Limits) error {
	m := newMeasure(lim.withDefaults())
	if err := m.inputs("inputs", req.GetInputs(), 1); err != nil {
		return err
	}
	if err := m.strings("single_flakes", req.GetSingleFlakes()); err != nil {
		return err
	}
	if err := m.strings("update_paths", req.GetUpdatePaths()); err != nil {
		return err
	}
	return m.lock("lock_file", req.GetLockFile())
}

// checkSize measures the solver's own request, for callers that build it
// without the API's message (the command line reads a flake.nix).
func (r *resolver) checkSize() error {
	m := newMeasure(r.lim)
	if err := m.inputs("inputs", r.req.Inputs, 1); err != nil {
		return err
	}
	if err := m.strings("single", r.req.Single); err != nil {
		return err
	}
	if err := m.strings("update", r.req.Update); err != nil {
		return err
	}
	return nil
}

type measure struct {
	lim   Limits
	decls int
}

func newMeasure(lim Limits) *measure { return &measure{lim: lim} }

func (m *measure) over(limit Limit, field string, value, max int) error {
	if len(field) > maxFieldShown {
		field = field[:maxFieldShown] + "…"
	}
	return &LimitError{Limit: limit, Field: field, Value: value, Max: max}
}

// count adds n declarations.
func (m *measure) count(field string, n int) error {
	m.decls += n
	if m.decls > m.lim.MaxDeclarations {
		return m.over(LimitDeclarations, field, m.decls, m.lim.MaxDeclarations)
	}
	return nil
}

func (m *measure) str(field, s string) error {
	if len(s) > m.lim.MaxFieldLength {
		return m.over(LimitFieldLength, field, len(s), m.lim.MaxFieldLength)
	}
	return nil
}

func (m *measure) strings(field string, ss []string) error {
	if err := m.count(field, len(ss)); err != nil {
		return err
	}
	for i, s := range ss {
		if err := m.str(fmt.Sprintf("%s[%d]", field, i), s); err != nil {
			return err
		}
	}
	return nil
}

// inputs measures declarations at depth (1 for the root's inputs). The
// count comes before the walk, so a map of a million inputs is refused
// without a look at each.
func (m *measure) inputs(prefix string, decls map[string]*pb.Input, depth int) error {
	if len(decls) == 0 {
		return nil
	}
	if depth > m.lim.MaxDepth {
		return m.over(LimitDepth, prefix, depth, m.lim.MaxDepth)
	}
	if err := m.count(prefix, len(decls)); err != nil {
		return err
	}
	for _, name := range slices.Sorted(maps.Keys(decls)) {
		if err := m.str(prefix, name); err != nil {
			return err
		}
		field := prefix + "." + name
		d := decls[name]
		for _, s := range [...]struct{ name, value string }{{"url", d.GetUrl()}, {"version", d.GetVersion()}, {"follows", d.GetFollows()}} {
			if err := m.str(field+"."+s.name, s.value); err != nil {
				return err
			}
		}
		if err := m.inputs(field+".inputs", d.GetInputs(), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// lock measures a lock file: its nodes and their inputs count as
// declarations, and every string is bounded. Nodes name one another by
// key, so the graph's depth is bounded by their number.
func (m *measure) lock(field string, lf *pb.LockFile) error {
	if lf == nil {
		return nil
	}
	if err := m.count(field+".nodes", len(lf.Nodes)); err != nil {
		return err
	}
	if err := m.str(field+".root", lf.Root); err != nil {
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(lf.Nodes)) {
		n, nf := lf.Nodes[key], field+".nodes."+key
		if err := m.str(field+".nodes", key); err != nil {
			return err
		}
		if err := m.count(nf+".inputs", len(n.GetInputs())); err != nil {
			return err
		}
		for _, ref := range [...]struct {
			name string
			r    *pb.FlakeRef
		}{{"locked", n.GetLocked()}, {"original", n.GetOriginal()}} {
			if err := m.ref(nf+"."+ref.name, ref.r); err != nil {
				return err
			}
		}
		for _, name := range slices.Sorted(maps.Keys(n.GetInputs())) {
			in := n.Inputs[name]
			if err := m.str(nf+".inputs", name); err != nil {
				return err
			}
			if err := m.str(nf+".inputs."+name+".node", in.GetNode()); err != nil {
				return err
			}
			if err := m.strings(nf+".inputs."+name+".follows.names", in.GetFollows().GetNames()); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *measure) ref(field string, r *pb.FlakeRef) error {
	if r == nil {
		return nil
	}
	for _, s := range [...]struct{ name, value string }{
		{"type", r.Type}, {"owner", r.Owner}, {"repo", r.Repo}, {"host", r.Host}, {"url", r.Url},
		{"ref", r.Ref}, {"rev", r.Rev}, {"nar_hash", r.NarHash}, {"dir", r.Dir}, {"path", r.Path},
	} {
		if err := m.str(field+"."+s.name, s.value); err != nil {
			return err
		}
	}
	return nil
}

// CheckInputName says whether name can name an input: as Nix's identifiers,
// a letter or _ then letters, digits, _, ' and -. An input path joins names
// with /, and Nix reads a follows path by splitting it there, so a name
// with a / would be read as two (a root input "a/nixpkgs" would be input
// a's nixpkgs), and an empty name as none.
func CheckInputName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("an empty input name; expected a name such as nixpkgs")
	case strings.Contains(name, "/"):
		return fmt.Errorf("input name %q contains /, which separates the names of an input path; expected a name such as nixpkgs", name)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		start := c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
		if i == 0 && !start || i > 0 && !start && !('0' <= c && c <= '9' || c == '\'' || c == '-') {
			return fmt.Errorf("input name %q: byte %d (%q) is not allowed; expected a Nix identifier (a letter or _, then letters, digits, _, ' and -)", name, i, c)
		}
	}
	return nil
}

// checkInputPath checks each name of an input path written with /.
func checkInputPath(path string) error {
	for _, name := range strings.Split(path, "/") {
		if err := CheckInputName(name); err != nil {
			return fmt.Errorf("input path %q: %w", path, err)
		}
	}
	return nil
}
