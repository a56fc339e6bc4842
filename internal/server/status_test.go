package server

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// TestStatusesReadBack: every error of the service becomes a status with
// the code, ErrorInfo and detail of its reason, and reads back into an
// equal error, whose status is the same again: the client of a remote
// server fails with exactly the errors a local call does.
func TestStatusesReadBack(t *testing.T) {
	stats := solver.Stats{Reachable: 12, Candidates: 9, Variables: 40, Clauses: 77, SATCalls: 2, Work: 1234, Memory: 56789, Duration: 3 * time.Millisecond,
		Objective: []solver.Bound{{Criterion: solver.RootStaleness, Value: 1, Lower: 0}}}
	for _, tc := range []struct {
		err    error
		code   codes.Code
		reason pb.ErrorReason
	}{
		{&service.FieldError{Field: "inputs.x.url", Msg: "not a flake reference"}, codes.InvalidArgument, pb.ErrorReason_INVALID_REQUEST},
		{&service.FieldError{Field: "requirement", Msg: "invalid version requirement", Requirement: true}, codes.InvalidArgument, pb.ErrorReason_INVALID_REQUIREMENT},
		{&index.NotFoundError{Name: "hyprutil", Suggestions: []string{"hyprutils", "hyprlang"}}, codes.NotFound, pb.ErrorReason_FLAKE_NOT_FOUND},
		{&index.NotFoundError{Name: "zzz"}, codes.NotFound, pb.ErrorReason_FLAKE_NOT_FOUND},
		{conflictError(), codes.FailedPrecondition, pb.ErrorReason_NO_ANSWER},
		{limitError(solver.LimitCandidates, false, stats), codes.ResourceExhausted, pb.ErrorReason_LIMIT_EXCEEDED},
		{limitError(solver.LimitDeadline, false, stats), codes.DeadlineExceeded, pb.ErrorReason_LIMIT_EXCEEDED},
		{limitError(solver.LimitDeadline, true, stats), codes.Canceled, pb.ErrorReason_LIMIT_EXCEEDED},
		{&solver.LimitError{Limit: solver.LimitDepth, Field: "inputs.a.inputs.nixpkgs", Value: 33, Max: 32}, codes.ResourceExhausted, pb.ErrorReason_LIMIT_EXCEEDED},
		{&solver.LimitError{Limit: solver.LimitConcurrency, Value: 16, Max: 16}, codes.ResourceExhausted, pb.ErrorReason_LIMIT_EXCEEDED},
		{limitError(solver.LimitMemory, false, stats), codes.ResourceExhausted, pb.ErrorReason_LIMIT_EXCEEDED},
	} {
		st := Status(tc.err)
		var info *errdetails.ErrorInfo
		for _, d := range st.Details() {
			if i, ok := d.(*errdetails.ErrorInfo); ok {
				info = i
			}
		}
		if st.Code() != tc.code || info.GetReason() != tc.reason.String() || info.GetDomain() != Domain || st.Message() != tc.err.Error() || len(st.Details()) != 2 {
			t.Errorf("%v: status %v, ErrorInfo %v, %d details; want %v, reason %v and its detail", tc.err, st.Code(), info, len(st.Details()), tc.code, tc.reason)
		}
		back := errorOf("127.0.0.1:1", st.Err())
		if diff := cmp.Diff(tc.err, back); diff != "" {
			t.Errorf("%v reads back differently (-sent +read):\n%s", tc.err, diff)
		}
		if again := Status(back); !sameStatus(again, st) {
			t.Errorf("%v: the status of the error read back differs:\n%v\n%v", tc.err, again.Proto(), st.Proto())
		}
	}

	// A status of no reason of the service's: the server could not be
	// reached, or is not the service.
	for _, st := range []*status.Status{status.New(codes.Unavailable, "connection refused"), status.New(codes.Unimplemented, "unknown service")} {
		var re *RemoteError
		if err := errorOf("127.0.0.1:1", st.Err()); !errors.As(err, &re) || !sameStatus(Status(err), st) {
			t.Errorf("%v: %v", st, err)
		}
	}
	if err := errorOf("127.0.0.1:1", Status(errors.New("boom")).Err()); !isRemote(err) || Status(err).Code() != codes.Internal {
		t.Errorf("an internal error reads back as %v", err)
	}
}

// sameStatus compares statuses by their unpacked details: a detail's
// bytes may order a map's entries differently from one marshalling to the
// next.
func sameStatus(a, b *status.Status) bool {
	da, db := a.Details(), b.Details()
	if a.Code() != b.Code() || a.Message() != b.Message() || len(da) != len(db) {
		return false
	}
	for i := range da {
		ma, aok := da[i].(proto.Message)
		mb, bok := db[i].(proto.Message)
		if !aok || !bok || !proto.Equal(ma, mb) {
			return false
		}
	}
	return true
}

func isRemote(err error) bool {
	var re *RemoteError
	return errors.As(err, &re)
}

// conflictError is a conflict with every kind of cause and hint, and
// every field set somewhere.
func conflictError() *solver.ConflictError {
	return &solver.ConflictError{
		Causes: []solver.Cause{
			{Kind: solver.CauseRootRequirement, Flake: "hyprland", Requirement: "^0.34", Admitted: []string{"0.34.0"}, Input: "hyprland"},
			{Kind: solver.CauseDependencyRequirement, Flake: "hyprland-protocols", Requirement: "^0.2.0", Admitted: []string{"0.2.0"}, Input: "hyprland-protocols",
				DeclaredBy: &solver.Declarer{Flake: "hyprland", Versions: []string{"0.34.0", "0.33.1"}}, Chains: [][]string{{"hyprland"}, {"desktop", "hyprland"}}},
			{Kind: solver.CauseFollows, Requirement: "^0.1", Input: "hm/nixpkgs", Detail: "it leads to nixpkgs 0.2405.1"},
			{Kind: solver.CauseSingleFlake, Flake: "hyprland-protocols"},
			{Kind: solver.CauseStrategyLimit, Flake: "hyprutils", Detail: "0.8.x"},
			{Kind: solver.CauseMissingFlake, Flake: "github:someone/mine", Requirement: "^1", Detail: "no index has it"},
		},
		Hints: []solver.Hint{
			{Change: solver.Change{Kind: solver.ChangeRelaxRequirement, Path: "hyprland", From: "^0.50", To: "^0.34"}, Tried: true, Resolves: true, Pins: []string{"hyprland 0.34.0"}},
			{Change: solver.Change{Kind: solver.ChangeAllowSeveral, Flake: "hyprland-protocols"}, Tried: true},
			{Change: solver.Change{Kind: solver.ChangeUpdateInput, Path: "nixpkgs"}},
			{Change: solver.Change{Kind: solver.ChangeUseStrategy, Strategy: solver.Fewest}, Tried: true, Resolves: true, Pins: []string{"hyprland 0.34.0", "nixpkgs 0.1.5"}},
		},
	}
}

func limitError(limit solver.Limit, canceled bool, stats solver.Stats) *solver.LimitError {
	e := &solver.LimitError{Limit: limit, Stats: stats, Canceled: canceled}
	if limit != solver.LimitDeadline {
		e.Value, e.Max = 200_001, 200_000
	}
	return e
}
