package solver

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func defaultLayers(t testing.TB) *index.Layers {
	t.Helper()
	ix, err := defaultindex.Load()
	if err != nil {
		t.Fatal(err)
	}
	return index.NewLayers(ix)
}

func followsDecl(path string) *pb.Input { return &pb.Input{Follows: proto.String(path)} }

// hyprlandRequest is a desktop built on Hyprland and its libraries, each
// asked for by its own root input, as a user's flake does.
func hyprlandRequest() *Request {
	return &Request{Inputs: map[string]*pb.Input{
		"hyprland":     {Url: "github:hyprwm/Hyprland", Version: "^0.34"},
		"aquamarine":   {Url: "github:hyprwm/aquamarine", Version: "*"},
		"hyprlang":     {Url: "github:hyprwm/hyprlang", Version: "*"},
		"hyprutils":    {Url: "github:hyprwm/hyprutils", Version: "*"},
		"hyprgraphics": {Url: "github:hyprwm/hyprgraphics", Version: "*"},
		"xdph":         {Url: "github:hyprwm/xdg-desktop-portal-hyprland", Version: "*"},
		"nixpkgs":      {Url: "github:NixOS/nixpkgs/nixos-unstable", Version: "^0.1"},
	}}
}

func nodesOfFlake(a *Answer, flake string) []*Node {
	var out []*Node
	for _, n := range a.Nodes {
		if n.Flake == flake {
			out = append(out, n)
		}
	}
	return out
}

func pinOf(t *testing.T, a *Answer, path string) *PathPin {
	t.Helper()
	for _, p := range a.Paths {
		if p.Path == path {
			return p
		}
	}
	t.Fatalf("answer has no path %s", path)
	return nil
}

// TestRealIndexHyprland resolves the desktop under the default objective,
// where every root input is at the newest version a valid answer allows,
// and under fewest, where no library is doubled.
func TestRealIndexHyprland(t *testing.T) {
	layers := defaultLayers(t)
	for _, strategy := range []Strategy{Newest, Fewest} {
		t.Run(strategy.String(), func(t *testing.T) {
			req := hyprlandRequest()
			req.Strategy, req.Limits = strategy, proving
			a, err := Resolve(context.Background(), layers, req)
			if err != nil {
				t.Fatal(err)
			}
			if msg := checkValid(layers, req, a); msg != "" {
				t.Fatalf("invalid answer: %s\n%s", msg, renderAnswer(a, nil))
			}
			if !a.Stats.Proven() {
				t.Errorf("optimum not proven: %+v", a.Stats)
			}
			// The root inputs and their dependencies reach nixpkgs through
			// many paths, all ^0.1: they share one tree.
			np := nodesOfFlake(a, "nixpkgs")
			if len(np) != 1 || len(np[0].Paths) < 5 {
				t.Errorf("nixpkgs nodes: %+v", np)
			}
			if got := pinOf(t, a, "hyprland").Node.Version; got != "0.34.0" {
				t.Errorf("hyprland = %s, want the newest ^0.34, 0.34.0", got)
			}
			// A gitlab flake no index has: locked as Nix locks it, to the
			// pin of hyprland 0.34.0's own flake.lock.
			if p := pinOf(t, a, "hyprland/wlroots"); p.Node == nil || !p.Node.External || p.Origin != OriginDependencyLock || !strings.HasPrefix(p.Locked.Rev, "5d639394f3e8") {
				t.Errorf("hyprland/wlroots = %+v, want the pin of hyprland's flake.lock", p)
			}
			switch strategy {
			case Newest:
				// Nothing holds a root input back here: each is its flake's
				// newest version, and duplicates appear only beneath.
				for name, decl := range req.Inputs {
					f, _ := layers.Lookup(pinOf(t, a, name).Node.Flake)
					vs := f.Select(mustReq(decl.Version))
					if got, want := pinOf(t, a, name).Node.Version, vs[len(vs)-1].String(); got != want {
						t.Errorf("root input %s = %s, want the newest matching %s, %s", name, got, decl.Version, want)
					}
				}
			case Fewest:
				if len(a.Duplicates) != 0 {
					t.Errorf("duplicates: %+v\n%s", a.Duplicates, renderAnswer(a, nil))
				}
				if got := pinOf(t, a, "hyprland/xdph/hyprlang").Node; got == nil || got != pinOf(t, a, "hyprlang").Node {
					t.Errorf("xdph's hyprlang and the root's should share one tree")
				}
			}
		})
	}
}

// TestRealIndexReleaseLine resolves a NixOS 25.05 setup: nixvim, stylix and
// home-manager release lines that follow the root's nixpkgs.
func TestRealIndexReleaseLine(t *testing.T) {
	layers := defaultLayers(t)
	req := &Request{Inputs: map[string]*pb.Input{
		"nixpkgs":      {Url: "github:NixOS/nixpkgs", Version: "^0.2505"},
		"home-manager": {Url: "github:nix-community/home-manager", Version: "^0.2505", Inputs: map[string]*pb.Input{"nixpkgs": followsDecl("nixpkgs")}},
		"nixvim":       {Url: "github:nix-community/nixvim", Version: "^0.2505", Inputs: map[string]*pb.Input{"nixpkgs": followsDecl("nixpkgs")}},
		"stylix": {Url: "github:danth/stylix", Version: "^0.2505", Inputs: map[string]*pb.Input{
			"nixpkgs": followsDecl("nixpkgs"), "home-manager": followsDecl("home-manager")}},
	}}
	req.Limits = proving
	a, err := Resolve(context.Background(), layers, req)
	if err != nil {
		t.Fatal(err)
	}
	if msg := checkValid(layers, req, a); msg != "" {
		t.Fatalf("invalid answer: %s\n%s", msg, renderAnswer(a, nil))
	}
	np := nodesOfFlake(a, "nixpkgs")
	if len(np) != 1 || !strings.HasPrefix(np[0].Version, "0.2505.") {
		t.Fatalf("nixpkgs nodes = %+v, want one 0.2505 tree", np)
	}
	// The newest 25.05 tree the index has.
	if f, _ := layers.Lookup("nixpkgs"); np[0].Version != f.Select(mustReq("^0.2505"))[len(f.Select(mustReq("^0.2505")))-1].String() {
		t.Errorf("nixpkgs %s is not the newest 0.2505", np[0].Version)
	}
	for path, want := range map[string]string{"stylix/nixpkgs": "nixpkgs", "stylix/home-manager": "home-manager", "nixvim/nixpkgs": "nixpkgs"} {
		if got := strings.Join(pinOf(t, a, path).Follows, "/"); got != want {
			t.Errorf("%s follows %q, want %q", path, got, want)
		}
	}
	if got := pinOf(t, a, "home-manager").Node.Version; !strings.HasPrefix(got, "0.2505.") {
		t.Errorf("home-manager = %s, want the 25.05 release", got)
	}
}

func TestRealIndexConflict(t *testing.T) {
	_, err := Resolve(context.Background(), defaultLayers(t), &Request{Inputs: map[string]*pb.Input{
		"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.50"},
	}})
	want := `no set of pins satisfies every requirement:
  - root input "hyprland" requires hyprland ^0.50, but no version of hyprland matches ^0.50 (the index has 9 versions, 0.30.0 to 0.34.0)
to resolve it:
  - relax hyprland ^0.50 → ^0.34: resolves, hyprland 0.34.0`
	if _, ok := err.(*ConflictError); !ok || err.Error() != want {
		t.Errorf("got %v, want:\n%s", err, want)
	}
}

// TestDeterministic resolves one request many times at once: every answer
// must be byte-identical, which also shows the solvers share no state (run
// with -race). Budgets are in work, not time: with one that lets the proofs
// finish and with one that cuts them short, which must not depend on timing
// either.
func TestDeterministic(t *testing.T) {
	layers := defaultLayers(t)
	// A budget that ends the search before its proofs: the answer must not
	// depend on timing either.
	for _, work := range []int64{proving.Work, 1500} {
		t.Run(fmt.Sprint(work), func(t *testing.T) {
			var wg sync.WaitGroup
			out := make([]string, 16)
			var proven [16]bool
			for i := range out {
				wg.Add(1)
				go func() {
					defer wg.Done()
					req := hyprlandRequest()
					req.Limits = Limits{Effort: time.Hour, Work: work}
					a, err := Resolve(context.Background(), layers, req)
					out[i] = renderAnswer(a, err)
					if err == nil {
						out[i] += fmt.Sprint(a.Stats.Objective, a.Stats.Work)
						proven[i] = a.Stats.Proven()
					}
				}()
			}
			wg.Wait()
			for i := range out {
				if out[i] != out[0] {
					t.Fatalf("answer %d differs:\n%s\nfirst:\n%s", i, out[i], out[0])
				}
			}
			if proven[0] != (work == proving.Work) {
				t.Errorf("work %d: proven %v", work, proven[0])
			}
		})
	}
}

func TestDeadline(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Resolve(ctx, defaultLayers(t), hyprlandRequest())
	le, ok := err.(*LimitError)
	if !ok || le.Limit != LimitDeadline || !le.Canceled || !strings.Contains(err.Error(), "canceled") {
		t.Fatalf("got %v, want a canceled LimitError", err)
	}
}

// TestRealIndexEveryFlake asks for every flake of the embedded index alone,
// beside nixpkgs: at "*" when it has versions, unversioned (its default
// branch) when it has none. Every one resolves, and under the default
// strategy comes back at its newest version.
func TestRealIndexEveryFlake(t *testing.T) {
	layers := defaultLayers(t)
	for _, f := range layers.Indexes()[0].Flakes() {
		if f.Name == "nixpkgs" {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			in := &pb.Input{Url: flakeref.String(f.Source)}
			if len(f.Versions) > 0 {
				in.Version = "*"
			}
			req := &Request{Inputs: map[string]*pb.Input{
				"it":      in,
				"nixpkgs": {Url: "github:NixOS/nixpkgs", Version: "^0.1"},
			}, Limits: proving}
			a, err := Resolve(context.Background(), layers, req)
			if err != nil {
				t.Fatalf("%s: %v", f.Name, err)
			}
			if msg := checkValid(layers, req, a); msg != "" {
				t.Fatalf("invalid answer: %s", msg)
			}
			if len(f.Versions) > 0 {
				if got, want := pinOf(t, a, "it").Node.Version, f.Versions[len(f.Versions)-1].String(); got != want {
					t.Errorf("%s = %s, want its newest, %s", f.Name, got, want)
				}
			}
		})
	}
}
