package flakeref

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

var flakehubRE = regexp.MustCompile(`^https?://[^/?#]+/f/([^/?#]+)/([^/?#]+)/([^/?#]+?)(?:\.tar\.gz)?$`)

// FlakeHub splits a requirement URL of FlakeHub's protocol
// (https://flakehub.com/f/OWNER/PROJECT/REQ.tar.gz, or the same path on
// another registry that serves it, such as flakeresolve serve
// --http-listen) into the project it names and the version requirement
// its last segment spells, percent-decoded (fh writes "=0.1.5" as
// "%3D0.1.5" and "*" as "%2A"). An index finds the flake by its project
// name (Project).
func FlakeHub(url string) (owner, project, req string, ok bool) {
	m := flakehubRE.FindStringSubmatch(url)
	if m == nil || m[3] == "releases" {
		return "", "", "", false
	}
	return m[1], m[2], percentDecode(m[3]), true
}

// Project is the name FlakeHub's protocol gives a flake, OWNER/PROJECT:
// a forge's owner and repository, as FlakeHub names flakes after their
// GitHub repositories; for a flake published at URLs (git, hg, or a
// tarball per version), the two path segments before the one that names
// the version or the archive: a placeholder ({version}, {tag}, {rev}), an
// "archive" segment as forges write, or the archive's own file name, with
// a ".git" suffix dropped (git+https://example.org/acme/greeting.git and
// https://example.org/acme/greeting/{version}.tar.gz are both
// acme/greeting). ok is false for other sources. Registries compare
// project names case-insensitively, as forges do.
func Project(l *pb.FlakeLocation) (owner, project string, ok bool) {
	t, known := LookupType(l.GetType())
	switch {
	case !known:
		return "", "", false
	case t.Kind == KindForge:
		return l.Owner, l.Repo, l.Owner != "" && l.Repo != ""
	case t.Kind != KindRepository && t.Kind != KindDownload:
		return "", "", false
	}
	path := l.Url
	if i := strings.Index(path, "://"); i >= 0 {
		path = path[i+3:]
	}
	path, _, _ = strings.Cut(path, "?")
	segs := strings.Split(path, "/")[1:] // the host is no segment
	cut := len(segs)
	for i, s := range segs {
		if strings.Contains(s, "{") || s == "archive" || s == "-" {
			cut = i
			break
		}
	}
	if cut == len(segs) && t.Kind == KindDownload {
		cut-- // the archive's file name
	}
	segs = slices.DeleteFunc(segs[:max(cut, 0)], func(s string) bool { return s == "" })
	if len(segs) < 2 {
		return "", "", false
	}
	return segs[len(segs)-2], strings.TrimSuffix(segs[len(segs)-1], ".git"), true
}

// Tarball is the URL of a pinned tree as a tarball that unpacks to it:
// a tarball's own url, or a forge rev's archive (the table's Archive, the
// URL Nix's fetcher downloads for the pin, so its narHash is the pin's).
// ok is false for other types, for a pin without a rev, and for a flake
// in a subdirectory, which a tarball URL cannot name.
func Tarball(locked *pb.FlakeRef) (url string, ok bool) {
	t, known := LookupType(locked.GetType())
	switch {
	case !known || locked.Dir != "":
		return "", false
	case t.Name == "tarball":
		return locked.Url, locked.Url != ""
	case t.Archive == "" || locked.Rev == "":
		return "", false
	}
	host := locked.Host
	if host == "" {
		host = t.Host
	}
	return strings.NewReplacer("{host}", host, "{owner}", locked.Owner, "{repo}", locked.Repo, "{rev}", locked.Rev).Replace(t.Archive), true
}

var (
	releaseBranchRE = regexp.MustCompile(`^(?:(?:release|nixos|nix-darwin|nixpkgs)-)?(\d\d)\.(\d\d)(?:-small|-darwin)?$`)
	rollingBranchRE = regexp.MustCompile(`^(?:nixos-unstable|nixos-unstable-small|nixpkgs-unstable|master|main)$`)
)

// ReleaseLine is the minor number FlakeHub gives the versions of a branch:
// YYMM for a release branch (release-24.05, nixos-24.05, nixos-24.05-small,
// nixpkgs-24.05-darwin, nix-darwin-24.05, 24.05), so that its versions are
// 0.2405.N, and 1 for a rolling branch (the default branch, no branch at
// all, or one of nixos-unstable, nixos-unstable-small, nixpkgs-unstable,
// master, main), whose versions are 0.1.N. ok is false for any other
// branch. N, the patch, is the commit count of the rev.
func ReleaseLine(branch, defaultBranch string) (line uint64, ok bool) {
	if m := releaseBranchRE.FindStringSubmatch(branch); m != nil {
		n, _ := strconv.ParseUint(m[1]+m[2], 10, 64)
		return n, true
	}
	if branch == "" || branch == defaultBranch || rollingBranchRE.MatchString(branch) {
		return 1, true
	}
	return 0, false
}

// ParseAny reads a reference as Nix 2.8 does and, where 2.8 cannot, as the
// Nix versions after it read the references real flakes carry: a FlakeHub
// URL without an archive suffix (https://flakehub.com/f/NixOS/nixpkgs/0) is
// a tarball, its last segment percent-encoded as those versions write it in
// a lock's original ("*" as "%2A"). Dependencies locked by a newer Nix
// record such originals, and a declaration must compare equal to them.
func ParseAny(ref string) (*pb.FlakeRef, error) {
	s, err := Parse(ref)
	if err == nil {
		return s, nil
	}
	if m := flakehubRE.FindStringSubmatch(ref); m != nil {
		i := strings.LastIndexByte(ref, '/')
		return &pb.FlakeRef{Type: "tarball", Url: ref[:i+1] + encodeSegment(percentDecode(ref[i+1:]))}, nil
	}
	return nil, err
}

// encodeSegment percent-encodes all but RFC 3986's unreserved characters,
// with upper-case hex digits, as Nix after 2.8 encodes a URL's path.
func encodeSegment(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~", c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}
