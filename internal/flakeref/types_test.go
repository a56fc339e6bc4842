package flakeref_test

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// sampleURL is a reference of each URL scheme, to parse.
func sampleURL(scheme string) string {
	switch {
	case scheme == "github" || scheme == "gitlab":
		return scheme + ":o/r?dir=sub"
	case scheme == "sourcehut":
		return "sourcehut:~o/r?dir=sub"
	case scheme == "flake":
		return "flake:r?dir=sub"
	case scheme == "path":
		return "path:/srv/r"
	case strings.HasSuffix(scheme, "+file"):
		return scheme + ":///srv/r?dir=sub&submodules=1"
	case strings.Contains(scheme, "+"):
		return scheme + "://example.org/r?dir=sub"
	case scheme == "file":
		return "file:///srv/r.tar.gz?dir=sub"
	}
	return scheme + "://example.org/r.tar.gz?dir=sub"
}

// pinValues are attributes that pin a tree, by name.
var pinValues = map[string]any{
	"ref": "main", "rev": "31732fcf5e8fea42e59c2488ad31a0e651500f68", "revCount": int64(7),
	"lastModified": int64(1714521600), "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=",
}

// TestTypesRoundTrip takes a reference of every scheme of every type
// through the table's three readers: parse, attribute form and back,
// an index that pins it (validated), the lock writer's locked set, and a
// lock file that Parse reads back.
func TestTypesRoundTrip(t *testing.T) {
	seen := map[string]bool{}
	for _, typ := range flakeref.Types {
		var decls []*pb.FlakeRef
		for _, scheme := range typ.Schemes {
			s, err := flakeref.Parse(sampleURL(scheme))
			if err != nil {
				t.Fatalf("%s: %v", sampleURL(scheme), err)
			}
			if s.Type != typ.Name {
				t.Errorf("%s parses as type %q, the table says %q", sampleURL(scheme), s.Type, typ.Name)
			}
			decls = append(decls, s)
		}
		if len(typ.Schemes) == 0 {
			// Only later Nix writes these, in lock files.
			decls = append(decls, &pb.FlakeRef{Type: typ.Name, Url: "https://example.org/r"})
		}
		for _, decl := range decls {
			seen[decl.Type] = true
			roundTrip(t, &typ, decl)
		}
	}
	for _, typ := range flakeref.Types {
		if !seen[typ.Name] {
			t.Errorf("type %s was never exercised", typ.Name)
		}
	}
}

func roundTrip(t *testing.T, typ *flakeref.Type, decl *pb.FlakeRef) {
	t.Helper()
	label := flakeref.String(decl)
	var attrs map[string]any
	b, _ := json.Marshal(flakeref.Attrs(decl))
	if err := json.Unmarshal(b, &attrs); err != nil {
		t.Fatal(err)
	}
	back, err := flakeref.FromAttrs(attrs)
	if err != nil || !flakeref.Equal(back, decl) {
		t.Errorf("%s: attribute form %s reads back as %v (%v)", label, b, back, err)
	}

	// An index pins the tree: the location from the flake's source, the
	// pin from the table.
	source := &pb.FlakeRef{Type: decl.Type}
	for _, a := range slices.Concat(typ.Location, typ.OptionalLocation) {
		if v, ok := flakeref.Attrs(decl)[a]; ok {
			mustSet(t, source, a, v)
		}
	}
	pin := &pb.FlakeRef{}
	for _, a := range typ.Pin {
		mustSet(t, pin, a, pinValues[a])
	}
	m := &pb.Index{Schema: index.Schema, Flakes: []*pb.Flake{{Name: "r", Source: flakeref.Location(source), Versions: []*pb.Version{{Version: "1.0.0", Locked: pin}}}}}
	probs := index.Validate(m)
	if len(typ.Pin) == 0 {
		if len(probs) != 1 || !strings.Contains(probs[0].Msg, "cannot be locked") {
			t.Errorf("%s: an index that pins it: %v, want only that it cannot be locked", label, probs)
		}
		return
	}
	if len(probs) > 0 {
		t.Errorf("%s: an index pinning it with the table's attributes is invalid: %v", label, probs)
	}

	tree, err := flakeref.SourceOf(flakeref.Attrs(source))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range typ.Pin {
		mustSet(t, tree, a, pinValues[a])
	}
	locked, err := lockfile.LockedFor(decl, tree, "", flakeref.MinNix)
	if !typ.Fetched(flakeref.MinNix) {
		if err == nil || !strings.Contains(err.Error(), "cannot be locked for Nix 2.8") {
			t.Errorf("%s: LockedFor = %v, %v; want refused, Nix 2.8 cannot fetch it", label, locked, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", label, err)
	}
	want := slices.Concat([]string{"type"}, typ.Location, typ.Pin)
	for _, a := range slices.Concat(typ.OptionalLocation, typ.Declared, []string{"dir"}) {
		if flakeref.Has(decl, a) {
			want = append(want, a)
		}
	}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(flakeref.Attrs(locked))); !slices.Equal(got, want) {
		t.Errorf("%s: locked attributes %v, want %v", label, got, want)
	}

	// The lock file Nix would be given reads back to the same node.
	root := &lockfile.Node{Inputs: map[string]*lockfile.Edge{"r": {Node: &lockfile.Node{Original: decl, Locked: locked}}}}
	data, err := lockfile.Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	read, err := lockfile.Parse("flake.lock", data)
	if err != nil {
		t.Fatalf("%s: the lock written does not read back: %v\n%s", label, err, data)
	}
	if n := read.Inputs["r"].Node; !flakeref.Equal(n.Locked, locked) || !flakeref.Equal(n.Original, decl) {
		t.Errorf("%s: lock node reads back as %v / %v", label, n.Original, n.Locked)
	}
}

func mustSet(t *testing.T, s *pb.FlakeRef, attr string, v any) {
	t.Helper()
	attrs := flakeref.Attrs(s)
	attrs[attr] = v
	n, err := flakeref.SourceOf(attrs)
	if err != nil {
		t.Fatal(err)
	}
	proto.Reset(s)
	proto.Merge(s, n)
}

// TestTypeNounsMatchNix: the attribute form rejects what Nix 2.8 rejects,
// in its words, type by type.
func TestTypeNounsMatchNix(t *testing.T) {
	nixtest.Need(t, "nix")
	for _, typ := range flakeref.Types {
		if !typ.Fetched(flakeref.MinNix) {
			continue
		}
		attrs := map[string]any{"type": typ.Name, "zzz": "x"}
		for _, a := range typ.Location {
			attrs[a] = map[string]string{"url": "https://example.org/r", "path": "/srv/r", "id": "r"}[a]
			if attrs[a] == "" {
				attrs[a] = "r"
			}
		}
		var expr strings.Builder
		expr.WriteString("builtins.fetchTree {")
		for _, k := range slices.Sorted(maps.Keys(attrs)) {
			expr.WriteString(" " + k + " = \"" + attrs[k].(string) + "\";")
		}
		expr.WriteString(" }")
		_, stderr, err := nixtest.Nix(t, "", "eval", "--impure", "--offline", "--expr", expr.String())
		if err == nil {
			t.Fatalf("%s: Nix accepted the attribute zzz", typ.Name)
		}
		_, ours := flakeref.FromAttrs(attrs)
		if ours == nil || !strings.Contains(stderr, "error: "+ours.Error()) {
			t.Errorf("%s: we say %v; Nix says %s", typ.Name, ours, strings.TrimSpace(stderr))
		}
	}
}

// TestLocationFieldsAreReferenceFields checks what AtLocation and Location
// rely on: every field of a location is the reference's field of the same
// name, number and kind, so a location read as a reference is the same
// reference and no attribute is lost between them.
func TestLocationFieldsAreReferenceFields(t *testing.T) {
	loc := (&pb.FlakeLocation{}).ProtoReflect().Descriptor().Fields()
	ref := (&pb.FlakeRef{}).ProtoReflect().Descriptor().Fields()
	for i := range loc.Len() {
		l := loc.Get(i)
		r := ref.ByName(l.Name())
		if r == nil || r.Number() != l.Number() || r.Kind() != l.Kind() || r.HasPresence() != l.HasPresence() || r.JSONName() != l.JSONName() {
			t.Errorf("FlakeLocation.%s (%d, %v) has no twin in FlakeRef (%v)", l.Name(), l.Number(), l.Kind(), r)
		}
	}
	in := &pb.FlakeRef{Type: "git", Url: "https://example.org/x", Dir: "sub", Ref: "main", Rev: "31732fcf5e8fea42e59c2488ad31a0e651500f68", NarHash: "sha256-x", Submodules: proto.Bool(true)}
	got := flakeref.AtLocation(flakeref.Location(in))
	want := &pb.FlakeRef{Type: "git", Url: "https://example.org/x", Dir: "sub", Submodules: proto.Bool(true)}
	if !proto.Equal(got, want) {
		t.Errorf("AtLocation(Location(%v)) = %v, want %v", in, got, want)
	}
}
