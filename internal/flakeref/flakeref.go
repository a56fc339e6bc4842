// Package flakeref converts flake references between Nix's URL form
// ("github:NixOS/nixpkgs/nixos-24.05") and its attribute form (the
// {type, owner, repo, ref, ...} sets of flake.lock), which is what indexes
// and lock files store.
//
// It reproduces the parser of Nix 2.8, quirks included, because a lock file
// is only accepted when its "original" attribute sets equal Nix's own parse
// of the flake.nix inputs, attribute for attribute: query parameters are
// decoded and re-encoded in sorted order with lowercase %xx escapes, a git
// URL keeps every parameter Nix does not consume (even "dir"), GitHub-style
// references silently drop unknown parameters, and a ref with "+" is
// accepted for git but not for GitHub. Errors use Nix's own wording so that
// a user sees the same complaint from either tool. The table tests run
// `nix registry add`, which parses references and writes their attribute
// form, as the oracle.
package flakeref

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// The regular expressions of Nix 2.8's url-parts.hh and fetchers.
var (
	revRE    = regexp.MustCompile(`^[0-9a-fA-F]{40}$`)
	refRE    = regexp.MustCompile(`^[a-zA-Z0-9@][a-zA-Z0-9_.\/@-]*$`)
	badGitRE = regexp.MustCompile(`//|^[./]|/\.|\.\.|[[:cntrl:][:space:]:?^~\[]|\\|\*|\.lock$|\.lock/|@\{|[/.]$|^@$|^$`)
	idRE     = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)
	hostRE   = regexp.MustCompile(`^[a-zA-Z0-9.]*$`)
	schemeRE = regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`)
	// A registry id with an optional ref and/or rev, no query: Nix tries
	// this before anything else, so "nixpkgs/nixos-24.05" is indirect.
	indirectRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*(?:/(?:[0-9a-fA-F]{40}|[a-zA-Z0-9@][a-zA-Z0-9_.\/@-]*(?:/[0-9a-fA-F]{40})?))?$`)
)

var tarballSuffixes = []string{".zip", ".tar", ".tgz", ".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst"}

// parsedURL is Nix's ParsedURL: the authority is optional (absent differs
// from empty: "file:/x" versus "file:///x"), and the query is a map in
// which the first of repeated keys wins.
type parsedURL struct {
	scheme    string
	authority *string
	path      string
	query     map[string]string
}

func (u *parsedURL) String() string {
	s := u.scheme + ":"
	if u.authority != nil {
		s += "//" + *u.authority
	}
	s += u.path
	if len(u.query) > 0 {
		s += "?" + encodeQuery(u.query)
	}
	return s
}

func parseURL(ref string) (*parsedURL, string, error) {
	rest, fragment, _ := strings.Cut(ref, "#")
	rest, query, _ := strings.Cut(rest, "?")
	scheme, rest, ok := strings.Cut(rest, ":")
	if !ok || !schemeRE.MatchString(scheme) {
		return nil, "", fmt.Errorf("'%s' is not a valid URL", ref)
	}
	u := &parsedURL{scheme: scheme, path: rest, query: decodeQuery(query)}
	if after, ok := strings.CutPrefix(rest, "//"); ok {
		auth, path, _ := strings.Cut(after, "/")
		if strings.Contains(after, "/") {
			path = "/" + path
		}
		u.authority, u.path = &auth, path
	}
	return u, percentDecode(fragment), nil
}

func decodeQuery(q string) map[string]string {
	m := map[string]string{}
	for _, kv := range strings.Split(q, "&") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k = percentDecode(k)
		if _, dup := m[k]; !dup {
			m[k] = percentDecode(v)
		}
	}
	return m
}

func encodeQuery(q map[string]string) string {
	keys := slices.Sorted(maps.Keys(q))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = percentEncode(k) + "=" + percentEncode(q[k])
	}
	return strings.Join(parts, "&")
}

func percentDecode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && i+2 < len(s) && isHex(s[i+1]) && isHex(s[i+2]) {
			n, _ := strconv.ParseUint(s[i+1:i+3], 16, 8)
			b.WriteByte(byte(n))
			i += 2
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// percentEncode is Nix's, including its sign extension: Nix formats a
// (signed) char, so a byte above 0x7f becomes "%ffffffc3", not "%c3".
func percentEncode(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte("-._~!$&'()*+,;=:@", c) >= 0:
			b.WriteByte(c)
		case c >= 0x80:
			fmt.Fprintf(&b, "%%ffffff%02x", c)
		default:
			fmt.Fprintf(&b, "%%%02x", c)
		}
	}
	return b.String()
}

// Parse reads a flake reference in URL form, as Nix reads a flake.nix
// input's url.
func Parse(ref string) (*pb.FlakeRef, error) {
	body, fragment, _ := strings.Cut(ref, "#")
	if !strings.HasPrefix(ref, "flake:") && indirectRE.MatchString(body) {
		if fragment != "" {
			return nil, fmt.Errorf("unexpected fragment '%s' in flake reference '%s'", fragment, ref)
		}
		return parseFlakeScheme(ref, &parsedURL{scheme: "flake", path: body})
	}
	if !strings.Contains(ref, ":") {
		// Nix takes anything else without a scheme for a path.
		p, q, _ := strings.Cut(ref, "?")
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("flake reference '%s' is not an absolute path", ref)
		}
		return parseParsed(ref, &parsedURL{scheme: "path", path: p, query: decodeQuery(q)})
	}
	u, fragment, err := parseURL(ref)
	if err != nil {
		return nil, err
	}
	if fragment != "" {
		return nil, fmt.Errorf("unexpected fragment '%s' in flake reference '%s'", fragment, ref)
	}
	return parseParsed(ref, u)
}

func parseParsed(ref string, u *parsedURL) (*pb.FlakeRef, error) {
	t, ok := typeOfScheme(u.scheme)
	if !ok {
		return nil, fmt.Errorf("input '%s' is unsupported", ref)
	}
	var s *pb.FlakeRef
	var err error
	switch t.Kind {
	case KindForge:
		s, err = parseForge(ref, u)
	case KindRegistry:
		s, err = parseFlakeScheme(ref, u)
	case KindPath:
		s, err = parsePath(ref, u)
	case KindRepository:
		s, err = parseRepo(ref, u)
	case KindDownload:
		s, err = parseTarball(ref, u)
	}
	if err != nil {
		return nil, err
	}
	if t.Kind != KindPath {
		s.Dir = u.query["dir"]
	}
	return s, nil
}

func pathSegments(p string) []string {
	var out []string
	for _, seg := range strings.Split(p, "/") {
		if seg != "" {
			out = append(out, seg)
		}
	}
	return out
}

func parseForge(ref string, u *parsedURL) (*pb.FlakeRef, error) {
	parts := pathSegments(u.path)
	if u.authority != nil || len(parts) < 2 {
		return nil, fmt.Errorf("URL '%s' is invalid", ref)
	}
	s := &pb.FlakeRef{Type: u.scheme, Owner: parts[0], Repo: parts[1]}
	if len(parts) > 2 {
		rest := strings.Join(parts[2:], "/")
		switch {
		case len(parts) == 3 && revRE.MatchString(rest):
			s.Rev = strings.ToLower(rest)
		case refRE.MatchString(rest):
			s.Ref = rest
		default:
			return nil, fmt.Errorf("in URL '%s', '%s' is not a commit hash or branch/tag name", ref, rest)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(u.query)) {
		v := u.query[k]
		switch k {
		case "host":
			if !hostRE.MatchString(v) {
				return nil, fmt.Errorf("URL '%s' contains an invalid instance host", ref)
			}
			s.Host = v
		case "ref":
			if !refRE.MatchString(v) {
				return nil, fmt.Errorf("URL '%s' contains an invalid branch/tag name", ref)
			}
			if s.Ref != "" {
				return nil, fmt.Errorf("URL '%s' contains multiple branch/tag names", ref)
			}
			s.Ref = v
		case "rev":
			if s.Rev != "" {
				return nil, fmt.Errorf("URL '%s' contains multiple commit hashes", ref)
			}
			rev, err := parseRev(v)
			if err != nil {
				return nil, err
			}
			s.Rev = rev
		}
	}
	if s.Ref != "" && s.Rev != "" {
		return nil, fmt.Errorf("URL '%s' contains both a commit hash and a branch/tag name %s %s", ref, s.Ref, s.Rev)
	}
	return s, nil
}

func parseRev(v string) (string, error) {
	if !revRE.MatchString(v) {
		return "", fmt.Errorf("hash '%s' has wrong length for hash type 'sha1'", v)
	}
	return strings.ToLower(v), nil
}

func parseFlakeScheme(ref string, u *parsedURL) (*pb.FlakeRef, error) {
	parts := strings.Split(u.path, "/")
	s := &pb.FlakeRef{Type: "indirect", Id: parts[0]}
	switch len(parts) {
	case 1:
	case 2:
		switch {
		case revRE.MatchString(parts[1]):
			s.Rev = strings.ToLower(parts[1])
		case refRE.MatchString(parts[1]):
			s.Ref = parts[1]
		default:
			return nil, fmt.Errorf("in flake URL '%s', '%s' is not a commit hash or branch/tag name", ref, parts[1])
		}
	case 3:
		if !refRE.MatchString(parts[1]) {
			return nil, fmt.Errorf("in flake URL '%s', '%s' is not a branch/tag name", ref, parts[1])
		}
		if !revRE.MatchString(parts[2]) {
			return nil, fmt.Errorf("in flake URL '%s', '%s' is not a commit hash", ref, parts[2])
		}
		s.Ref, s.Rev = parts[1], strings.ToLower(parts[2])
	default:
		// Nix's message, copied from its GitHub parser.
		return nil, fmt.Errorf("GitHub URL '%s' is invalid", ref)
	}
	if !idRE.MatchString(s.Id) {
		return nil, fmt.Errorf("'%s' is not a valid flake ID", s.Id)
	}
	return s, nil
}

func parsePath(ref string, u *parsedURL) (*pb.FlakeRef, error) {
	s := &pb.FlakeRef{Type: "path", Path: u.path}
	for _, k := range slices.Sorted(maps.Keys(u.query)) {
		v := u.query[k]
		switch k {
		case "rev":
			s.Rev = v
		case "narHash":
			if _, err := ParseNarHash(v); err != nil {
				return nil, err
			}
			s.NarHash = v
		case "revCount", "lastModified":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("path URL '%s' has invalid parameter '%s'", ref, k)
			}
			if k == "revCount" {
				s.RevCount = n
			} else {
				s.LastModified = n
			}
		default:
			return nil, fmt.Errorf("path URL '%s' has unsupported parameter '%s'", ref, k)
		}
	}
	return s, nil
}

// parseRepo reads git+ and hg+ URLs: Nix consumes ref, rev, submodules and
// shallow and leaves every other parameter in the URL.
func parseRepo(ref string, u *parsedURL) (*pb.FlakeRef, error) {
	typ, scheme, _ := strings.Cut(u.scheme, "+")
	s := &pb.FlakeRef{Type: typ}
	rest := &parsedURL{scheme: scheme, authority: u.authority, path: u.path, query: map[string]string{}}
	for _, k := range slices.Sorted(maps.Keys(u.query)) {
		v := u.query[k]
		switch {
		case k == "rev":
			var err error
			if s.Rev, err = parseRev(v); err != nil {
				return nil, err
			}
		case k == "ref":
			if typ == "git" && badGitRE.MatchString(v) {
				return nil, fmt.Errorf("invalid Git branch/tag name '%s'", v)
			}
			s.Ref = v
		case typ == "git" && (k == "submodules" || k == "shallow"):
			b := v == "1"
			if k == "submodules" {
				s.Submodules = &b
			} else {
				s.Shallow = &b
			}
		default:
			rest.query[k] = v
		}
	}
	s.Url = rest.String()
	return s, nil
}

func parseTarball(ref string, u *parsedURL) (*pb.FlakeRef, error) {
	if !hasTarballSuffix(u.path) {
		return nil, fmt.Errorf("input '%s' is unsupported", ref)
	}
	s := &pb.FlakeRef{Type: "tarball", Url: u.String()}
	if h, ok := u.query["narHash"]; ok {
		if _, err := ParseNarHash(h); err != nil {
			return nil, err
		}
		s.NarHash = h
	}
	return s, nil
}

func hasTarballSuffix(p string) bool {
	for _, s := range tarballSuffixes {
		if strings.HasSuffix(p, s) {
			return true
		}
	}
	return false
}

// FromAttrs reads a flake reference in attribute form as Nix 2.8 does: a
// flake.nix input written as {type = "github"; owner = ...;}, or a lock
// file's original or locked set. Values are strings, bools or integers
// (int64 or float64, as JSON decodes them).
func FromAttrs(attrs map[string]any) (*pb.FlakeRef, error) {
	typ, ok := attrs["type"].(string)
	if !ok {
		return nil, fmt.Errorf("attribute 'type' is missing or not a string")
	}
	t, known := LookupType(typ)
	if !known {
		return nil, fmt.Errorf("input type '%s' is unsupported (expected %s)", typ, TypeNames())
	}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if k != "type" && k != "dir" && !slices.Contains(t.Attrs, k) {
			return nil, t.unsupportedAttr(k)
		}
	}
	s, err := SourceOf(attrs)
	if err != nil {
		return nil, err
	}
	for _, k := range t.Location {
		if _, ok := attrs[k]; !ok {
			return nil, fmt.Errorf("attribute '%s' missing", k)
		}
	}
	if typ == "indirect" && !idRE.MatchString(s.Id) {
		return nil, fmt.Errorf("'%s' is not a valid flake ID", s.Id)
	}
	if typ == "git" && s.Ref != "" && badGitRE.MatchString(s.Ref) {
		return nil, fmt.Errorf("invalid Git branch/tag name '%s'", s.Ref)
	}
	return s, nil
}

// SourceOf reads any attribute set into a source, keeping every attribute
// and judging none: it is for recording what a lock file holds exactly,
// whichever Nix wrote it (a FlakeHub tarball's rev and lastModified,
// which Nix 2.8 refuses, included). Only an attribute that a source
// cannot hold is an error, so that nothing is dropped unsaid. FromAttrs
// is the reading that applies Nix 2.8's rules.
func SourceOf(attrs map[string]any) (*pb.FlakeRef, error) {
	typ, ok := attrs["type"].(string)
	if !ok {
		return nil, fmt.Errorf("attribute 'type' is missing or not a string")
	}
	s := &pb.FlakeRef{Type: typ}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		if k == "type" {
			continue
		}
		if err := setAttr(s, k, attrs[k]); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// sourceFields are the fields of a source by attribute name: the attribute
// form's names are the message's JSON names, so the message is the one
// table of which attribute is held where.
var sourceFields = (&pb.FlakeRef{}).ProtoReflect().Descriptor().Fields()

func setAttr(s *pb.FlakeRef, k string, v any) error {
	fd := sourceFields.ByJSONName(k)
	if fd == nil {
		// Nix 2.8 also takes git's allRefs and a store path's name;
		// sources have no field for them, so they are refused rather
		// than dropped unsaid.
		return fmt.Errorf("attribute '%s' is not one flakeresolve records", k)
	}
	var val protoreflect.Value
	switch fd.Kind() {
	case protoreflect.BoolKind:
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("attribute '%s' is %s while a Boolean is expected", k, kind(v))
		}
		val = protoreflect.ValueOfBool(b)
	case protoreflect.Int64Kind:
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int:
			n = int64(x)
		case float64:
			if x != math.Trunc(x) {
				return fmt.Errorf("attribute '%s' is %v while an integer is expected", k, x)
			}
			n = int64(x)
		default:
			return fmt.Errorf("attribute '%s' is %s while an integer is expected", k, kind(v))
		}
		val = protoreflect.ValueOfInt64(n)
	default:
		str, ok := v.(string)
		if !ok {
			return fmt.Errorf("attribute '%s' is %s while a string is expected", k, kind(v))
		}
		val = protoreflect.ValueOfString(str)
	}
	s.ProtoReflect().Set(fd, val)
	return nil
}

func kind(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a Boolean"
	case int, int64, float64:
		return "an integer"
	}
	return fmt.Sprintf("%T", v)
}

// Attrs renders a source in attribute form, exactly the attributes Nix
// writes for it: "type" and the fields that are set.
func Attrs(s *pb.FlakeRef) map[string]any {
	m := map[string]any{"type": s.Type}
	s.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		m[fd.JSONName()] = v.Interface()
		return true
	})
	return m
}

// Has reports whether a source sets an attribute, without building the
// attribute set: validation asks it of every pin of an index.
func Has(s *pb.FlakeRef, attr string) bool {
	fd := sourceFields.ByJSONName(attr)
	return fd != nil && s.ProtoReflect().Has(fd)
}

// Equal reports whether two sources have the same attribute form, which is
// how Nix compares a lock file's original with a flake.nix input.
func Equal(a, b *pb.FlakeRef) bool {
	return proto.Equal(a, b)
}

// SameInput says whether two references are one input as the Nix versions
// that wrote them spell it: Nix 2.8 keeps ?dir= in a repository's url as
// well as in dir, later Nix only in dir, so a lock either wrote matches the
// same declaration.
func SameInput(a, b *pb.FlakeRef) bool {
	if Equal(a, b) {
		return true
	}
	if a == nil || b == nil || a.Type != b.Type || a.Dir == "" || a.Dir != b.Dir {
		return false
	}
	a2, b2 := proto.Clone(a).(*pb.FlakeRef), proto.Clone(b).(*pb.FlakeRef)
	a2.Url, b2.Url = RepoURL(a2.Url), RepoURL(b2.Url)
	return Equal(a2, b2)
}

// RepoURL is a repository URL without the ?dir= Nix 2.8 keeps in it: the
// repository itself, whichever subdirectory a flake is in.
func RepoURL(url string) string {
	base, query, ok := strings.Cut(url, "?")
	if !ok {
		return url
	}
	var keep []string
	for _, p := range strings.Split(query, "&") {
		if !strings.HasPrefix(p, "dir=") {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		return base
	}
	return base + "?" + strings.Join(keep, "&")
}

// String renders a source in URL form, the inverse of Parse.
func String(s *pb.FlakeRef) string {
	q := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			q[k] = v
		}
	}
	t, _ := LookupType(s.Type)
	if t == nil {
		t = &Type{Kind: KindDownload}
	}
	var u *parsedURL
	switch t.Kind {
	case KindForge:
		u = &parsedURL{scheme: s.Type, path: s.Owner + "/" + s.Repo}
		if s.Rev != "" {
			u.path += "/" + s.Rev
		} else if s.Ref != "" {
			u.path += "/" + s.Ref
		}
		set("host", s.Host)
	case KindRegistry:
		u = &parsedURL{scheme: "flake", path: s.Id}
		if s.Ref != "" {
			u.path += "/" + s.Ref
		}
		if s.Rev != "" {
			u.path += "/" + s.Rev
		}
	case KindRepository:
		if base, _, err := parseURL(s.Url); err == nil {
			u = base
			u.scheme = s.Type + "+" + u.scheme
			for k, v := range base.query {
				q[k] = v
			}
		} else {
			return s.Type + "+" + s.Url
		}
		set("ref", s.Ref)
		set("rev", s.Rev)
		for k, b := range map[string]*bool{"submodules": s.Submodules, "shallow": s.Shallow} {
			if b != nil {
				q[k] = map[bool]string{true: "1", false: "0"}[*b]
			}
		}
	case KindPath:
		u = &parsedURL{scheme: "path", path: s.Path}
		set("rev", s.Rev)
	default:
		base, _, err := parseURL(s.Url)
		if err != nil {
			return s.Url
		}
		u = base
		for k, v := range base.query {
			q[k] = v
		}
	}
	set("dir", s.Dir)
	if t.Kind == KindPath {
		set("narHash", s.NarHash)
		if s.LastModified != 0 {
			q["lastModified"] = strconv.FormatInt(s.LastModified, 10)
		}
		if s.RevCount != 0 {
			q["revCount"] = strconv.FormatInt(s.RevCount, 10)
		}
	}
	u.query = q
	return u.String()
}
