package flakeref

import (
	"fmt"
	"slices"
	"strconv"
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
	// Since is the first Nix release that fetches the type: 2.8, the
	// oldest this project writes locks for, but for file, which later Nix
	// writes into lock files and Nix 2.8 reads but cannot fetch ("cannot
	// fetch unsupported input").
	Since NixVersion
	// Later are attributes beyond Pin that a locked set may carry for the
	// Nix releases that read them: the lockable tarball protocol's rev,
	// revCount and lastModified, which Nix 2.8 refuses on a tarball.
	Later []LaterAttr
	// Archive is, for a forge, the URL of the tarball of a rev that Nix's
	// own fetcher downloads ({host}, {owner}, {repo}, {rev}), with Host
	// the forge's host when the reference names none: the same bytes,
	// unpacked the same way, so the tarball's narHash is the forge pin's.
	Archive, Host string
}

// LaterAttr is a locked attribute that Nix reads from some release on, in
// each release line it reached: Nix backported the lockable tarball
// protocol to 2.13, 2.15 and 2.16 at different patch releases, and left
// 2.14 without it.
type LaterAttr struct {
	Name string
	// From are the first release of each line that reads it, ascending;
	// every release after the last one reads it.
	From []NixVersion
}

// ReadFrom is the oldest release from which every later release reads the
// attribute: what a lock for "this Nix and later" may rely on.
func (a LaterAttr) ReadFrom() NixVersion {
	start := len(a.From) - 1
	// Walk back while each release line starts reading it at its first
	// release, right after the line before.
	for start > 0 {
		prev, next := a.From[start-1], a.From[start]
		if next.Patch != 0 || next.Major != prev.Major || next.Minor != prev.Minor+1 {
			break
		}
		start--
	}
	return a.From[start]
}

// tarballLater are the attributes of the lockable tarball protocol, with
// the releases whose tarball fetcher accepts each (its allowed attribute
// set, read release by release in Nix's history).
var tarballLater = []LaterAttr{
	{Name: "rev", From: []NixVersion{{2, 13, 5}, {2, 15, 2}, {2, 16, 2}, {2, 17, 0}}},
	{Name: "revCount", From: []NixVersion{{2, 13, 5}, {2, 15, 2}, {2, 16, 2}, {2, 17, 0}}},
	{Name: "lastModified", From: []NixVersion{{2, 13, 6}, {2, 15, 3}, {2, 16, 2}, {2, 17, 1}}},
}

// LockAttrs are the attributes, beyond the location, that a locked set
// of the type may carry for every Nix from nix on: its pin, and those of
// Later that all of them read.
func (t *Type) LockAttrs(nix NixVersion) []string {
	attrs := slices.Clone(t.Pin)
	for _, a := range t.Later {
		if !nix.Less(a.ReadFrom()) {
			attrs = append(attrs, a.Name)
		}
	}
	return attrs
}

// Fetched says whether every Nix from nix on fetches the type.
func (t *Type) Fetched(nix NixVersion) bool { return !nix.Less(t.Since) }

// NixVersion is a release of Nix.
type NixVersion struct{ Major, Minor, Patch int }

// MinNix is the oldest Nix this project writes lock files for, and the
// default reader of those it writes.
var MinNix = NixVersion{2, 8, 0}

// NixEvery is the oldest Nix that reads every attribute the table knows.
var NixEvery = func() NixVersion {
	v := MinNix
	for _, t := range Types {
		for _, a := range t.Later {
			if v.Less(a.ReadFrom()) {
				v = a.ReadFrom()
			}
		}
	}
	return v
}()

// ParseNixVersion reads MAJOR.MINOR[.PATCH] ("2.8", "2.26.3").
func ParseNixVersion(s string) (NixVersion, error) {
	parts := strings.Split(s, ".")
	var n []int
	for _, p := range parts {
		i, err := strconv.Atoi(p)
		if err != nil || i < 0 || p != strconv.Itoa(i) {
			n = nil
			break
		}
		n = append(n, i)
	}
	if len(n) < 2 || len(n) > 3 {
		return NixVersion{}, fmt.Errorf("Nix version %q: expected MAJOR.MINOR or MAJOR.MINOR.PATCH, such as 2.8 or 2.18.1", s)
	}
	v := NixVersion{Major: n[0], Minor: n[1]}
	if len(n) == 3 {
		v.Patch = n[2]
	}
	if v.Less(MinNix) {
		return NixVersion{}, fmt.Errorf("Nix version %s: lock files are written for Nix %s and later", s, MinNix)
	}
	return v, nil
}

func (v NixVersion) String() string {
	if v.Patch == 0 {
		return fmt.Sprintf("%d.%d", v.Major, v.Minor)
	}
	return fmt.Sprintf("%d.%d.%d", v.Major, v.Minor, v.Patch)
}

// Less orders releases.
func (v NixVersion) Less(w NixVersion) bool {
	if v.Major != w.Major {
		return v.Major < w.Major
	}
	if v.Minor != w.Minor {
		return v.Minor < w.Minor
	}
	return v.Patch < w.Patch
}

var forgeAttrs = []string{"owner", "repo", "ref", "rev", "narHash", "lastModified", "host"}

// Types is every type of flake reference flakeresolve knows, in Nix's
// spelling. Attrs are Nix 2.8's inputFromAttrs lists; Pin are what its
// fetchers record when they lock.
var Types = []Type{
	{Name: "github", Kind: KindForge, Schemes: []string{"github"}, Location: []string{"owner", "repo"}, OptionalLocation: []string{"host"},
		Attrs: forgeAttrs, Pin: []string{"rev", "lastModified", "narHash"}, Since: MinNix,
		// What Nix 2.26 downloads from github.com when it has no token;
		// Nix 2.8 asks api.github.com for the same archive.
		Archive: "https://{host}/{owner}/{repo}/archive/{rev}.tar.gz", Host: "github.com"},
	{Name: "gitlab", Kind: KindForge, Schemes: []string{"gitlab"}, Location: []string{"owner", "repo"}, OptionalLocation: []string{"host"},
		Attrs: forgeAttrs, Pin: []string{"rev", "lastModified", "narHash"}, Since: MinNix},
	{Name: "sourcehut", Kind: KindForge, Schemes: []string{"sourcehut"}, Location: []string{"owner", "repo"}, OptionalLocation: []string{"host"},
		Attrs: forgeAttrs, Pin: []string{"rev", "lastModified", "narHash"}, Since: MinNix,
		Archive: "https://{host}/{owner}/{repo}/archive/{rev}.tar.gz", Host: "git.sr.ht"},
	{Name: "indirect", Kind: KindRegistry, Schemes: []string{"flake"}, Location: []string{"id"},
		Attrs: []string{"id", "ref", "rev", "narHash"}, Noun: "indirect", Since: MinNix},
	{Name: "git", Kind: KindRepository, Schemes: []string{"git+http", "git+https", "git+ssh", "git+file"}, Location: []string{"url"},
		Attrs: []string{"url", "ref", "rev", "shallow", "submodules", "lastModified", "revCount", "narHash", "allRefs", "name"},
		Pin:   []string{"ref", "rev", "revCount", "lastModified", "narHash"}, Declared: []string{"submodules", "shallow"}, Noun: "Git", Since: MinNix},
	{Name: "hg", Kind: KindRepository, Schemes: []string{"hg+http", "hg+https", "hg+ssh", "hg+file"}, Location: []string{"url"},
		Attrs: []string{"url", "ref", "rev", "revCount", "narHash", "name"},
		Pin:   []string{"ref", "rev", "revCount", "narHash"}, Noun: "Mercurial", Since: MinNix},
	{Name: "tarball", Kind: KindDownload, Schemes: []string{"http", "https", "file"}, Location: []string{"url"},
		Attrs: []string{"url", "narHash", "name"}, Pin: []string{"narHash"}, Noun: "tarball", Since: MinNix,
		Later: tarballLater},
	{Name: "file", Kind: KindDownload, Location: []string{"url"},
		Attrs: []string{"url", "narHash", "name"}, Pin: []string{"narHash"}, Noun: "file", Since: NixVersion{2, 9, 0}},
	{Name: "path", Kind: KindPath, Schemes: []string{"path"}, Location: []string{"path"},
		Attrs: []string{"path", "rev", "revCount", "lastModified", "narHash"}, Pin: []string{"narHash"}, Noun: "path", Since: MinNix},
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
