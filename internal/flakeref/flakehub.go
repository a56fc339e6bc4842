package flakeref

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

var flakehubRE = regexp.MustCompile(`^https://flakehub\.com/f/([^/]+)/([^/]+)/([^/?]+?)(?:\.tar\.gz)?$`)

// FlakeHub splits a FlakeHub URL (https://flakehub.com/f/OWNER/REPO/REQ.tar.gz)
// into the GitHub repository it publishes and the version requirement its
// last segment spells, percent-decoded (fh writes "=0.1.5" as "%3D0.1.5"
// and "*" as "%2A"). FlakeHub names flakes after their GitHub
// repositories, which is how an index that knows the repository finds the
// flake.
func FlakeHub(url string) (owner, repo, req string, ok bool) {
	m := flakehubRE.FindStringSubmatch(url)
	if m == nil {
		return "", "", "", false
	}
	return m[1], m[2], percentDecode(m[3]), true
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
