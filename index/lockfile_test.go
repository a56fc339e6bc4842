package index

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const goodNode = `"locked": {"type": "github", "owner": "o", "repo": "a", "rev": "623c56286de5a3193aa38891a6991b28f9bab056", "lastModified": 1},
	  "original": {"type": "github", "owner": "o", "repo": "a"}`

// A lock file as a registry writes it in JSON: what Nix accepts passes,
// including a pin without narHash (Nix 2.8 locks by rev), a "file" node
// that only later Nix fetches, follows of the root ([]).
func TestLockFileAccepted(t *testing.T) {
	ix, err := Parse("locks", []byte(`{"schema": 1, "flakes": [{"name": "app", "source": {"type": "github", "owner": "o", "repo": "app"},
	  "versions": [{"version": "1.0.0", "locked": {"rev": "623c56286de5a3193aa38891a6991b28f9bab056", "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "lastModified": 1},
	    "lockFile": {"version": 7, "root": "root", "nodes": {
	      "root": {"inputs": {"a": {"node": "a"}, "b": {"node": "b"}, "c": {"follows": {"names": ["a"]}}}},
	      "a": {`+goodNode+`, "inputs": {"self": {"follows": {}}}},
	      "b": {"flake": false, "locked": {"type": "file", "url": "https://example.org/x.nix", "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU="},
	            "original": {"type": "file", "url": "https://example.org/x.nix"}}}}}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if ix.Flake("app") == nil {
		t.Fatal("app missing")
	}
}

func TestLockFileProblems(t *testing.T) {
	_, err := Parse("locks", []byte(`{"schema": 1, "flakes": [{"name": "app", "source": {"type": "github", "owner": "o", "repo": "app"},
	  "versions": [{"version": "1.0.0", "locked": {"rev": "623c56286de5a3193aa38891a6991b28f9bab056", "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "lastModified": 1},
	    "lockFile": {"version": 4, "root": "root", "nodes": {
	      "root": {"locked": {"type": "path", "path": "/x", "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU="}, "inputs": {"a": {"node": "a"}, "gone": {"node": "nowhere"}, "f": {"follows": {"names": ["a", ""]}}, "e": {}}},
	      "a": {"locked": {"type": "github", "owner": "o", "repo": "a", "narHash": "sha256-short"}, "original": {"type": "github", "owner": "o"}},
	      "h": {"locked": {"type": "mercurial", "url": "https://example.org/h", "rev": "ABC"}, "original": {"type": "hg", "url": "https://example.org/h"}},
	      "i": {"locked": {"type": "indirect", "id": "nixpkgs", "rev": "623c56286de5a3193aa38891a6991b28f9bab056"}},
	      "t": {"locked": {"type": "tarball", "url": "https://example.org/t.tar.gz"}, "original": {"type": "tarball", "url": "https://example.org/t.tar.gz"}}}}}],
	  "refs": {"main": {"rev": "623c56286de5a3193aa38891a6991b28f9bab056", "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "lastModified": 1,
	    "lockFile": {"version": 7, "root": "top", "nodes": {"x": {"inputs": {}, `+goodNode+`}}}}}}]}`))
	var inv *InvalidError
	if !errors.As(err, &inv) {
		t.Fatalf("Parse = %v, want *InvalidError", err)
	}
	var got []string
	for _, p := range inv.Problems {
		got = append(got, p.String())
	}
	want := []string{
		"flake app version 1.0.0: field lockFile.version: 4 is not a lock file version Nix reads (5 to 7)",
		`flake app version 1.0.0: field lockFile.nodes.a.original.repo: missing, github sources need owner and repo`,
		`flake app version 1.0.0: field lockFile.nodes.a.locked.narHash: "sha256-short" is not an SRI sha256 hash (sha256- and 44 base64 characters)`,
		`flake app version 1.0.0: field lockFile.nodes.h.locked.type: "mercurial" is not a flake reference type Nix knows (github, gitlab, sourcehut, indirect, git, hg, tarball, file or path)`,
		"flake app version 1.0.0: field lockFile.nodes.i.original: missing, expected the input as declared",
		"flake app version 1.0.0: field lockFile.nodes.i.locked.type: indirect references cannot be locked",
		"flake app version 1.0.0: field lockFile.nodes.root: the root node is the flake itself and has only inputs",
		`flake app version 1.0.0: field lockFile.nodes.root.inputs.e: neither a node key nor a follows path`,
		`flake app version 1.0.0: field lockFile.nodes.root.inputs.f: follows path ["a" ""] has an empty input name`,
		`flake app version 1.0.0: field lockFile.nodes.root.inputs.gone: names node "nowhere", which the lock file lacks`,
		`flake app version 1.0.0: field lockFile.nodes.t.locked.narHash: missing, and no rev either: Nix refuses a lock file with an unlocked input`,
		`flake app: field refs.main.lockFile.root: "top" names no node of the lock file`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
	for _, p := range inv.Problems {
		if !strings.HasPrefix(p.Field, "lockFile.") && !strings.HasPrefix(p.Field, "refs.main.lockFile.") {
			t.Errorf("problem %v is not located in a lock file", p)
		}
	}
}

// A cycle of node keys (which Nix allows only through follows) is refused,
// so that every lock file that loads builds into a graph.
func TestLockFileCycle(t *testing.T) {
	_, err := Parse("locks", []byte(`{"schema": 1, "flakes": [{"name": "app", "source": {"type": "github", "owner": "o", "repo": "app"},
	  "versions": [{"version": "1.0.0", "locked": {"rev": "623c56286de5a3193aa38891a6991b28f9bab056", "narHash": "sha256-XnAVV+H4f8Xdv0yZcSwJ5kCjLyE8fHxPeLX6a3HSrAU=", "lastModified": 1},
	    "lockFile": {"version": 7, "root": "root", "nodes": {
	      "root": {"inputs": {"a": {"node": "a"}}},
	      "a": {`+goodNode+`, "inputs": {"b": {"node": "b"}}},
	      "b": {`+goodNode+`, "inputs": {"a": {"node": "a"}}}}}}]}]}`))
	if err == nil || !strings.Contains(err.Error(), `flake app version 1.0.0: field lockFile.nodes: node "a" is its own input`) {
		t.Errorf("Parse = %v, want the cycle through a named", err)
	}
}
