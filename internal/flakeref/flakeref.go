// Package flakeref converts flake references between Nix's URL form
// ("github:NixOS/nixpkgs/nixos-24.05") and its attribute form (the
// {type, owner, repo, ref, ...} sets of flake.lock), which is what indexes
// and lock files store.
//
// It follows Nix's parser for the forms that flakes use as inputs: github,
// gitlab and sourcehut shorthands, indirect registry ids, git+ and tarball
// URLs, and paths. A reference Nix would reject is an error that says why.
package flakeref

import (
	"fmt"
	"net/url"
	"regexp"
	"sort"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

var (
	revRE = regexp.MustCompile(`^[0-9a-f]{40}$`)
	// Nix's refRegex, less the parts that only matter for exotic refs.
	refRE = regexp.MustCompile(`^[a-zA-Z0-9@][a-zA-Z0-9_.\/@+-]*$`)
	idRE  = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)
)

var tarballSuffixes = []string{".zip", ".tar", ".tgz", ".tar.gz", ".tar.xz", ".tar.bz2", ".tar.zst"}

// Parse reads a flake reference in URL form.
func Parse(ref string) (*pb.Source, error) {
	scheme, rest, hasScheme := strings.Cut(ref, ":")
	if !hasScheme || strings.Contains(scheme, "/") {
		// "nixpkgs", "nixpkgs/nixos-24.05", or a path.
		if strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, ".") {
			return &pb.Source{Type: "path", Path: ref}, nil
		}
		return parseIndirect(ref, ref)
	}
	switch scheme {
	case "github", "gitlab", "sourcehut":
		return parseForge(ref, scheme, rest)
	case "flake":
		return parseIndirect(ref, rest)
	case "path":
		p, q := splitQuery(rest)
		if p == "" {
			return nil, fmt.Errorf("flake reference %q: path is empty", ref)
		}
		s := &pb.Source{Type: "path", Path: p}
		return s, applyQuery(ref, s, q, "narHash", "rev", "lastModified")
	case "git+https", "git+http", "git+ssh", "git+file":
		u, q := splitQuery(ref)
		s := &pb.Source{Type: "git", Url: strings.TrimPrefix(u, "git+")}
		if strings.HasPrefix(s.Url, "file:") {
			s.Url = "file://" + strings.TrimPrefix(strings.TrimPrefix(s.Url, "file:"), "//")
		}
		return s, applyQuery(ref, s, q, "ref", "rev", "dir", "narHash", "lastModified", "revCount", "submodules", "shallow", "allRefs")
	case "tarball+https", "tarball+http", "tarball+file", "https", "http", "file":
		u, q := splitQuery(strings.TrimPrefix(ref, "tarball+"))
		if !strings.HasPrefix(scheme, "tarball+") && !hasTarballSuffix(u) && !strings.HasPrefix(u, "https://flakehub.com/f/") {
			return nil, fmt.Errorf("flake reference %q: a plain %s URL must end in an archive suffix (%s) to be a tarball; use git+%s for a repository", ref, scheme, strings.Join(tarballSuffixes, " "), scheme)
		}
		s := &pb.Source{Type: "tarball", Url: u}
		if q != "" {
			s.Url += "?" + q
		}
		return s, nil
	}
	return nil, fmt.Errorf("flake reference %q: unsupported scheme %q (expected github:, gitlab:, sourcehut:, git+https:, https: tarballs, path: or a registry id)", ref, scheme)
}

func hasTarballSuffix(u string) bool {
	for _, s := range tarballSuffixes {
		if strings.HasSuffix(u, s) {
			return true
		}
	}
	return false
}

func splitQuery(s string) (string, string) {
	p, q, _ := strings.Cut(s, "?")
	return p, q
}

func parseForge(ref, typ, rest string) (*pb.Source, error) {
	p, q := splitQuery(rest)
	parts := strings.Split(p, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("flake reference %q: expected %s:OWNER/REPO[/REF-OR-REV]", ref, typ)
	}
	s := &pb.Source{Type: typ, Owner: parts[0], Repo: parts[1]}
	if len(parts) == 3 {
		if err := setRefOrRev(ref, s, parts[2]); err != nil {
			return nil, err
		}
	}
	if vals, _ := url.ParseQuery(q); (s.Ref != "" || s.Rev != "") && (vals.Has("ref") || vals.Has("rev")) {
		return nil, fmt.Errorf("flake reference %q: a ref or rev is given both in the path and in the query", ref)
	}
	if err := applyQuery(ref, s, q, "ref", "rev", "host", "dir", "narHash"); err != nil {
		return nil, err
	}
	if s.Ref != "" && s.Rev != "" {
		return nil, fmt.Errorf("flake reference %q: %s references cannot have both a ref and a rev", ref, typ)
	}
	return s, nil
}

func parseIndirect(ref, rest string) (*pb.Source, error) {
	p, q := splitQuery(rest)
	if q != "" {
		return nil, fmt.Errorf("flake reference %q: registry ids take no query parameters", ref)
	}
	parts := strings.Split(p, "/")
	if len(parts) > 3 || !idRE.MatchString(parts[0]) {
		return nil, fmt.Errorf("flake reference %q: expected a registry id such as nixpkgs or nixpkgs/nixos-24.05, or a URL", ref)
	}
	s := &pb.Source{Type: "indirect", Id: parts[0]}
	switch len(parts) {
	case 2:
		if err := setRefOrRev(ref, s, parts[1]); err != nil {
			return nil, err
		}
	case 3:
		if !refRE.MatchString(parts[1]) || !revRE.MatchString(parts[2]) {
			return nil, fmt.Errorf("flake reference %q: expected ID/REF/REV", ref)
		}
		s.Ref, s.Rev = parts[1], parts[2]
	}
	return s, nil
}

func setRefOrRev(ref string, s *pb.Source, v string) error {
	switch {
	case revRE.MatchString(v):
		s.Rev = v
	case refRE.MatchString(v):
		s.Ref = v
	default:
		return fmt.Errorf("flake reference %q: %q is neither a 40-digit commit nor a valid ref name", ref, v)
	}
	return nil
}

func applyQuery(ref string, s *pb.Source, q string, allowed ...string) error {
	if q == "" {
		return nil
	}
	vals, err := url.ParseQuery(q)
	if err != nil {
		return fmt.Errorf("flake reference %q: bad query: %v", ref, err)
	}
	for k, vs := range vals {
		ok := false
		for _, a := range allowed {
			ok = ok || a == k
		}
		if !ok {
			return fmt.Errorf("flake reference %q: unsupported parameter %q (allowed: %s)", ref, k, strings.Join(allowed, ", "))
		}
		v := vs[len(vs)-1]
		switch k {
		case "ref":
			if !refRE.MatchString(v) {
				return fmt.Errorf("flake reference %q: invalid ref %q", ref, v)
			}
			s.Ref = v
		case "rev":
			if !revRE.MatchString(v) {
				return fmt.Errorf("flake reference %q: rev %q is not a 40-digit commit", ref, v)
			}
			s.Rev = v
		case "host":
			s.Host = v
		case "dir":
			s.Dir = v
		case "narHash":
			s.NarHash = v
		}
	}
	return nil
}

// String renders a source in URL form, the inverse of Parse for the fields
// a flake input uses.
func String(s *pb.Source) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	var base string
	switch s.Type {
	case "github", "gitlab", "sourcehut":
		base = s.Type + ":" + s.Owner + "/" + s.Repo
		switch {
		case s.Rev != "":
			base += "/" + s.Rev
		case s.Ref != "":
			base += "/" + s.Ref
		}
		set("host", s.Host)
		set("dir", s.Dir)
	case "indirect":
		base = "flake:" + s.Id
		if s.Ref != "" {
			base += "/" + s.Ref
		}
		if s.Rev != "" {
			base += "/" + s.Rev
		}
	case "git":
		base = "git+" + s.Url
		set("ref", s.Ref)
		set("rev", s.Rev)
		set("dir", s.Dir)
	case "path":
		base = "path:" + s.Path
	default:
		base = s.Url
	}
	if len(q) == 0 {
		return base
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(q.Get(k)))
	}
	return base + "?" + strings.Join(parts, "&")
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
