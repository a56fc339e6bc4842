package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/registry"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

var embedded struct {
	sync.Once
	layers *index.Layers
	err    error
}

// realFlakes serves the embedded index of real flakes.
func realFlakes(t *testing.T, cfg Config) *Service {
	t.Helper()
	embedded.Do(func() {
		ix, err := defaultindex.Load()
		embedded.layers, embedded.err = index.NewLayers(ix), err
	})
	if embedded.err != nil {
		t.Fatal(embedded.err)
	}
	return New(embedded.layers, cfg)
}

func hyprland(req string) map[string]*pb.Input {
	return map[string]*pb.Input{"hyprland": {Url: "github:hyprwm/Hyprland", Version: req}}
}

// TestPagesCoverTheList pages through every requirement's list at every
// page size and gets the whole list, in order, once.
func TestPagesCoverTheList(t *testing.T) {
	s := realFlakes(t, Config{})
	ctx := context.Background()
	for _, req := range []string{"*", "^0.8", ">=0.3, <0.10", "^9"} {
		whole, err := s.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: req})
		if err != nil {
			t.Fatal(err)
		}
		if whole.NextPageToken != "" || int(whole.TotalSize) != len(whole.Versions) {
			t.Fatalf("%s: one page of %d holds %d versions, token %q", req, whole.TotalSize, len(whole.Versions), whole.NextPageToken)
		}
		for size := int32(1); size <= whole.TotalSize+1; size++ {
			var got []*pb.FlakeVersion
			page := &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: req, PageSize: size}
			for pages := 0; ; pages++ {
				resp, err := s.ListVersions(ctx, page)
				if err != nil {
					t.Fatal(err)
				}
				if len(resp.Versions) > int(size) || pages > len(whole.Versions) {
					t.Fatalf("%s, pages of %d: a page of %d", req, size, len(resp.Versions))
				}
				got = append(got, resp.Versions...)
				if resp.NextPageToken == "" {
					break
				}
				page.PageToken = resp.NextPageToken
			}
			if !slices.EqualFunc(got, whole.Versions, func(a, b *pb.FlakeVersion) bool { return proto.Equal(a, b) }) {
				t.Errorf("%s, pages of %d: %d versions, want the %d of one page", req, size, len(got), len(whole.Versions))
			}
		}
	}
	// A token belongs to its request.
	first, _ := s.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", PageSize: 1})
	for _, bad := range []*pb.ListVersionsRequest{
		{Parent: "flakes/hyprutils", Requirement: "^0.8", PageToken: first.NextPageToken},
		{Parent: "flakes/hyprlang", PageToken: first.NextPageToken},
		{Parent: "flakes/hyprutils", PageToken: "bm90IGEgdG9rZW4"},
	} {
		var fe *FieldError
		if _, err := s.ListVersions(ctx, bad); !errors.As(err, &fe) || fe.Field != "page_token" {
			t.Errorf("%v: %v, want a complaint about page_token", bad, err)
		}
	}
}

// TestWantedIsTheNewestThatResolves checks the choice's search against
// brute force: resolving with the input pinned to each matching version in
// turn, newest first, the first that resolves is wanted, and held_back_by
// is said exactly when that is not the latest.
func TestWantedIsTheNewestThatResolves(t *testing.T) {
	s := realFlakes(t, Config{})
	ctx := context.Background()
	contexts := map[string]*pb.ResolveInputsRequest{
		"one hyprland-protocols": {Inputs: hyprland("^0.34"), SingleFlakes: []string{"hyprland-protocols"}},
		"single":                 {Inputs: hyprland("^0.34"), Strategy: pb.Strategy_STRATEGY_SINGLE},
		"cargo":                  {Inputs: hyprland("^0.33"), Strategy: pb.Strategy_STRATEGY_CARGO},
		"newest":                 {Inputs: hyprland("^0.32")},
	}
	flakes := []string{"hyprland-protocols", "hyprutils", "hyprlang", "hyprwayland-scanner", "xdg-desktop-portal-hyprland"}
	requirements := []string{"*", ">=0.2"}
	checked, held := 0, 0
	for cname, c := range contexts {
		for _, flake := range flakes {
			for _, req := range requirements {
				resp, err := s.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/" + flake, Requirement: req, Context: c})
				if err != nil {
					t.Fatalf("%s, %s %s: %v", cname, flake, req, err)
				}
				ch := resp.Choice
				want := ""
				for _, v := range resp.Versions {
					probe := proto.Clone(c).(*pb.ResolveInputsRequest)
					probe.Inputs[ch.Input] = &pb.Input{Url: "github:hyprwm/" + flake, Version: "=" + v.Version}
					if _, err := s.ResolveInputs(ctx, probe); err == nil {
						want = v.Version
						break
					} else if !isA[*solver.ConflictError](err) {
						t.Fatalf("%s, %s =%s: %v", cname, flake, v.Version, err)
					}
				}
				if ch.WantedVersion != want || ch.LatestVersion != resp.Versions[0].Version {
					t.Errorf("%s, %s %s: wanted %q, latest %q; brute force says wanted %q, latest %q", cname, flake, req, ch.WantedVersion, ch.LatestVersion, want, resp.Versions[0].Version)
				}
				if (len(ch.HeldBackBy) > 0) != (ch.WantedVersion != ch.LatestVersion) {
					t.Errorf("%s, %s %s: wanted %s, latest %s, held back by %v", cname, flake, req, ch.WantedVersion, ch.LatestVersion, ch.HeldBackBy)
				}
				checked++
				if len(ch.HeldBackBy) > 0 {
					held++
				}
			}
		}
	}
	// The contexts are chosen so that both outcomes occur.
	if held == 0 || held == checked {
		t.Errorf("%d of %d choices held back; the cases test nothing", held, checked)
	}
}

func isA[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// TestExplainRoutesEndAtTheirTrees checks every explanation of every flake
// of a real desktop against the answer of ResolveInputs: each route's edges
// are the answer's pins, step by step from the root, each follows continuing
// from the root to the path it names, and the last edge pins the tree; the
// routes are exactly the paths that reach the tree.
func TestExplainRoutesEndAtTheirTrees(t *testing.T) {
	s := realFlakes(t, Config{})
	ctx := context.Background()
	req := &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{
		"hyprland": {Url: "github:hyprwm/Hyprland", Version: "^0.34"},
		"nixpkgs":  {Url: "github:NixOS/nixpkgs/nixos-unstable", Version: "^0.1"},
		"hm":       {Url: "github:nix-community/home-manager", Inputs: map[string]*pb.Input{"nixpkgs": {Follows: proto.String("nixpkgs")}}},
	}}
	answer, err := s.ResolveInputs(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	// Where each path ends: the pinned path it resolves to.
	var end func(path string, depth int) string
	end = func(path string, depth int) string {
		f := answer.Paths[path].GetFollows()
		if f == nil || depth > len(answer.Paths) {
			return path
		}
		// A follows path's names resolve one by one, through follows.
		cur := ""
		for _, name := range f.Names {
			cur = end(strings.TrimPrefix(cur+"/"+name, "/"), depth+1)
		}
		return cur
	}
	flakes := map[string]bool{}
	for _, tree := range answer.Trees {
		if !tree.External {
			flakes[tree.Flake] = true
		}
	}
	routes := 0
	for flake := range flakes {
		resp, err := s.ExplainInputs(ctx, &pb.ExplainInputsRequest{ResolveRequest: req, Target: &pb.ExplainInputsRequest_Flake{Flake: flake}})
		if err != nil {
			t.Fatal(err)
		}
		for _, te := range resp.Trees {
			var want, got []string
			for path := range answer.Paths {
				if slices.Contains(te.Tree.Paths, end(path, 0)) {
					want = append(want, path)
				}
			}
			slices.Sort(want)
			for _, r := range te.Routes {
				got = append(got, r.Path)
				routes++
				last := r.Edges[len(r.Edges)-1]
				if !slices.Contains(te.Tree.Paths, last.Path) || last.PathPin.GetPin() == nil {
					t.Errorf("%s: route of %s ends at %s, not at a path of the tree %v", flake, r.Path, last.Path, te.Tree.Paths)
				}
				if r.Reason.GetOrigin() != last.PathPin.GetPin().GetOrigin() {
					t.Errorf("%s: route of %s: reason %v, pin origin %v", flake, r.Path, r.Reason, last.PathPin.GetPin().GetOrigin())
				}
				prev := ""
				for i, e := range r.Edges {
					if !proto.Equal(e.PathPin, answer.Paths[e.Path]) {
						t.Errorf("%s: route of %s, edge %s = %v, the answer says %v", flake, r.Path, e.Path, e.PathPin, answer.Paths[e.Path])
					}
					// Each edge is an input of the one before, or starts
					// again at the root after a follows.
					parent := e.Path[:max(0, strings.LastIndexByte(e.Path, '/'))]
					if i > 0 && answer.Paths[prev].GetFollows() == nil && parent != prev {
						t.Errorf("%s: route of %s: %s does not continue %s", flake, r.Path, e.Path, prev)
					}
					if (parent == "") != (e.DeclaredBy == nil) {
						t.Errorf("%s: route of %s: edge %s declared by %v", flake, r.Path, e.Path, e.DeclaredBy)
					}
					prev = e.Path
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %s: routes of %v, want %v", flake, te.Tree.Version, got, want)
			}
		}
	}
	if routes < len(answer.Paths)-1 {
		t.Errorf("%d routes over every flake, for %d paths", routes, len(answer.Paths))
	}
}

// TestUnknownEnumsAreRefused: a number no enum of the API defines is a
// malformed request naming the field, wherever it is, never the default.
func TestUnknownEnumsAreRefused(t *testing.T) {
	s := realFlakes(t, Config{})
	ctx := context.Background()
	for field, call := range map[string]func() error{
		"strategy": func() error {
			_, err := s.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: hyprland("^0.34"), Strategy: 99})
			return err
		},
		"context.strategy": func() error {
			_, err := s.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Context: &pb.ResolveInputsRequest{Inputs: hyprland("^0.34"), Strategy: 5}})
			return err
		},
		"resolve_request.strategy": func() error {
			_, err := s.ExplainInputs(ctx, &pb.ExplainInputsRequest{ResolveRequest: &pb.ResolveInputsRequest{Inputs: hyprland("^0.34"), Strategy: -1}, Target: &pb.ExplainInputsRequest_Flake{Flake: "hyprland"}})
			return err
		},
	} {
		var fe *FieldError
		if err := call(); !errors.As(err, &fe) || fe.Field != field || !strings.Contains(fe.Msg, "unknown value") || !strings.Contains(fe.Msg, "STRATEGY_NEWEST") {
			t.Errorf("%s: %v", field, err)
		}
	}
}

// TestTimeLimits: the configuration caps a request's timeout, and without
// a cap the request's own timeout is the limit. A deadline already past
// shows which limit applied without timing anything.
func TestTimeLimits(t *testing.T) {
	ctx := context.Background()
	req := func(timeout time.Duration) *pb.ResolveInputsRequest {
		return &pb.ResolveInputsRequest{Inputs: hyprland("^0.34"), Timeout: durationpb.New(timeout)}
	}
	deadline := func(err error) bool {
		var le *solver.LimitError
		return errors.As(err, &le) && LimitProto(le).Limit == pb.Limit_LIMIT_DEADLINE
	}
	if _, err := realFlakes(t, Config{MaxSolveTime: time.Nanosecond}).ResolveInputs(ctx, req(time.Hour)); !deadline(err) {
		t.Errorf("a cap of 1ns under a timeout of 1h: %v, want the deadline", err)
	}
	if _, err := realFlakes(t, Config{}).ResolveInputs(ctx, req(time.Nanosecond)); !deadline(err) {
		t.Errorf("no cap, a timeout of 1ns: %v, want the deadline", err)
	}
	if _, err := realFlakes(t, Config{}).ResolveInputs(ctx, req(time.Hour)); err != nil {
		t.Errorf("no cap, a timeout of 1h: %v", err)
	}
	var fe *FieldError
	if _, err := realFlakes(t, Config{}).ResolveInputs(ctx, req(-time.Second)); !errors.As(err, &fe) || fe.Field != "timeout" {
		t.Errorf("a negative timeout: %v", err)
	}
}

// TestParallelCallsWhileSwapping: calls run in parallel while the indexes
// are swapped under them, and each answers wholly from one index, the one
// current when it started, never from a mix.
func TestParallelCallsWhileSwapping(t *testing.T) {
	small, err := index.Load("../../index/testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	s := realFlakes(t, Config{})
	real, other := s.LayersOf(context.Background()), index.NewLayers(small)
	ctx := context.Background()
	list := &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "*"}
	explain := &pb.ExplainInputsRequest{
		ResolveRequest: &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"hyprutils": {Url: "github:hyprwm/hyprutils", Version: "*"}}},
		Target:         &pb.ExplainInputsRequest_Flake{Flake: "hyprutils"},
	}
	answers := map[*index.Layers][2]proto.Message{}
	for _, l := range []*index.Layers{real, other} {
		s.Swap(l, "")
		lv, err := s.ListVersions(ctx, list)
		if err != nil {
			t.Fatal(err)
		}
		ex, err := s.ExplainInputs(ctx, explain)
		if err != nil {
			t.Fatal(err)
		}
		answers[l] = [2]proto.Message{lv, ex}
	}
	if proto.Equal(answers[real][0], answers[other][0]) || proto.Equal(answers[real][1], answers[other][1]) {
		t.Fatal("the two indexes answer alike; the test would show nothing")
	}
	var wg sync.WaitGroup
	errs := make(chan string, 64)
	for i := range 32 {
		wg.Go(func() {
			lv, err := s.ListVersions(ctx, list)
			ex, xerr := s.ExplainInputs(ctx, explain)
			if err != nil || xerr != nil {
				errs <- fmt.Sprint(err, xerr)
				return
			}
			one := func(m proto.Message, k int) bool {
				return proto.Equal(m, answers[real][k]) || proto.Equal(m, answers[other][k])
			}
			if !one(lv, 0) || !one(ex, 1) {
				errs <- "an answer from neither index"
			}
		})
		if i%4 == 0 {
			s.Swap([]*index.Layers{real, other}[i/4%2], "")
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestContextInputThroughRegistries: the root input of a context that
// stands for a flake is found by reading its url as resolving reads it,
// so an indirect input (flake:foo) that a registry maps to the flake is
// that input, named or not.
func TestContextInputThroughRegistries(t *testing.T) {
	foo := registry.Chain{{File: "foo.json", Entries: []registry.Entry{{
		From: &pb.FlakeRef{Type: "indirect", Id: "foo"},
		To:   &pb.FlakeRef{Type: "github", Owner: "hyprwm", Repo: "hyprutils"},
	}}}}
	ctx := context.Background()
	with := &pb.ResolveInputsRequest{Inputs: map[string]*pb.Input{"foo": {Url: "flake:foo", Version: "^0.8"}}}
	for _, input := range []string{"", "foo"} {
		resp, err := realFlakes(t, Config{Indirect: foo}).ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "*", Context: with, Input: input})
		if err != nil {
			t.Fatalf("input %q: %v", input, err)
		}
		if c := resp.Choice; c.Input != "foo" || c.WantedVersion != "0.14.0" || c.LatestVersion != "0.14.0" {
			t.Errorf("input %q: choice %v, want root input foo, wanted and latest 0.14.0", input, c)
		}
	}
	// Without the registry, flake:foo is no flake of the index.
	resp, err := realFlakes(t, Config{}).ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "*", Context: with})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.Choice; c.Input != "hyprutils" {
		t.Errorf("without a registry: choice %v, want a new root input hyprutils", c)
	}
	_, err = realFlakes(t, Config{}).ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/hyprutils", Requirement: "*", Context: with, Input: "foo"})
	if fe := (*FieldError)(nil); !errors.As(err, &fe) || !strings.Contains(fe.Msg, `root input "foo" (flake:foo) is not hyprutils`) {
		t.Errorf("without a registry, input foo: %v, want it is not hyprutils", err)
	}
}
