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
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"google.golang.org/protobuf/proto"
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
func Parse(ref string) (*pb.Source, error) {
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

func parseParsed(ref string, u *parsedURL) (*pb.Source, error) {
	var s *pb.Source
	var err error
	switch u.scheme {
	case "github", "gitlab", "sourcehut":
		s, err = parseForge(ref, u)
	case "flake":
		s, err = parseFlakeScheme(ref, u)
	case "path":
		s, err = parsePath(ref, u)
	case "git+http", "git+https", "git+ssh", "git+file", "hg+http", "hg+https", "hg+ssh", "hg+file":
		s, err = parseRepo(ref, u)
	case "file", "http", "https":
		s, err = parseTarball(ref, u)
	default:
		err = fmt.Errorf("input '%s' is unsupported", ref)
	}
	if err != nil {
		return nil, err
	}
	if u.scheme != "path" {
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

func parseForge(ref string, u *parsedURL) (*pb.Source, error) {
	parts := pathSegments(u.path)
	if u.authority != nil || len(parts) < 2 {
		return nil, fmt.Errorf("URL '%s' is invalid", ref)
	}
	s := &pb.Source{Type: u.scheme, Owner: parts[0], Repo: parts[1]}
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

func parseFlakeScheme(ref string, u *parsedURL) (*pb.Source, error) {
	parts := strings.Split(u.path, "/")
	s := &pb.Source{Type: "indirect", Id: parts[0]}
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

func parsePath(ref string, u *parsedURL) (*pb.Source, error) {
	s := &pb.Source{Type: "path", Path: u.path}
	for _, k := range slices.Sorted(maps.Keys(u.query)) {
		v := u.query[k]
		switch k {
		case "rev":
			s.Rev = v
		case "narHash":
			if err := checkSRI(v); err != nil {
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

// checkSRI accepts what Nix's Hash::parseSRI does: a known algorithm and
// the base64 of a digest of its size.
func checkSRI(v string) error {
	algo, b64, ok := strings.Cut(v, "-")
	if !ok {
		return fmt.Errorf("hash '%s' is not SRI", v)
	}
	size, known := map[string]int{"md5": 16, "sha1": 20, "sha256": 32, "sha512": 64}[algo]
	if !known {
		return fmt.Errorf("unknown hash algorithm '%s'", algo)
	}
	if d, err := base64.StdEncoding.DecodeString(b64); err != nil || len(d) != size {
		return fmt.Errorf("invalid SRI hash '%s'", b64)
	}
	return nil
}

// parseRepo reads git+ and hg+ URLs: Nix consumes ref, rev, submodules and
// shallow and leaves every other parameter in the URL.
func parseRepo(ref string, u *parsedURL) (*pb.Source, error) {
	typ, scheme, _ := strings.Cut(u.scheme, "+")
	s := &pb.Source{Type: typ}
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

func parseTarball(ref string, u *parsedURL) (*pb.Source, error) {
	if !hasTarballSuffix(u.path) {
		return nil, fmt.Errorf("input '%s' is unsupported", ref)
	}
	s := &pb.Source{Type: "tarball", Url: u.String()}
	if h, ok := u.query["narHash"]; ok {
		if err := checkSRI(h); err != nil {
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

// The attributes each input type accepts in attribute form (Nix 2.8's
// inputFromAttrs), besides "type" and "dir".
var allowedAttrs = map[string][]string{
	"github":    {"owner", "repo", "ref", "rev", "narHash", "lastModified", "host"},
	"gitlab":    {"owner", "repo", "ref", "rev", "narHash", "lastModified", "host"},
	"sourcehut": {"owner", "repo", "ref", "rev", "narHash", "lastModified", "host"},
	"indirect":  {"id", "ref", "rev", "narHash"},
	"git":       {"url", "ref", "rev", "shallow", "submodules", "lastModified", "revCount", "narHash", "allRefs", "name"},
	"hg":        {"url", "ref", "rev", "revCount", "narHash", "name"},
	"path":      {"path", "rev", "revCount", "lastModified", "narHash"},
	"tarball":   {"url", "narHash", "name"},
}

// FromAttrs reads a flake reference in attribute form: a flake.nix input
// written as {type = "github"; owner = ...;}, or a lock file's original or
// locked set. Values are strings, bools or integers (int64 or float64, as
// JSON decodes them).
func FromAttrs(attrs map[string]any) (*pb.Source, error) {
	typ, ok := attrs["type"].(string)
	if !ok {
		return nil, fmt.Errorf("attribute 'type' is missing or not a string")
	}
	allowed, known := allowedAttrs[typ]
	if !known {
		return nil, fmt.Errorf("input type '%s' is unsupported (expected github, gitlab, sourcehut, indirect, git, hg, path or tarball)", typ)
	}
	s := &pb.Source{Type: typ}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[k]
		if k == "type" {
			continue
		}
		if k != "dir" && !contains(allowed, k) {
			if typ == "path" {
				return nil, fmt.Errorf("unsupported path input attribute '%s'", k)
			}
			if typ == "tarball" {
				return nil, fmt.Errorf("unsupported tarball input attribute '%s'", k)
			}
			return nil, fmt.Errorf("unsupported input attribute '%s'", k)
		}
		if err := setAttr(s, k, v); err != nil {
			return nil, err
		}
	}
	for _, k := range map[string][]string{"github": {"owner", "repo"}, "gitlab": {"owner", "repo"}, "sourcehut": {"owner", "repo"}, "indirect": {"id"}, "git": {"url"}, "hg": {"url"}, "path": {"path"}, "tarball": {"url"}}[typ] {
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

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func setAttr(s *pb.Source, k string, v any) error {
	switch k {
	case "shallow", "submodules", "allRefs":
		b, ok := v.(bool)
		if !ok {
			return fmt.Errorf("attribute '%s' is %s while a Boolean is expected", k, kind(v))
		}
		switch k {
		case "shallow":
			s.Shallow = &b
		case "submodules":
			s.Submodules = &b
		}
		return nil
	case "lastModified", "revCount":
		var n int64
		switch x := v.(type) {
		case int64:
			n = x
		case int:
			n = int64(x)
		case float64:
			n = int64(x)
		default:
			return fmt.Errorf("attribute '%s' is %s while an integer is expected", k, kind(v))
		}
		if k == "lastModified" {
			s.LastModified = n
		} else {
			s.RevCount = n
		}
		return nil
	}
	str, ok := v.(string)
	if !ok {
		return fmt.Errorf("attribute '%s' is %s while a string is expected", k, kind(v))
	}
	if p, ok := stringFields(s)[k]; ok {
		*p = str
	}
	return nil
}

// stringFields maps the string attributes of the attribute form, type
// aside, to the fields of s that hold them.
func stringFields(s *pb.Source) map[string]*string {
	return map[string]*string{"owner": &s.Owner, "repo": &s.Repo, "host": &s.Host, "url": &s.Url, "ref": &s.Ref, "rev": &s.Rev,
		"narHash": &s.NarHash, "dir": &s.Dir, "path": &s.Path, "id": &s.Id}
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
// writes for it: set fields only, plus "dir".
func Attrs(s *pb.Source) map[string]any {
	m := map[string]any{"type": s.Type}
	for k, p := range stringFields(s) {
		if *p != "" {
			m[k] = *p
		}
	}
	if s.LastModified != 0 {
		m["lastModified"] = s.LastModified
	}
	if s.RevCount != 0 {
		m["revCount"] = s.RevCount
	}
	if s.Submodules != nil {
		m["submodules"] = *s.Submodules
	}
	if s.Shallow != nil {
		m["shallow"] = *s.Shallow
	}
	return m
}

// Equal reports whether two sources have the same attribute form, which is
// how Nix compares a lock file's original with a flake.nix input.
func Equal(a, b *pb.Source) bool {
	return proto.Equal(a, b)
}

// String renders a source in URL form, the inverse of Parse.
func String(s *pb.Source) string {
	q := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			q[k] = v
		}
	}
	var u *parsedURL
	switch s.Type {
	case "github", "gitlab", "sourcehut":
		u = &parsedURL{scheme: s.Type, path: s.Owner + "/" + s.Repo}
		if s.Rev != "" {
			u.path += "/" + s.Rev
		} else if s.Ref != "" {
			u.path += "/" + s.Ref
		}
		set("host", s.Host)
	case "indirect":
		u = &parsedURL{scheme: "flake", path: s.Id}
		if s.Ref != "" {
			u.path += "/" + s.Ref
		}
		if s.Rev != "" {
			u.path += "/" + s.Rev
		}
	case "git", "hg":
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
	case "path":
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
	if s.Type == "path" {
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

var flakehubRE = regexp.MustCompile(`^https://flakehub\.com/f/([^/]+)/([^/]+)/([^/?]+?)(?:\.tar\.gz)?$`)

// FlakeHub splits a FlakeHub URL (https://flakehub.com/f/OWNER/REPO/REQ.tar.gz)
// into the GitHub repository it publishes and the version requirement its
// last segment spells. FlakeHub names flakes after their GitHub repositories,
// which is how an index that knows the repository finds the flake.
func FlakeHub(url string) (owner, repo, req string, ok bool) {
	m := flakehubRE.FindStringSubmatch(url)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], m[3], true
}
