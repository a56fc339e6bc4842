package index

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Layers serves several indexes at once, in order of precedence.
type Layers struct {
	layers   []*Index
	byName   map[string]*Flake
	bySource map[sourceKey]*Flake
	// byURL finds versions that are downloads of their own (a tarball
	// flake's versions are one URL each, not its source's).
	byURL map[sourceKey]Tree
	names []string
	// byProject finds flakes by the name FlakeHub's protocol gives them
	// (flakeref.Project), lower-cased; projects are those names, sorted.
	byProject map[string]*Flake
	projects  []string
	// derived is what other packages compute from these layers alone
	// (see Derived).
	derived sync.Map
}

// Tree is one version of a flake.
type Tree struct {
	Flake   *Flake
	Version *Version
}

// NewLayers layers indexes, the first winning. A name in an earlier index
// hides the same name in every later one, whole: its versions are never
// mixed with the later index's. A hidden flake is not found by source
// either, so a private flake cannot be bypassed through the public one's URL.
func NewLayers(indexes ...*Index) *Layers {
	l := &Layers{layers: indexes, byName: map[string]*Flake{}, bySource: map[sourceKey]*Flake{}, byURL: map[sourceKey]Tree{}, byProject: map[string]*Flake{}}
	for _, ix := range indexes {
		for _, f := range ix.flakes {
			if _, hidden := l.byName[f.Name]; hidden {
				continue
			}
			l.byName[f.Name] = f
			l.names = append(l.names, f.Name)
			if owner, project, ok := flakeref.Project(f.Source); ok {
				if k := strings.ToLower(owner + "/" + project); l.byProject[k] == nil {
					l.byProject[k] = f
					l.projects = append(l.projects, owner+"/"+project)
				}
			}
			if k := keyOf(flakeref.AtLocation(f.Source)); k != (sourceKey{}) {
				if _, taken := l.bySource[k]; !taken {
					l.bySource[k] = f
				}
			}
			// Only a pin with extras can have a location of its own.
			for i, x := range f.cols.PinExtra {
				if x == 0 {
					continue
				}
				v := f.Versions[i]
				if locked := v.Locked(); locked.Url != "" && locked.Url != f.Source.GetUrl() && (locked.Type == "tarball" || locked.Type == "file") {
					if k := keyOf(locationOf(locked)); l.byURL[k] == (Tree{}) {
						l.byURL[k] = Tree{f, v}
					}
				}
			}
		}
	}
	sort.Strings(l.names)
	sort.Strings(l.projects)
	return l
}

// Derived returns the value kept under key for these layers, built by
// build on first use. Layers never change once made, so what is computed
// from them alone (and not from a caller's request) holds as long as they
// do, and every caller can share it: key it by a type of the caller's own.
// Callers that race on a first use may each build; one value is kept, and
// build must not retain anything that grows with requests.
func (l *Layers) Derived(key any, build func() any) any {
	if v, ok := l.derived.Load(key); ok {
		return v
	}
	v, _ := l.derived.LoadOrStore(key, build())
	return v
}

// Indexes returns the layered indexes, first first.
func (l *Layers) Indexes() []*Index { return l.layers }

// Names returns every visible flake name, sorted.
func (l *Layers) Names() []string { return l.names }

// NotFoundError says a flake is in none of the indexes and which known names
// come closest.
type NotFoundError struct {
	Name        string
	Suggestions []string
}

func (e *NotFoundError) Error() string {
	msg := fmt.Sprintf("no flake named %q in the index", e.Name)
	if len(e.Suggestions) > 0 {
		msg += "; closest: " + strings.Join(e.Suggestions, ", ")
	}
	return msg
}

// Lookup finds a flake by name.
func (l *Layers) Lookup(name string) (*Flake, error) {
	if f := l.byName[name]; f != nil {
		return f, nil
	}
	return nil, &NotFoundError{Name: name, Suggestions: closest(name, l.names, 3)}
}

// LookupProject finds a flake by the name FlakeHub's protocol gives it,
// OWNER/PROJECT (flakeref.Project), compared case-insensitively as forges
// compare them; the first of the layers wins, as for names.
func (l *Layers) LookupProject(owner, project string) (*Flake, error) {
	if f := l.byProject[strings.ToLower(owner+"/"+project)]; f != nil {
		return f, nil
	}
	name := owner + "/" + project
	return nil, &NotFoundError{Name: name, Suggestions: closest(name, l.projects, 3)}
}

// LookupSource finds the flake that lives at a source (type and location;
// ref and rev are ignored). GitHub-style owners and repositories compare
// case-insensitively.
func (l *Layers) LookupSource(s *pb.FlakeRef) *Flake {
	k := keyOf(s)
	return l.bySource[k]
}

// LookupURL finds the version a download's URL publishes, for references
// that name one version of a tarball flake by its URL.
func (l *Layers) LookupURL(s *pb.FlakeRef) (Tree, bool) {
	t, ok := l.byURL[keyOf(locationOf(s))]
	return t, ok
}

// locationOf is where a download lives, without what pins it.
func locationOf(s *pb.FlakeRef) *pb.FlakeRef {
	return &pb.FlakeRef{Type: s.Type, Url: s.Url, Dir: s.Dir}
}

// maxSuggestLen is the longest name closest suggests for: a name longer
// than any flake's is no misspelling of one, and the edit distance costs
// the product of the lengths for every known name.
const maxSuggestLen = 64

// closest returns up to n names nearest to name: case-insensitive edit
// distance, with names that contain it or that it contains counting as
// near. Only distances up to max(2, len/3) count, so a name whose length
// differs by more is skipped unmeasured, and a measurement stops once a
// whole row of the table is over the bound: the work is at most
// len(name)² per known name, whatever the lengths.
func closest(name string, names []string, n int) []string {
	if len(name) > maxSuggestLen {
		return nil
	}
	type scored struct {
		name string
		d    int
	}
	q := strings.ToLower(name)
	bound := max(2, len(q)/3)
	var cands []scored
	for _, c := range names {
		lc := strings.ToLower(c)
		d, ok := 0, false
		if strings.Contains(lc, q) || strings.Contains(q, lc) {
			d, ok = min(editDistance(q, lc, 1), 1), true
		} else {
			d = editDistance(q, lc, bound)
			ok = d <= bound
		}
		if ok {
			cands = append(cands, scored{c, d})
		}
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].d != cands[j].d {
			return cands[i].d < cands[j].d
		}
		return cands[i].name < cands[j].name
	})
	var out []string
	for i := 0; i < len(cands) && i < n; i++ {
		out = append(out, cands[i].name)
	}
	return out
}

// editDistance is the Levenshtein distance of a and b when it is at most
// bound, and bound+1 when it is more.
func editDistance(a, b string, bound int) int {
	if len(a)-len(b) > bound || len(b)-len(a) > bound {
		return bound + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		least := i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			least = min(least, cur[j])
		}
		if least > bound {
			return bound + 1
		}
		prev, cur = cur, prev
	}
	return min(prev[len(b)], bound+1)
}
