package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// A tarball flake published at one URL per version (as index build
// --source NAME=URL/{version}.tar.gz records one), a git flake, and a
// flake in a subdirectory of a GitHub repository.
const testIndex = `{"schema": 1, "flakes": [
 {"name": "acme-greeting", "source": {"type": "tarball", "url": "https://dl.example.org/acme/greeting/{version}.tar.gz"},
  "versions": [
   {"version": "1.0.0", "locked": {"type": "tarball", "url": "https://dl.example.org/acme/greeting/1.0.0.tar.gz", "rev": "1111111111111111111111111111111111111111", "revCount": 3, "lastModified": 1714564800, "narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}},
   {"version": "1.1.0", "locked": {"type": "tarball", "url": "https://dl.example.org/acme/greeting/1.1.0.tar.gz", "rev": "2222222222222222222222222222222222222222", "revCount": 5, "lastModified": 1714651200, "narHash": "sha256-FtkKNINPR+zSPSHJKqWTH7RXuthgDcBHsz+RBM9CHEE="}},
   {"version": "2.0.0-rc.1", "locked": {"type": "tarball", "url": "https://dl.example.org/acme/greeting/2.0.0-rc.1.tar.gz", "lastModified": 1714737600, "narHash": "sha256-nf3QsaZCtbuS7Oi+tKcVHfefDxq52y/6jtB8drZV3aA="}}]},
 {"name": "banner", "source": {"type": "git", "url": "https://git.example.org/acme/banner.git"},
  "versions": [{"version": "1.0.0", "locked": {"rev": "3333333333333333333333333333333333333333", "ref": "v1.0.0", "revCount": 1, "lastModified": 1714564800, "narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}}]},
 {"name": "tools", "source": {"type": "github", "owner": "acme", "repo": "mono", "dir": "nix/tools"},
  "versions": [{"version": "0.1.0", "locked": {"rev": "4444444444444444444444444444444444444444", "lastModified": 1714564800, "narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="}}]}]}`

func testLayers(t *testing.T) *index.Layers {
	t.Helper()
	ix, err := index.Parse("test.json", []byte(testIndex))
	if err != nil {
		t.Fatal(err)
	}
	def := defaultLayers(t).Indexes()
	return index.NewLayers(append([]*index.Index{ix}, def...)...)
}

// TestRequirementURLs: every operator FlakeHub's URLs spell, in the forms
// fh writes them, redirects to the newest matching version's pinned
// tarball, and the Link header is exactly that tarball with the lock's
// attributes for the server's oldest Nix.
func TestRequirementURLs(t *testing.T) {
	f := serve(t, testLayers(t), flakeref.NixEvery)
	ctx := context.Background()
	hyprutils := func(req string) *pb.FlakeVersion {
		resp, err := f.rpc.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: req, PageSize: 1})
		if err != nil || len(resp.Versions) == 0 {
			t.Fatalf("ListVersions(hyprutils, %s) = %v, %v", req, resp, err)
		}
		return resp.Versions[0]
	}
	for _, tc := range []struct {
		path string
		req  string // what the path means
	}{
		{"/f/hyprwm/hyprutils/%5E0.8.tar.gz", "^0.8"},
		{"/f/hyprwm/hyprutils/0.8.tar.gz", "^0.8"}, // a bare version is a caret
		{"/f/hyprwm/hyprutils/0.8.1", "^0.8.1"},    // newer Nix drops .tar.gz
		{"/f/hyprwm/hyprutils/%3D0.8.1.tar.gz", "=0.8.1"},
		{"/f/hyprwm/hyprutils/%253D0.8.1", "=0.8.1"}, // fh escapes twice
		{"/f/hyprwm/hyprutils/%7E0.8.tar.gz", "~0.8"},
		{"/f/hyprwm/hyprutils/~0.8.tar.gz", "~0.8"},
		{"/f/hyprwm/hyprutils/0.8.*.tar.gz", "0.8.*"},
		{"/f/hyprwm/hyprutils/%2A.tar.gz", "*"},
		{"/f/HyprWM/HyprUtils/*.tar.gz", "*"}, // forges ignore case
		{"/f/hyprwm/hyprutils/%3E%3D0.8%2C%20%3C0.9.tar.gz", ">=0.8, <0.9"},
	} {
		v := hyprutils(tc.req)
		rev, narHash := v.Locked.Rev, v.Locked.NarHash
		archive := "https://github.com/hyprwm/hyprutils/archive/" + rev + ".tar.gz"
		wantLink := "<" + archive + "?rev=" + rev + "&lastModified=" + itoa(v.Locked.LastModified) + "&narHash=" + strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D").Replace(narHash) + `>; rel="immutable"`
		for _, method := range []string{"GET", "HEAD"} {
			req, _ := http.NewRequest(method, f.http+tc.path, nil)
			resp, err := noRedirects.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != archive || resp.Header.Get("Link") != wantLink {
				t.Errorf("%s %s (%s, hyprutils %s): %d\nLocation %s\nLink     %s\nwant     %s", method, tc.path, tc.req, v.Version, resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Link"), wantLink)
			}
		}
	}

	// A tarball flake: its version's own URL, with rev and revCount.
	resp, _ := get(t, f.http+"/f/acme/greeting/%5E1.0.tar.gz")
	want := `<https://dl.example.org/acme/greeting/1.1.0.tar.gz?rev=2222222222222222222222222222222222222222&revCount=5&lastModified=1714651200&narHash=sha256-FtkKNINPR%2BzSPSHJKqWTH7RXuthgDcBHsz%2BRBM9CHEE%3D>; rel="immutable"`
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "https://dl.example.org/acme/greeting/1.1.0.tar.gz" || resp.Header.Get("Link") != want {
		t.Errorf("acme/greeting ^1.0: %d %s\n%s\nwant %s", resp.StatusCode, resp.Header.Get("Location"), resp.Header.Get("Link"), want)
	}
	// A prerelease only when asked for, as Cargo matches.
	if resp, _ := get(t, f.http+"/f/acme/greeting/2.0.0-rc.1.tar.gz"); !strings.HasSuffix(resp.Header.Get("Location"), "/2.0.0-rc.1.tar.gz") {
		t.Errorf("2.0.0-rc.1: Location %s", resp.Header.Get("Location"))
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestLinkFollowsMinNix: the Link header carries what the lock writer
// records for the server's oldest Nix, by the same table.
func TestLinkFollowsMinNix(t *testing.T) {
	for v, want := range map[string]string{
		"2.8":    `<https://dl.example.org/acme/greeting/1.1.0.tar.gz?narHash=sha256-FtkKNINPR%2BzSPSHJKqWTH7RXuthgDcBHsz%2BRBM9CHEE%3D>; rel="immutable"`,
		"2.17":   `<https://dl.example.org/acme/greeting/1.1.0.tar.gz?rev=2222222222222222222222222222222222222222&revCount=5&narHash=sha256-FtkKNINPR%2BzSPSHJKqWTH7RXuthgDcBHsz%2BRBM9CHEE%3D>; rel="immutable"`,
		"2.26.3": `<https://dl.example.org/acme/greeting/1.1.0.tar.gz?rev=2222222222222222222222222222222222222222&revCount=5&lastModified=1714651200&narHash=sha256-FtkKNINPR%2BzSPSHJKqWTH7RXuthgDcBHsz%2BRBM9CHEE%3D>; rel="immutable"`,
	} {
		nix, err := flakeref.ParseNixVersion(v)
		if err != nil {
			t.Fatal(err)
		}
		f := serve(t, testLayers(t), nix)
		if resp, _ := get(t, f.http+"/f/acme/greeting/1.tar.gz"); resp.Header.Get("Link") != want {
			t.Errorf("--min-nix %s: Link %s\nwant %s", v, resp.Header.Get("Link"), want)
		}
	}
}

// TestRequirementURLErrors: what cannot be answered by a redirect is a
// status, as the JSON routes write one, never a redirect to something
// unpinned.
func TestRequirementURLErrors(t *testing.T) {
	f := serve(t, testLayers(t), flakeref.NixEvery)
	for _, tc := range []struct {
		path   string
		code   int
		reason pb.ErrorReason
		say    string
	}{
		{"/f/acme/greetin/1.tar.gz", 404, pb.ErrorReason_FLAKE_NOT_FOUND, "closest: acme/greeting"},
		{"/f/acme/greeting/%5E1.x2.tar.gz", 400, pb.ErrorReason_INVALID_REQUIREMENT, "at column 5"},
		{"/f/acme/greeting/%5E3.tar.gz", 404, pb.ErrorReason_VERSION_NOT_FOUND, "no version of acme-greeting matches ^3 (its newest releases: 1.1.0, 1.0.0)"},
		{"/f/acme/banner/1.tar.gz", 400, pb.ErrorReason_NO_TARBALL, "banner 1.0.0 is a git tree"},
		{"/f/acme/mono/0.1.tar.gz", 400, pb.ErrorReason_NO_TARBALL, "tools 0.1.0 is a github tree"},
		{"/version/resolve/acme/greetin/1", 404, pb.ErrorReason_FLAKE_NOT_FOUND, "closest: acme/greeting"},
		{"/f/acme/greetin/releases", 404, pb.ErrorReason_FLAKE_NOT_FOUND, "closest: acme/greeting"},
	} {
		resp, body := get(t, f.http+tc.path)
		var st spb.Status
		if err := protojson.Unmarshal(body, &st); err != nil {
			t.Errorf("%s: %d %s: %v", tc.path, resp.StatusCode, body, err)
			continue
		}
		info := &errdetails.ErrorInfo{}
		if len(st.Details) == 0 || st.Details[0].UnmarshalTo(info) != nil {
			t.Errorf("%s: no ErrorInfo: %s", tc.path, body)
			continue
		}
		if resp.StatusCode != tc.code || info.Reason != tc.reason.String() || !strings.Contains(st.Message, tc.say) || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d %s %q; want %d %s saying %q", tc.path, resp.StatusCode, info.Reason, st.Message, tc.code, tc.reason, tc.say)
		}
	}
}

// TestListings: fh's listings, in FlakeHub's shapes.
func TestListings(t *testing.T) {
	f := serve(t, testLayers(t), flakeref.NixEvery)
	_, body := get(t, f.http+"/f/acme/greeting/releases")
	var rels []map[string]any
	if err := json.Unmarshal(body, &rels); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(rels)
	want := `[{"commit_count":5,"published_at":"2024-05-02T12:00:00Z","revision":"2222222222222222222222222222222222222222","simplified_version":"1.1.0","updated_at":"2024-05-02T12:00:00Z","version":"1.1.0"},` +
		`{"commit_count":3,"published_at":"2024-05-01T12:00:00Z","revision":"1111111111111111111111111111111111111111","simplified_version":"1.0.0","updated_at":"2024-05-01T12:00:00Z","version":"1.0.0"}]`
	if string(got) != want {
		t.Errorf("releases:\n%s\nwant\n%s", got, want)
	}
	// fh escapes the requirement, and its URL library escapes it again.
	_, body = get(t, f.http+"/version/resolve/hyprwm/hyprutils/%253E%253D0.8.2%252C%2520%253C0.9")
	if string(body) != `[{"version":"0.8.4","simplified_version":"0.8.4"},{"version":"0.8.3","simplified_version":"0.8.3"},{"version":"0.8.2","simplified_version":"0.8.2"}]` {
		t.Errorf("version/resolve: %s", body)
	}
	// Every matching version: nixpkgs has hundreds.
	_, body = get(t, f.http+"/version/resolve/NixOS/nixpkgs/*")
	var all []MatchingVersion
	if err := json.Unmarshal(body, &all); err != nil {
		t.Fatal(err)
	}
	resp, err := f.rpc.ListVersions(context.Background(), &pb.ListVersionsRequest{Parent: "flakes/nixpkgs"})
	if err != nil || len(all) != int(resp.TotalSize) || len(all) < 100 {
		t.Errorf("nixpkgs *: %d versions, ListVersions says %d (%v)", len(all), resp.GetTotalSize(), err)
	}
}
