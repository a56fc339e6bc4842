// Package registry reads and writes Nix flake registries (registry.json,
// version 2) and looks references up in them as Nix does
// (fetchers::lookupInRegistries), so that flakeresolve reads an indirect
// input (nixpkgs, flake:foo/ref) as the Nix of its users would, and so
// that an index's names can be handed to Nix as a registry.
//
// Nix's rules, which Lookup follows:
//   - registries are searched in precedence order (the command line's
//     --override-flake, then the user's, the system's, the global one:
//     here, the files in the order given), entries in file order, and the
//     first entry that matches wins;
//   - an entry's from matches a reference with the same attributes, or the
//     same once the reference's ref and rev are set aside ({id} matches
//     id, id/ref and id/rev); an exact entry matches only the same
//     attributes;
//   - the reference becomes the entry's to, unified with it: the
//     reference's ref and rev, where from names none, replace to's (a
//     forge takes one of them; a tarball or a path takes neither);
//   - lookup restarts from the first registry until no entry matches
//     (more than 100 rounds is a cycle); a subdirectory ("dir") of to wins
//     over the reference's.
package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Entry is one entry of a registry.
type Entry struct {
	From, To *pb.FlakeRef
	// Exact entries match only a reference equal to From.
	Exact bool
}

// Registry is one registry file's entries, in order.
type Registry struct {
	File    string
	Entries []Entry
}

type fileJSON struct {
	Flakes  []entryJSON `json:"flakes"`
	Version int         `json:"version"`
}

type entryJSON struct {
	Exact bool           `json:"exact,omitempty"`
	From  map[string]any `json:"from"`
	To    map[string]any `json:"to"`
}

// Read reads a registry file, refusing what Nix refuses: another version,
// or a from or to that is no flake reference.
func Read(path string) (*Registry, error) {
	data, err := boundedfile.Read(path, boundedfile.MaxRegistry)
	if err != nil {
		return nil, err
	}
	var f fileJSON
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if f.Version != 2 {
		return nil, fmt.Errorf("%s: flake registry version %d; expected 2", path, f.Version)
	}
	r := &Registry{File: path}
	for i, e := range f.Flakes {
		from, err := flakeref.FromAttrs(numbers(e.From))
		if err != nil {
			return nil, fmt.Errorf("%s: flakes[%d].from: %v", path, i, err)
		}
		to, err := flakeref.FromAttrs(numbers(e.To))
		if err != nil {
			return nil, fmt.Errorf("%s: flakes[%d].to: %v", path, i, err)
		}
		r.Entries = append(r.Entries, Entry{From: from, To: to, Exact: e.Exact})
	}
	return r, nil
}

// numbers turns JSON numbers into the int64 attributes hold.
func numbers(m map[string]any) map[string]any {
	out := maps.Clone(m)
	for k, v := range m {
		if n, ok := v.(json.Number); ok {
			if i, err := n.Int64(); err == nil {
				out[k] = i
			}
		}
	}
	return out
}

// Marshal writes the registry as Nix's Registry::write does: keys sorted,
// two-space indentation, exact only when set, no final newline.
func (r *Registry) Marshal() ([]byte, error) {
	f := fileJSON{Version: 2, Flakes: []entryJSON{}}
	for _, e := range r.Entries {
		f.Flakes = append(f.Flakes, entryJSON{Exact: e.Exact, From: flakeref.Attrs(e.From), To: flakeref.Attrs(e.To)})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// Chain is registries in precedence order, the first winning.
type Chain []*Registry

// String names the registries' files, in order.
func (c Chain) String() string {
	files := make([]string, len(c))
	for i, r := range c {
		files[i] = r.File
	}
	return strings.Join(files, ", ")
}

// Lookup resolves a reference through the registries as Nix does. ok is
// false when no entry matches it; err is a cycle, or a ref or rev that
// the entry's to cannot take.
func (c Chain) Lookup(ref *pb.FlakeRef) (resolved *pb.FlakeRef, ok bool, err error) {
	in := withoutDir(ref)
	dir := ref.Dir
	for round := 0; ; round++ {
		if round > 100 {
			return nil, false, fmt.Errorf("cycle detected in flake registry for '%s'", flakeref.String(ref))
		}
		e, file := c.match(in)
		if e == nil {
			break
		}
		ok = true
		if in, err = unify(e, in); err != nil {
			return nil, false, fmt.Errorf("%s: %v", file, err)
		}
		if e.To.Dir != "" {
			dir = e.To.Dir
		}
	}
	if !ok {
		return ref, false, nil
	}
	in.Dir = dir
	return in, true, nil
}

// match is the first entry that matches in, and its file.
func (c Chain) match(in *pb.FlakeRef) (*Entry, string) {
	bare := withoutDir(in)
	bare.Ref, bare.Rev = "", ""
	for _, r := range c {
		for i := range r.Entries {
			e := &r.Entries[i]
			from := withoutDir(e.From)
			if flakeref.Equal(from, withoutDir(in)) || !e.Exact && flakeref.Equal(from, bare) {
				return e, r.File
			}
		}
	}
	return nil, ""
}

// unify is e's to with in's ref and rev applied, where e's from names
// none (Input::applyOverrides).
func unify(e *Entry, in *pb.FlakeRef) (*pb.FlakeRef, error) {
	to := withoutDir(e.To)
	if e.Exact {
		return to, nil
	}
	ref, rev := in.Ref, in.Rev
	if e.From.Ref != "" {
		ref = ""
	}
	if e.From.Rev != "" {
		rev = ""
	}
	if ref == "" && rev == "" {
		return to, nil
	}
	t, _ := flakeref.LookupType(to.Type)
	switch {
	case t == nil || t.Kind == flakeref.KindDownload || t.Kind == flakeref.KindPath:
		return nil, fmt.Errorf("'%s' cannot take the ref or rev of '%s'", flakeref.String(e.To), flakeref.String(in))
	case t.Kind == flakeref.KindForge && ref != "" && rev != "":
		return nil, fmt.Errorf("cannot apply both a commit hash (%s) and a branch/tag name ('%s') to '%s'", rev, ref, flakeref.String(e.To))
	case t.Kind == flakeref.KindForge:
		// A forge reference names a ref or a rev, never both: the one
		// applied replaces the other.
		to.Ref, to.Rev = ref, rev
	default:
		if ref != "" {
			to.Ref = ref
		}
		if rev != "" {
			to.Rev = rev
		}
	}
	return to, nil
}

func withoutDir(r *pb.FlakeRef) *pb.FlakeRef {
	c := proto.Clone(r).(*pb.FlakeRef)
	c.Dir = ""
	return c
}
