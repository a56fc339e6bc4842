package service

import (
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// This file converts the solver's typed errors to the API's details and
// back, losslessly: a client reads a status back into the very error the
// service returned.

// causeKinds is the one table of the solver's cause kinds and the API's.
var causeKinds = []struct {
	solver solver.CauseKind
	proto  pb.ConflictCause_Kind
}{
	{solver.CauseRootRequirement, pb.ConflictCause_KIND_ROOT_REQUIREMENT},
	{solver.CauseDependencyRequirement, pb.ConflictCause_KIND_DEPENDENCY_REQUIREMENT},
	{solver.CauseFollows, pb.ConflictCause_KIND_FOLLOWS},
	{solver.CauseSingleFlake, pb.ConflictCause_KIND_SINGLE_FLAKE},
	{solver.CauseStrategyLimit, pb.ConflictCause_KIND_STRATEGY_LIMIT},
	{solver.CauseMissingFlake, pb.ConflictCause_KIND_MISSING_FLAKE},
}

// limits is the one table of the solver's limits and the API's.
var limits = []struct {
	solver solver.Limit
	proto  pb.Limit
}{
	{solver.LimitDeadline, pb.Limit_LIMIT_DEADLINE},
	{solver.LimitReachable, pb.Limit_LIMIT_REACHABLE_VERSIONS},
	{solver.LimitCandidates, pb.Limit_LIMIT_CANDIDATES},
	{solver.LimitClauses, pb.Limit_LIMIT_CONSTRAINTS},
	{solver.LimitPaths, pb.Limit_LIMIT_PATHS},
	{solver.LimitWork, pb.Limit_LIMIT_WORK},
	{solver.LimitDepth, pb.Limit_LIMIT_OVERRIDE_DEPTH},
	{solver.LimitDeclarations, pb.Limit_LIMIT_DECLARATIONS},
	{solver.LimitFieldLength, pb.Limit_LIMIT_FIELD_LENGTH},
	{solver.LimitConcurrency, pb.Limit_LIMIT_CONCURRENCY},
	{solver.LimitMemory, pb.Limit_LIMIT_MEMORY},
}

// ConflictProto is a conflict as the API's Conflict detail.
func ConflictProto(e *solver.ConflictError) *pb.Conflict {
	c := &pb.Conflict{Minimal: e.Minimal}
	for _, cause := range e.Causes {
		c.Causes = append(c.Causes, causeProto(cause))
	}
	for _, h := range e.Hints {
		c.Hints = append(c.Hints, hintProto(h))
	}
	return c
}

func causeProto(c solver.Cause) *pb.ConflictCause {
	out := &pb.ConflictCause{Flake: c.Flake, Requirement: c.Requirement, AdmittedVersions: c.Admitted, Input: c.Input, Detail: c.Detail, KeptByLock: c.KeptByLock}
	for _, row := range causeKinds {
		if row.solver == c.Kind {
			out.Kind = row.proto
		}
	}
	if d := c.DeclaredBy; d != nil {
		out.DeclaredBy = &pb.FlakeVersions{Flake: d.Flake, Versions: d.Versions}
	}
	for _, ch := range c.Chains {
		out.Chains = append(out.Chains, &pb.InputPath{Names: ch})
	}
	return out
}

func hintProto(h solver.Hint) *pb.ConflictHint {
	out := &pb.ConflictHint{}
	switch c := h.Change; c.Kind {
	case solver.ChangeRelaxRequirement:
		out.Change = &pb.ConflictHint_RelaxRequirement{RelaxRequirement: &pb.RelaxRequirement{Path: c.Path, Requirement: c.From, RelaxedRequirement: c.To}}
	case solver.ChangeAllowSeveral:
		out.Change = &pb.ConflictHint_AllowSeveral{AllowSeveral: &pb.AllowSeveral{Flake: c.Flake}}
	case solver.ChangeUpdateInput:
		out.Change = &pb.ConflictHint_UpdateInput{UpdateInput: &pb.UpdateInput{Path: c.Path}}
	case solver.ChangeUseStrategy:
		out.Change = &pb.ConflictHint_UseStrategy{UseStrategy: &pb.UseStrategy{Strategy: c.Strategy.Policy().Proto}}
	}
	if h.Tried {
		out.Outcome = &pb.HintOutcome{Resolves: h.Resolves, Pins: h.Pins}
	}
	return out
}

// ConflictFromProto is the inverse of ConflictProto.
func ConflictFromProto(c *pb.Conflict) *solver.ConflictError {
	e := &solver.ConflictError{Minimal: c.GetMinimal()}
	for _, cause := range c.GetCauses() {
		e.Causes = append(e.Causes, causeFromProto(cause))
	}
	for _, h := range c.GetHints() {
		e.Hints = append(e.Hints, hintFromProto(h))
	}
	return e
}

func causeFromProto(c *pb.ConflictCause) solver.Cause {
	out := solver.Cause{Flake: c.Flake, Requirement: c.Requirement, Admitted: c.AdmittedVersions, Input: c.Input, Detail: c.Detail, KeptByLock: c.KeptByLock}
	for _, row := range causeKinds {
		if row.proto == c.Kind {
			out.Kind = row.solver
		}
	}
	if d := c.DeclaredBy; d != nil {
		out.DeclaredBy = &solver.Declarer{Flake: d.Flake, Versions: d.Versions}
	}
	for _, ch := range c.Chains {
		out.Chains = append(out.Chains, ch.Names)
	}
	return out
}

func hintFromProto(h *pb.ConflictHint) solver.Hint {
	var out solver.Hint
	switch c := h.Change.(type) {
	case *pb.ConflictHint_RelaxRequirement:
		out.Change = solver.Change{Kind: solver.ChangeRelaxRequirement, Path: c.RelaxRequirement.Path, From: c.RelaxRequirement.Requirement, To: c.RelaxRequirement.RelaxedRequirement}
	case *pb.ConflictHint_AllowSeveral:
		out.Change = solver.Change{Kind: solver.ChangeAllowSeveral, Flake: c.AllowSeveral.Flake}
	case *pb.ConflictHint_UpdateInput:
		out.Change = solver.Change{Kind: solver.ChangeUpdateInput, Path: c.UpdateInput.Path}
	case *pb.ConflictHint_UseStrategy:
		// The status came from the service, which sends known strategies.
		strategy, _ := solver.StrategyFromProto(c.UseStrategy.Strategy)
		out.Change = solver.Change{Kind: solver.ChangeUseStrategy, Strategy: strategy}
	}
	if o := h.Outcome; o != nil {
		out.Tried, out.Resolves, out.Pins = true, o.Resolves, o.Pins
	}
	return out
}

// LimitProto is a limit error as the API's LimitExceeded detail.
func LimitProto(e *solver.LimitError) *pb.LimitExceeded {
	l := &pb.LimitExceeded{Value: int64(e.Value), MaxValue: int64(e.Max), Stats: statsProto(e.Stats), Field: e.Field}
	for _, row := range limits {
		if row.solver == e.Limit {
			l.Limit = row.proto
		}
	}
	return l
}

// LimitFromProto is the inverse of LimitProto; canceled says the status
// was CANCELLED (the caller went away) rather than a deadline.
func LimitFromProto(l *pb.LimitExceeded, canceled bool) *solver.LimitError {
	e := &solver.LimitError{Value: int(l.GetValue()), Max: int(l.GetMaxValue()), Stats: statsFromProto(l.GetStats()), Canceled: canceled, Field: l.GetField()}
	for _, row := range limits {
		if row.proto == l.GetLimit() {
			e.Limit = row.solver
		}
	}
	return e
}
