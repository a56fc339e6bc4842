package flakeref

import (
	"fmt"
	"slices"
	"strings"

	"github.com/nix-community/go-nix/pkg/nixhash"
)

// Kind is how a type of reference names its tree, which decides how its URL
// form is read and written.
type Kind int

const (
	// KindForge: a repository by owner and repo on a forge
	// (github:OWNER/REPO[/REF-OR-REV]).
	KindForge Kind = iota
	// KindRegistry: an id that a flake registry resolves (nixpkgs,
	// flake:nixpkgs/REF).
	KindRegistry
	// KindRepository: a version-control repository at a URL, written
	// TYPE+URL (git+https://..., hg+ssh://...).
	KindRepository
	// KindDownload: a file or archive at a URL.
	KindDownload
	// KindPath: a directory of the local file system.
	KindPath
)

// Type is one type of flake reference, as Nix spells and treats it. Types
// is the one table of them: the URL parser, the attribute form, the
// index's validation and the lock writer all read it, so that a type is
// spelled one way ("hg", as Nix writes it) and means one thing everywhere.
type Type struct {
	// Name is the "type" attribute, as Nix spells it.
	Name string
	Kind Kind
	// Schemes are the URL schemes Nix 2.8 reads as this type.
	Schemes []string
	// Location are the attributes that say where the tree lives; the
	// attribute form requires each of them.
	Location []string
	// OptionalLocation are location attributes a reference may leave
	// out (a forge's host, github.com by default).
	OptionalLocation []string
	// Attrs are the attributes Nix 2.8's attribute form accepts besides
	// "type" and "dir" (its inputFromAttrs); any other is an error.
	Attrs []string
	// Pin are the attributes, besides the location, that Nix 2.8
	// records in a lock file's "locked" set, each one verified against
	// the fetched tree: what the lock writer must supply. Empty for
	// registry ids, which are resolved, never locked.
	Pin []string
	// Declared are attributes of the declaration that "locked" repeats
	// (git's submodules and shallow); every type also repeats "dir".
	Declared []string
	// Noun names the type in Nix's "unsupported ... input attribute"
	// errors; empty where Nix names none.
	Noun string
	// Nix28 is false for a type that later Nix writes into lock files
	// and Nix 2.8 reads but cannot fetch ("cannot fetch unsupported
	// input").
	Nix28 bool
}

var forgeAttrs = []string{"owner", "repo", "ref", "rev", "narHash", "lastModified", "host"}

// Types is every type of flake reference flakeresolve knows, in Nix's
// spelling. Attrs are Nix 2.8's inputFromAttrs lists; Pin are what its
// fetchers record when they lock.
var Types = []Type{
	{Name: "github", Kind: KindForge, Schemes: []string{"github"}, Location: []string{"owner", "repo"}, OptionalLocation: []string{"host"},
		Attrs: forgeAttrs, Pin: []string{"rev", "lastModified", "narHash"}, Nix28: true},
	{Name: "gitlab", Kind: KindForge, Schemes: []string{"gitlab"}, Location: []string{"owner", "repo"}, OptionalLocation: []string{"host"},
		Attrs: forgeAttrs, Pin: []string{"rev", "lastModified", "narHash"}, Nix28: true},
	{Name: "sourcehut", Kind: KindForge, Schemes: []string{"sourcehut"}, Location: []string{"owner", "repo"}, OptionalLocation: []string{"host"},
		Attrs: forgeAttrs, Pin: []string{"rev", "lastModified", "narHash"}, Nix28: true},
	{Name: "indirect", Kind: KindRegistry, Schemes: []string{"flake"}, Location: []string{"id"},
		Attrs: []string{"id", "ref", "rev", "narHash"}, Noun: "indirect", Nix28: true},
	{Name: "git", Kind: KindRepository, Schemes: []string{"git+http", "git+https", "git+ssh", "git+file"}, Location: []string{"url"},
		Attrs: []string{"url", "ref", "rev", "shallow", "submodules", "lastModified", "revCount", "narHash", "allRefs", "name"},
		Pin:   []string{"ref", "rev", "revCount", "lastModified", "narHash"}, Declared: []string{"submodules", "shallow"}, Noun: "Git", Nix28: true},
	{Name: "hg", Kind: KindRepository, Schemes: []string{"hg+http", "hg+https", "hg+ssh", "hg+file"}, Location: []string{"url"},
		Attrs: []string{"url", "ref", "rev", "revCount", "narHash", "name"},
		Pin:   []string{"ref", "rev", "revCount", "narHash"}, Noun: "Mercurial", Nix28: true},
	{Name: "tarball", Kind: KindDownload, Schemes: []string{"http", "https", "file"}, Location: []string{"url"},
		Attrs: []string{"url", "narHash", "name"}, Pin: []string{"narHash"}, Noun: "tarball", Nix28: true},
	{Name: "file", Kind: KindDownload, Location: []string{"url"},
		Attrs: []string{"url", "narHash", "name"}, Pin: []string{"narHash"}, Noun: "file"},
	{Name: "path", Kind: KindPath, Schemes: []string{"path"}, Location: []string{"path"},
		Attrs: []string{"path", "rev", "revCount", "lastModified", "narHash"}, Pin: []string{"narHash"}, Noun: "path", Nix28: true},
}

// LookupType returns the type Nix spells name; ok is false for a type Nix
// does not know.
func LookupType(name string) (t *Type, ok bool) {
	for i := range Types {
		if Types[i].Name == name {
			return &Types[i], true
		}
	}
	return nil, false
}

// TypeNames lists the types, for messages that say what was expected.
func TypeNames() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = t.Name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func typeOfScheme(scheme string) (*Type, bool) {
	for i := range Types {
		if slices.Contains(Types[i].Schemes, scheme) {
			return &Types[i], true
		}
	}
	return nil, false
}

// unsupportedAttr is Nix's complaint about an attribute the type does not
// take.
func (t *Type) unsupportedAttr(attr string) error {
	if t.Noun == "" {
		return fmt.Errorf("unsupported input attribute '%s'", attr)
	}
	return fmt.Errorf("unsupported %s input attribute '%s'", t.Noun, attr)
}

// ParseSRI reads a hash in SRI form (sha256-BASE64) as Nix's
// Hash::parseSRI does, with its messages: a known algorithm, then the
// base64 of a digest of that algorithm's size.
func ParseSRI(s string) (*nixhash.Hash, error) {
	algo, digest, ok := strings.Cut(s, "-")
	if !ok {
		return nil, fmt.Errorf("hash '%s' is not SRI", s)
	}
	if _, err := nixhash.ParseAlgorithm(algo); err != nil {
		return nil, fmt.Errorf("unknown hash algorithm '%s'", algo)
	}
	h, err := nixhash.ParseAny(s, nil)
	if err != nil {
		return nil, fmt.Errorf("invalid SRI hash '%s'", digest)
	}
	return &h.Hash, nil
}

// ParseNarHash reads a narHash: SRI, and SHA-256, as Nix's getNarHash
// demands.
func ParseNarHash(s string) (*nixhash.Hash, error) {
	h, err := ParseSRI(s)
	if err != nil {
		return nil, err
	}
	if h.Algo() != nixhash.SHA256 {
		return nil, fmt.Errorf("narHash must use SHA-256")
	}
	return h, nil
}
