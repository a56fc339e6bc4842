package lockfile

import (
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// laterNixLock holds what Nix releases after 2.8 write and real flakes
// commit: a FlakeHub tarball with rev, revCount and lastModified, a "file"
// node, a github pin without narHash, a dir, follows of the root itself
// ([]) and of a nested path, and flake = false.
const laterNixLock = `{
  "nodes": {
    "compat": {
      "flake": false,
      "locked": {"narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "type": "file", "url": "https://example.org/default.nix"},
      "original": {"type": "file", "url": "https://example.org/default.nix"}
    },
    "hooks": {
      "inputs": {"nixpkgs": ["nixpkgs"], "self": [], "deep": ["lib", "nixpkgs"]},
      "locked": {"lastModified": 1749636823, "owner": "cachix", "repo": "git-hooks.nix", "rev": "623c56286de5a3193aa38891a6991b28f9bab056", "type": "github", "dir": "sub"},
      "original": {"owner": "cachix", "repo": "git-hooks.nix", "type": "github", "dir": "sub"}
    },
    "lib": {
      "inputs": {"nixpkgs": "nixpkgs"},
      "locked": {"lastModified": 1700000000, "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "ref": "refs/heads/main", "rev": "37c8663fab86fdb202fece339ef7ac7177ffc201", "revCount": 904, "submodules": true, "type": "git", "url": "https://example.org/lib"},
      "original": {"submodules": true, "type": "git", "url": "https://example.org/lib"}
    },
    "nixpkgs": {
      "locked": {"lastModified": 1751274312, "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "rev": "50ab793786d9de88ee30ec4e4c24fb4236fc2674", "revCount": 810736, "type": "tarball", "url": "https://api.flakehub.com/f/pinned/NixOS/nixpkgs/0.2505.810736/x/source.tar.gz"},
      "original": {"type": "tarball", "url": "https://flakehub.com/f/NixOS/nixpkgs/0.2505"}
    },
    "root": {"inputs": {"compat": "compat", "hooks": "hooks", "lib": "lib", "nixpkgs": "nixpkgs"}}
  },
  "root": "root",
  "version": 7
}`

// generic decodes a lock file's JSON with every number a float64, for
// comparing what was committed with what was recorded.
func generic(t *testing.T, data []byte) any {
	t.Helper()
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// rendered is a recorded lock file written back as Nix writes it.
func rendered(t *testing.T, lf *pb.LockFile) any {
	t.Helper()
	data, err := marshalFile(lf)
	if err != nil {
		t.Fatal(err)
	}
	return generic(t, data)
}

func TestRecordIsExact(t *testing.T) {
	for name, lock := range map[string]string{"later Nix": laterNixLock, "Nix 2.8": nixLock} {
		lf, err := Record("flake.lock", []byte(lock))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if diff := cmp.Diff(generic(t, []byte(lock)), rendered(t, lf)); diff != "" {
			t.Errorf("%s: the recorded lock differs from the committed one (-committed +recorded):\n%s", name, diff)
		}
	}
}

// A version 5 lock keeps narHash and lastModified in "info"; Nix reads
// them as part of locked.
func TestRecordMergesInfo(t *testing.T) {
	lf, err := Record("flake.lock", []byte(`{"nodes": {"root": {"inputs": {"a": "a"}}, "a": {
	  "info": {"lastModified": 5, "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU="},
	  "locked": {"owner": "o", "repo": "a", "rev": "623c56286de5a3193aa38891a6991b28f9bab056", "type": "github"},
	  "original": {"owner": "o", "repo": "a", "type": "github"}}}, "root": "root", "version": 5}`))
	if err != nil {
		t.Fatal(err)
	}
	if l := lf.Nodes["a"].Locked; l.LastModified != 5 || l.NarHash == "" || lf.Version != 5 {
		t.Errorf("locked = %v, version %d; want info merged in", l, lf.Version)
	}
}

func TestRecordErrors(t *testing.T) {
	for _, tc := range []struct{ lock, want string }{
		{`{"nodes": {"root": {"inputs": {"a": 3}}}, "root": "root", "version": 7}`, `node "root": input "a" is 3; expected a node name or a follows path`},
		{`{"nodes": {"a": {"locked": {"type": "git", "url": "u", "allRefs": true}}}, "root": "root", "version": 7}`, `node "a": locked: attribute 'allRefs' is not one flakeresolve records`},
		{`{"nodes": {"a": {"original": {"type": "github", "owner": 3}}}, "root": "root", "version": 7}`, `node "a": original: attribute 'owner' is an integer while a string is expected`},
		{`{"nodes": `, "flake.lock: unexpected end of JSON input"},
	} {
		_, err := Record("flake.lock", []byte(tc.lock))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Record(%s) = %v, want %q", tc.lock, err, tc.want)
		}
	}
}

// TestRecordExactOnRealLocks: every flake.lock of the real-flake snapshot
// (hundreds, written by many Nix releases) is recorded exactly. The
// snapshot lives in the shared data beside the repository, or where
// FLAKERESOLVE_SNAPSHOT says.
func TestRecordExactOnRealLocks(t *testing.T) {
	path := os.Getenv("FLAKERESOLVE_SNAPSHOT")
	if path == "" {
		path = "../../../shared/data/real-flakes.json"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the real-flake snapshot is missing in CI: %v", err)
		}
		t.Skip("real-flake snapshot not present beside the repository (CI has it and fails without it)")
	}
	type tree struct {
		Rev      string          `json:"rev"`
		LockFile json.RawMessage `json:"lockFile"`
	}
	var snap struct {
		Flakes []struct {
			Repo     string          `json:"repo"`
			Versions []tree          `json:"versions"`
			Branches map[string]tree `json:"branches"`
		} `json:"flakes"`
	}
	if err := json.Unmarshal(data, &snap); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range snap.Flakes {
		for _, tr := range append(f.Versions, slices.Collect(maps.Values(f.Branches))...) {
			if tr.LockFile == nil {
				continue
			}
			n++
			lf, err := Record(f.Repo, tr.LockFile)
			if err != nil {
				t.Errorf("%s %s: %v", f.Repo, tr.Rev, err)
				continue
			}
			if diff := cmp.Diff(generic(t, tr.LockFile), rendered(t, lf)); diff != "" {
				t.Errorf("%s %s: recorded lock differs (-committed +recorded):\n%s", f.Repo, tr.Rev, diff)
			}
		}
	}
	if n < 800 {
		t.Errorf("compared %d lock files; the snapshot has about 900", n)
	}
}
