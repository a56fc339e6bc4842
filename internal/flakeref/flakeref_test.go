package flakeref

import (
	"strings"
	"testing"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"github:NixOS/nixpkgs", "type=github owner=NixOS repo=nixpkgs"},
		{"github:NixOS/nixpkgs/nixos-24.05", "type=github owner=NixOS repo=nixpkgs ref=nixos-24.05"},
		{"github:NixOS/nixpkgs?ref=nixpkgs-unstable", "type=github owner=NixOS repo=nixpkgs ref=nixpkgs-unstable"},
		{"github:NixOS/nixpkgs?rev=75e28c029ef2605f9841e0baa335d70065fe7ae2", "type=github owner=NixOS repo=nixpkgs rev=75e28c029ef2605f9841e0baa335d70065fe7ae2"},
		{"github:hyprwm/Hyprland/75e28c029ef2605f9841e0baa335d70065fe7ae2", "type=github owner=hyprwm repo=Hyprland rev=75e28c029ef2605f9841e0baa335d70065fe7ae2"},
		{"gitlab:wlroots/wlroots?host=gitlab.freedesktop.org", "type=gitlab owner=wlroots repo=wlroots host=gitlab.freedesktop.org"},
		{"nixpkgs", "type=indirect id=nixpkgs"},
		{"nixpkgs/nixos-21.05-small", "type=indirect ref=nixos-21.05-small id=nixpkgs"},
		{"flake:nixpkgs/215d4d0fd80ca5163643b03a33fde804a29cc1e2", "type=indirect rev=215d4d0fd80ca5163643b03a33fde804a29cc1e2 id=nixpkgs"},
		{"git+https://github.com/helix-editor/helix.git?ref=master", "type=git url=https://github.com/helix-editor/helix.git ref=master"},
		{"https://flakehub.com/f/NixOS/nixpkgs/0.1.tar.gz", "type=tarball url=https://flakehub.com/f/NixOS/nixpkgs/0.1.tar.gz"},
		{"https://channels.nixos.org/nixos-25.05/nixexprs.tar.xz", "type=tarball url=https://channels.nixos.org/nixos-25.05/nixexprs.tar.xz"},
		{"path:/srv/flakes/foo", "type=path path=/srv/flakes/foo"},
	} {
		s, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if got := attrs(s); got != tc.want {
			t.Errorf("Parse(%q) = %s\nwant %s", tc.in, got, tc.want)
		}
		back, err := Parse(String(s))
		if err != nil || attrs(back) != attrs(s) {
			t.Errorf("String(Parse(%q)) = %q does not parse back to the same reference (%v)", tc.in, String(s), err)
		}
	}
}

// attrs renders a source's set fields in a fixed order.
func attrs(s *pb.Source) string {
	var parts []string
	for _, kv := range [][2]string{{"type", s.Type}, {"owner", s.Owner}, {"repo", s.Repo}, {"host", s.Host}, {"url", s.Url}, {"ref", s.Ref}, {"rev", s.Rev}, {"dir", s.Dir}, {"path", s.Path}, {"id", s.Id}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+"="+kv[1])
		}
	}
	return strings.Join(parts, " ")
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"github:NixOS", "expected github:OWNER/REPO[/REF-OR-REV]"},
		{"github:NixOS/nixpkgs/a/b", "expected github:OWNER/REPO[/REF-OR-REV]"},
		{"github:NixOS/nixpkgs/nixos-24.05?ref=master", "both in the path and in the query"},
		{"github:NixOS/nixpkgs?foo=bar", `unsupported parameter "foo"`},
		{"github:NixOS/nixpkgs/nixos-24.05?href=x", `unsupported parameter "href"`},
		{"https://example.org/repo", "must end in an archive suffix"},
		{"svn://example.org/x", `unsupported scheme "svn"`},
		{"1nixpkgs", "expected a registry id"},
	} {
		_, err := Parse(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
}
