package lockfile

import (
	"slices"
	"testing"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func gh(repo, rev string) *Node {
	return &Node{Inputs: map[string]*Edge{}, Original: &pb.Source{Type: "github", Owner: "o", Repo: repo},
		Locked: &pb.Source{Type: "github", Owner: "o", Repo: repo, Rev: rev, NarHash: "sha256-" + rev}}
}

func lockOf(inputs map[string]*Node) *Node {
	root := &Node{Inputs: map[string]*Edge{}}
	for name, n := range inputs {
		root.Inputs[name] = &Edge{Node: n}
	}
	return root
}

// TestChangesNowShares: a path that moved onto the tree another path
// pinned apart from it before removed a duplicate; two paths that moved
// together, or a path whose partner is new, did not.
func TestChangesNowShares(t *testing.T) {
	withDep := func(rootRev, depRev string) *Node {
		app := gh("app", "a1")
		app.Inputs["lib"] = &Edge{Node: gh("lib", depRev)}
		return lockOf(map[string]*Node{"lib": gh("lib", rootRev), "app": app})
	}
	// The answer: lib and app/lib at one tree.
	resp := &pb.ResolveResponse{
		Paths: map[string]*pb.PathPin{
			"lib":     {Flake: "lib", Version: "1.1.0", Requirement: "^1", Origin: pb.PinOrigin_PIN_ORIGIN_REQUIREMENT},
			"app":     {Flake: "app", Version: "1.0.0"},
			"app/lib": {Flake: "lib", Version: "1.1.0"},
		},
		Nodes: []*pb.ResolvedNode{{Flake: "app", Paths: []string{"app"}}, {Flake: "lib", Paths: []string{"app/lib", "lib"}}},
	}
	for _, c := range []struct {
		name        string
		old, new    *Node
		wantUpdated []string
		wantShares  []string
	}{
		{"joins", withDep("r1", "r2"), withDep("r2", "r2"), []string{"lib"}, []string{"app/lib"}},
		{"moved together", withDep("r1", "r1"), withDep("r2", "r2"), []string{"app/lib", "lib"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := Changes(Diff(c.old, c.new), c.old, resp, []string{"lib"})
			var updated []string
			for _, u := range ch.Updated {
				updated = append(updated, u.Path)
				if u.Path == "lib" {
					if !slices.Equal(u.NowShares, c.wantShares) {
						t.Errorf("lib now shares %q, want %q", u.NowShares, c.wantShares)
					}
					if !u.Released || u.To.GetRequirement() != "^1" || u.From.GetLocked().GetRev() != "r1" || u.To.GetLocked().GetRev() != "r2" {
						t.Errorf("lib: %v", u)
					}
				}
				if u.Path == "app/lib" && u.Released {
					t.Errorf("app/lib is released by --update lib: %v", u)
				}
			}
			if !slices.Equal(updated, c.wantUpdated) {
				t.Errorf("updated %q, want %q", updated, c.wantUpdated)
			}
		})
	}
}

// TestDiffFromNothing: a first lock (no old one) adds every path, follows
// included, and a lock compared with itself has no change.
func TestDiffFromNothing(t *testing.T) {
	app := gh("app", "a1")
	app.Inputs["lib"] = &Edge{Follows: []string{"lib"}}
	lock := lockOf(map[string]*Node{"lib": gh("lib", "r1"), "app": app})
	var got []string
	for _, c := range Diff(nil, lock) {
		got = append(got, c.String())
	}
	want := []string{
		"• Added input 'app':\n    'github:o/app/a1'\n",
		"• Added input 'app/lib':\n    follows 'lib'\n",
		"• Added input 'lib':\n    'github:o/lib/r1'\n",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if d := Diff(lock, lock); len(d) != 0 {
		t.Errorf("a lock differs from itself: %v", d)
	}
}
