package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/flakenix"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// serve runs the service over the embedded index on a loopback port and
// returns a client of it.
func serve(t *testing.T) *Client {
	t.Helper()
	ix, err := defaultindex.Load()
	if err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gs := NewGRPCServer(service.New(index.NewLayers(ix), service.Config{}), Options{MaxRecvBytes: 1 << 20, Logger: quiet})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	t.Cleanup(gs.Stop)
	c, err := Dial(lis.Addr().String(), ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestHintsResolve: a client of a real server gets a conflict as typed
// data, applies each of its hints to the request as the API documents the
// change, and gets what the hint's outcome says: an answer with those root
// pins, or still no answer.
func TestHintsResolve(t *testing.T) {
	c := serve(t)
	ctx := context.Background()
	hyprland := func(req string) *pb.Input { return &pb.Input{Url: "github:hyprwm/Hyprland", Version: req} }
	protocols := &pb.Input{Url: "github:hyprwm/hyprland-protocols", Version: "^0.7"}
	// A flake.lock written when hyprland-protocols was the only input pins
	// its newest, 0.7.0; the pin stays while "*" admits it, and hyprland
	// 0.34, added since, wants 0.2.0 in the one tree the request allows.
	anyProtocols := &pb.Input{Url: protocols.Url, Version: "*"}
	kept := &pb.ResolveInputsRequest{
		Inputs:       map[string]*pb.Input{"hyprland": hyprland("^0.34"), "hyprland-protocols": anyProtocols},
		SingleFlakes: []string{"hyprland-protocols"},
		LockFile:     lockOf(t, c, `{ inputs.hyprland-protocols = { url = "github:hyprwm/hyprland-protocols"; version = "*"; }; outputs = { self, hyprland-protocols }: { }; }`),
	}
	if _, err := c.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: kept.Inputs, SingleFlakes: kept.SingleFlakes}); err != nil {
		t.Fatalf("without flake.lock: %v, want an answer (the kept pin is what clashes)", err)
	}
	kinds := map[solver.ChangeKind]int{}
	for name, req := range map[string]*pb.ResolveInputsRequest{
		"a line that does not exist": {Inputs: map[string]*pb.Input{"hyprland": hyprland("^0.50")}},
		"one tree wanted":            {Inputs: map[string]*pb.Input{"hyprland": hyprland("^0.34"), "hyprland-protocols": protocols}, SingleFlakes: []string{"hyprland-protocols"}},
		"one tree per flake":         {Inputs: map[string]*pb.Input{"hyprland": hyprland("^0.34"), "hyprland-protocols": protocols}, Strategy: pb.Strategy_STRATEGY_SINGLE},
		"a pin kept from flake.lock": kept,
		"one tree per range":         {Inputs: map[string]*pb.Input{"hyprland": hyprland("^0.34"), "hyprland-protocols": {Url: protocols.Url, Version: "^0.2"}, "old": {Url: protocols.Url, Version: "=0.2.0"}, "new": {Url: protocols.Url, Version: ">0.2.0, <0.3"}}, Strategy: pb.Strategy_STRATEGY_CARGO},
	} {
		_, err := c.ResolveInputs(ctx, req)
		var ce *solver.ConflictError
		if !errors.As(err, &ce) {
			t.Errorf("%s: %v, want a conflict", name, err)
			continue
		}
		if len(ce.Causes) == 0 || len(ce.Hints) == 0 {
			t.Errorf("%s: %d causes, %d hints", name, len(ce.Causes), len(ce.Hints))
		}
		// The cause of a kept pin says so, as data: the requirement
		// admits more, the lock holds the input to one version.
		var keptBy []string
		for _, c := range ce.Causes {
			if c.KeptByLock != "" {
				keptBy = append(keptBy, c.Input+" "+c.KeptByLock)
			}
		}
		if want := []string{"hyprland-protocols 0.7.0"}; req == kept && !slices.Equal(keptBy, want) || req != kept && keptBy != nil {
			t.Errorf("%s: causes kept by the lock %v, want %v", name, keptBy, map[bool][]string{true: want}[req == kept])
		}
		for _, h := range ce.Hints {
			if !h.Tried {
				t.Errorf("%s: %v was not tried", name, h)
				continue
			}
			kinds[h.Change.Kind]++
			changed := apply(t, req, h.Change)
			a, err := c.ResolveInputs(ctx, changed)
			switch {
			case h.Resolves && err != nil:
				t.Errorf("%s: %v, applied: %v", name, h, err)
			case !h.Resolves && !errors.As(err, new(*solver.ConflictError)):
				t.Errorf("%s: %v, applied: %v, want a conflict still", name, h, err)
			case h.Resolves && !slices.Equal(rootPins(a), h.Pins):
				t.Errorf("%s: %v, applied: root pins %v", name, h, rootPins(a))
			}
		}
	}
	for _, k := range []solver.ChangeKind{solver.ChangeRelaxRequirement, solver.ChangeAllowSeveral, solver.ChangeUpdateInput, solver.ChangeUseStrategy} {
		if kinds[k] == 0 {
			t.Errorf("no hint of kind %d among the cases: %v", k, kinds)
		}
	}
}

// lockOf is the flake.lock that locking a flake.nix over the server
// writes, as a request carries it.
func lockOf(t *testing.T, c *Client, flakeNix string) *pb.LockFile {
	t.Helper()
	f, err := flakenix.Parse("flake.nix", []byte(flakeNix))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.ResolveInputs(context.Background(), &pb.ResolveInputsRequest{Inputs: flakenix.ToProto(f.Inputs)})
	if err != nil {
		t.Fatal(err)
	}
	root, err := lockfile.Build(f.Inputs, resp, flakeref.MinNix)
	if err != nil {
		t.Fatal(err)
	}
	return lockfile.ToProto(root)
}

// apply makes a hint's change to a request, as ConflictHint documents it.
func apply(t *testing.T, req *pb.ResolveInputsRequest, c solver.Change) *pb.ResolveInputsRequest {
	t.Helper()
	out := proto.Clone(req).(*pb.ResolveInputsRequest)
	switch c.Kind {
	case solver.ChangeRelaxRequirement:
		// The root input, or a root input's input through an override.
		names := strings.Split(c.Path, "/")
		in := out.Inputs[names[0]]
		if len(names) == 2 {
			if in.Inputs == nil {
				in.Inputs = map[string]*pb.Input{}
			}
			if in.Inputs[names[1]] == nil {
				in.Inputs[names[1]] = &pb.Input{}
			}
			in = in.Inputs[names[1]]
		}
		if len(names) == 1 && in.Version != c.From {
			t.Errorf("relax %s from %s: the request says %q", c.Path, c.From, in.Version)
		}
		in.Version = c.To
	case solver.ChangeAllowSeveral:
		out.SingleFlakes = slices.DeleteFunc(out.SingleFlakes, func(f string) bool { return f == c.Flake })
	case solver.ChangeUpdateInput:
		out.UpdatePaths = append(out.UpdatePaths, c.Path)
	case solver.ChangeUseStrategy:
		out.Strategy = c.Strategy.Policy().Proto
	default:
		t.Fatalf("a change of kind %d", c.Kind)
	}
	return out
}

// rootPins are an answer's root inputs as a hint lists them.
func rootPins(a *pb.ResolveInputsResponse) []string {
	var out []string
	for _, path := range slices.Sorted(maps.Keys(a.GetPaths())) {
		if pin := a.Paths[path].GetPin(); pin != nil && !strings.Contains(path, "/") {
			label := pin.Flake + " " + pin.Version
			if pin.Version == "" {
				label = pin.Flake + " ref:" + pin.Ref
			}
			out = append(out, label)
		}
	}
	return out
}
