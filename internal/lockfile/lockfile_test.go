package lockfile

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// nixLock is a lock file as Nix 2.8 writes it: an input named like the
// root, a second node of one name, a follows path and a flake = false
// input.
const nixLock = `{
  "nodes": {
    "data": {
      "flake": false,
      "locked": {
        "lastModified": 1714564800,
        "narHash": "sha256-qVfPYAthMVs2eucJ7iWxVwA76e+P33PimrDQe3Pt7Sc=",
        "ref": "v1.0.0",
        "rev": "104692df5afc1e1a4cd74ab3de2fc062a104a483",
        "revCount": 1,
        "type": "git",
        "url": "file:///srv/data"
      },
      "original": {
        "type": "git",
        "url": "file:///srv/data"
      }
    },
    "lib": {
      "inputs": {
        "nixpkgs": "nixpkgs",
        "root": [
          "data"
        ]
      },
      "locked": {
        "lastModified": 1689347949,
        "narHash": "sha256-12tWmuL2zgBgZkdoB6qXZsgJEH9LR3oUgpaQq2RbI80=",
        "owner": "o",
        "repo": "lib",
        "rev": "31732fcf5e8fea42e59c2488ad31a0e651500f68",
        "type": "github"
      },
      "original": {
        "owner": "o",
        "repo": "lib",
        "type": "github"
      }
    },
    "nixpkgs": {
      "locked": {
        "narHash": "sha256-dt4WdcvsA8/RCe+VZZwqU0X+XMM3wBbGCWA0/sFWzGo=",
        "type": "tarball",
        "url": "https://example.org/nixpkgs.tar.gz"
      },
      "original": {
        "type": "tarball",
        "url": "https://example.org/nixpkgs.tar.gz"
      }
    },
    "nixpkgs_2": {
      "locked": {
        "narHash": "sha256-dt4WdcvsA8/RCe+VZZwqU0X+XMM3wBbGCWA0/sFWzGo=",
        "type": "tarball",
        "url": "https://example.org/nixpkgs.tar.gz"
      },
      "original": {
        "type": "tarball",
        "url": "https://example.org/nixpkgs.tar.gz"
      }
    },
    "root": {
      "inputs": {
        "data": "data",
        "lib": "lib",
        "nixpkgs": "nixpkgs_2",
        "root": "root_2"
      }
    },
    "root_2": {
      "locked": {
        "narHash": "sha256-dt4WdcvsA8/RCe+VZZwqU0X+XMM3wBbGCWA0/sFWzGo=",
        "path": "/srv/other",
        "type": "path"
      },
      "original": {
        "path": "/srv/other",
        "type": "path"
      }
    }
  },
  "root": "root",
  "version": 7
}
`

func TestRoundTrip(t *testing.T) {
	root, err := Parse("flake.lock", []byte(nixLock))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(root)
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != nixLock {
		t.Errorf("Marshal(Parse(lock)) differs:\n%s", out)
	}
	if n := root.Lookup([]string{"lib", "nixpkgs"}); n == nil || n.Locked.Type != "tarball" {
		t.Errorf("lib/nixpkgs = %v", n)
	}
	if !root.Inputs["data"].Node.NotFlake {
		t.Error("data lost flake = false")
	}
}

// A node that two paths share (which Nix rejects, and Build never makes)
// keeps its first key: Marshal writes what it is given.
func TestSharedNodeKeepsOneKey(t *testing.T) {
	shared := &Node{Original: &pb.FlakeRef{Type: "path", Path: "/x"}, Locked: &pb.FlakeRef{Type: "path", Path: "/x", NarHash: "sha256-x"}}
	root := &Node{Inputs: map[string]*Edge{"a": {Node: shared}, "b": {Node: shared}}}
	out, _ := Marshal(root)
	if !strings.Contains(string(out), `"b": "a"`) {
		t.Errorf("a shared node should keep its first key:\n%s", out)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ lock, want string }{
		{`{"nodes": {}, "root": "root", "version": 4}`, "lock file version 4 is not supported"},
		{`{"nodes": {"root": {"inputs": {"a": "b"}}}, "root": "root", "version": 7}`, `node "b" is named but not defined`},
		{`{"nodes": {"root": {"inputs": {"a": 3}}}, "root": "root", "version": 7}`, `input "a" is 3; expected a node name or a follows path`},
		{`{"nodes": {"root": {"inputs": {"a": "a"}}, "a": {"locked": {"type": "tarball", "url": "u", "rev": "r"}, "original": {}}}, "root": "root", "version": 7}`, `node "a": original: attribute 'type' is missing`},
		{`{"nodes": `, "flake.lock: unexpected EOF"},
	} {
		_, err := Parse("flake.lock", []byte(tc.lock))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%s) = %v, want %q", tc.lock, err, tc.want)
		}
	}
}

func TestLockedFor(t *testing.T) {
	tree := &pb.FlakeRef{Type: "github", Owner: "o", Repo: "r", Ref: "main", Rev: "31732fcf5e8fea42e59c2488ad31a0e651500f68", LastModified: 5, NarHash: "sha256-x", RevCount: 9}
	l, err := LockedFor(&pb.FlakeRef{Type: "indirect", Id: "r", Dir: "sub"}, tree, "", flakeref.MinNix)
	if err != nil {
		t.Fatal(err)
	}
	if l.Ref != "" || l.RevCount != 0 || l.Dir != "sub" || l.Rev != tree.Rev {
		t.Errorf("github locked = %v; want no ref or revCount, the declaration's dir", l)
	}
	if _, err := LockedFor(&pb.FlakeRef{Type: "git", Url: "https://e.org/x"}, &pb.FlakeRef{Type: "git", Url: "https://e.org/x", Rev: tree.Rev, NarHash: "sha256-x"}, "", flakeref.MinNix); err == nil || !strings.Contains(err.Error(), "lacks ref, revCount, lastModified") {
		t.Errorf("git without ref: %v", err)
	}
}

// TestLockedForNix: what a tarball lock may carry follows the Nix release
// it is for, as flakeref.Types says (every release from it on reads each
// attribute), and a requirement URL locks a forge version as its rev's
// archive.
func TestLockedForNix(t *testing.T) {
	rev := "31732fcf5e8fea42e59c2488ad31a0e651500f68"
	tarball := &pb.FlakeRef{Type: "tarball", Url: "https://e.org/x.tar.gz", Rev: rev, RevCount: 7, LastModified: 3, NarHash: "sha256-x"}
	forge := &pb.FlakeRef{Type: "github", Owner: "o", Repo: "r", Rev: rev, LastModified: 3, NarHash: "sha256-x"}
	declared := &pb.FlakeRef{Type: "tarball", Url: "https://registry.example/f/o/r/%5E1.0.tar.gz"}
	for _, tc := range []struct {
		nix  string
		tree *pb.FlakeRef
		want string
	}{
		{"2.8", tarball, `{"narHash":"sha256-x","type":"tarball","url":"https://e.org/x.tar.gz"}`},
		// 2.13.5 reads rev, but 2.14 does not, nor 2.16.0.
		{"2.13.5", tarball, `{"narHash":"sha256-x","type":"tarball","url":"https://e.org/x.tar.gz"}`},
		{"2.16.1", tarball, `{"narHash":"sha256-x","type":"tarball","url":"https://e.org/x.tar.gz"}`},
		{"2.16.2", tarball, `{"narHash":"sha256-x","rev":"` + rev + `","revCount":7,"type":"tarball","url":"https://e.org/x.tar.gz"}`},
		// 2.17.0 refuses lastModified, which 2.17.1 reads.
		{"2.17", tarball, `{"narHash":"sha256-x","rev":"` + rev + `","revCount":7,"type":"tarball","url":"https://e.org/x.tar.gz"}`},
		{"2.17.1", tarball, `{"lastModified":3,"narHash":"sha256-x","rev":"` + rev + `","revCount":7,"type":"tarball","url":"https://e.org/x.tar.gz"}`},
		{"2.26.3", tarball, `{"lastModified":3,"narHash":"sha256-x","rev":"` + rev + `","revCount":7,"type":"tarball","url":"https://e.org/x.tar.gz"}`},
		{"2.8", forge, `{"narHash":"sha256-x","type":"tarball","url":"https://github.com/o/r/archive/` + rev + `.tar.gz"}`},
		{"2.18", forge, `{"lastModified":3,"narHash":"sha256-x","rev":"` + rev + `","type":"tarball","url":"https://github.com/o/r/archive/` + rev + `.tar.gz"}`},
	} {
		nix, err := flakeref.ParseNixVersion(tc.nix)
		if err != nil {
			t.Fatal(err)
		}
		l, err := LockedFor(declared, tc.tree, "", nix)
		if err != nil {
			t.Fatalf("Nix %s: %v", tc.nix, err)
		}
		if got, _ := json.Marshal(flakeref.Attrs(l)); string(got) != tc.want {
			t.Errorf("Nix %s, %s tree: locked %s, want %s", tc.nix, tc.tree.Type, got, tc.want)
		}
		if tr := Trim(tc.tree, nix); tc.tree.Type == "tarball" {
			if got, _ := json.Marshal(flakeref.Attrs(tr)); string(got) != tc.want {
				t.Errorf("Nix %s: Trim keeps %s, want %s", tc.nix, got, tc.want)
			}
		}
	}
	// A forge flake in a subdirectory has no tarball URL: it stays a
	// forge pin, which Nix fetches whatever the declaration's type.
	sub := &pb.FlakeRef{Type: "github", Owner: "o", Repo: "r", Rev: rev, LastModified: 3, NarHash: "sha256-x", Dir: "nix"}
	if l, err := LockedFor(declared, sub, "", flakeref.MinNix); err != nil || l.Type != "github" {
		t.Errorf("a subdirectory flake through a requirement URL locks as %v, %v", l, err)
	}
}

// A lock Nix 2.26 wrote keeps what 2.8 would refuse (a tarball's
// lastModified) when read; Trim gives a copied pin the form 2.8 reads.
func TestParseKeepsWhatNewerNixWrites(t *testing.T) {
	lock := `{"nodes": {"root": {"inputs": {"a": "a"}}, "a": {"locked": {"type": "tarball", "url": "https://e.org/a.tar.gz", "narHash": "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", "lastModified": 5, "rev": "r"}, "original": {"type": "tarball", "url": "https://e.org/a.tar.gz"}}}, "root": "root", "version": 7}`
	root, err := Parse("flake.lock", []byte(lock))
	if err != nil {
		t.Fatal(err)
	}
	locked := root.Inputs["a"].Node.Locked
	if locked.LastModified != 5 || locked.Rev != "r" {
		t.Errorf("Parse dropped attributes: %v", locked)
	}
	if tr := Trim(locked, flakeref.MinNix); tr.LastModified != 0 || tr.Rev != "" || tr.Url != locked.Url || tr.NarHash != locked.NarHash {
		t.Errorf("Trim = %v; want url and narHash only", tr)
	}
}
