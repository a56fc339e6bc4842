package service

import (
	"context"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// ResolveInputs pins every input path of the request's root inputs.
func (s *Service) ResolveInputs(ctx context.Context, req *pb.ResolveInputsRequest) (*pb.ResolveInputsResponse, error) {
	a, err := s.resolveChecked(ctx, req, "")
	if err != nil {
		return nil, err
	}
	return answerProto(a), nil
}

// resolveChecked checks a request (its fields under prefix) and resolves
// it within its deadline against the current indexes.
func (s *Service) resolveChecked(ctx context.Context, req *pb.ResolveInputsRequest, prefix string) (*solver.Answer, error) {
	if err := checkEnumsIn(req.ProtoReflect(), prefix); err != nil {
		return nil, err
	}
	sreq, err := s.solverRequest(req, prefix)
	if err != nil {
		return nil, err
	}
	ctx, cancel, err := s.deadline(ctx, req.GetTimeout(), prefix+"timeout")
	if err != nil {
		return nil, err
	}
	defer cancel()
	return resolve(ctx, s.layers.Load(), sreq, prefix)
}

// resolve runs the solver, its complaints about the request read as
// complaints about the API request's fields under prefix.
func resolve(ctx context.Context, layers *index.Layers, sreq *solver.Request, prefix string) (*solver.Answer, error) {
	a, err := solver.Resolve(ctx, layers, sreq)
	if err != nil {
		return nil, fieldError(err, prefix)
	}
	return a, nil
}

// solverRequest reads the API's request as the solver's, checking what the
// solver takes on trust.
func (s *Service) solverRequest(req *pb.ResolveInputsRequest, prefix string) (*solver.Request, error) {
	sreq := &solver.Request{
		Indirect:       s.cfg.Indirect,
		Inputs:         req.Inputs,
		Single:         req.SingleFlakes,
		UnversionedAny: req.UnversionedAsAny,
		Update:         req.UpdatePaths,
	}
	var err error
	if sreq.Strategy, err = solver.StrategyFromProto(req.Strategy); err != nil {
		return nil, &FieldError{Field: prefix + "strategy", Msg: err.Error()}
	}
	if e := req.GetEffort(); e != nil {
		if err := e.CheckValid(); err != nil || e.AsDuration() <= 0 {
			return nil, &FieldError{Field: prefix + "effort", Msg: "expected a positive duration"}
		}
		sreq.Limits.Effort = e.AsDuration()
	}
	if req.WorkLimit < 0 {
		return nil, &FieldError{Field: prefix + "work_limit", Msg: "negative; expected a positive budget, or 0 for none"}
	}
	sreq.Limits.Work = req.WorkLimit
	if req.LockFile != nil {
		if sreq.Lock, err = lockfile.FromProto(req.LockFile); err != nil {
			return nil, &FieldError{Field: prefix + "lock_file", Msg: err.Error()}
		}
	}
	return sreq, nil
}

// answerProto is an answer as the API returns it.
func answerProto(a *solver.Answer) *pb.ResolveInputsResponse {
	resp := &pb.ResolveInputsResponse{Paths: make(map[string]*pb.PathPin, len(a.Paths)), Stats: statsProto(a.Stats)}
	byPath := pathIndex(a)
	for _, p := range a.Paths {
		resp.Paths[p.Path] = pathPinProto(p)
	}
	for _, n := range a.Nodes {
		resp.Trees = append(resp.Trees, treeProto(n))
	}
	for _, d := range a.Duplicates {
		pd := &pb.Duplicate{Flake: d.Flake}
		for _, e := range d.Edges {
			pd.Edges = append(pd.Edges, &pb.DuplicateEdge{Path: e.Path, DeclaredBy: declaredBy(byPath, e.Path), Requirement: e.Requirement, Version: e.Node.Version, Ref: e.Node.Ref})
		}
		resp.Duplicates = append(resp.Duplicates, pd)
	}
	return resp
}

func pathPinProto(p *solver.PathPin) *pb.PathPin {
	pp := &pb.PathPin{Url: p.URL, DeclaredUrl: p.DeclaredURL, Requirement: p.Requirement, SourceOnly: p.NotFlake}
	switch p.Kind {
	case solver.Follows:
		pp.Resolution = &pb.PathPin_Follows{Follows: &pb.InputPath{Names: p.Follows}}
	case solver.Unpinned:
		pp.Resolution = &pb.PathPin_Unpinned{Unpinned: &pb.Unpinned{Reason: p.Unpinned}}
	case solver.Pinned:
		n := p.Node
		pin := &pb.Pin{Flake: n.Flake, Version: n.Version, Ref: p.Ref, Locked: p.Locked, Original: p.Original, Origin: pb.PinOrigin(p.Origin)}
		pp.Resolution = &pb.PathPin_Pin{Pin: pin}
	}
	return pp
}

func treeProto(n *solver.Node) *pb.Tree {
	return &pb.Tree{Flake: n.Flake, Version: n.Version, Ref: n.Ref, Locked: n.Locked, Paths: n.Paths, External: n.External}
}

// pathIndex finds an answer's paths by path.
func pathIndex(a *solver.Answer) map[string]*solver.PathPin {
	m := make(map[string]*solver.PathPin, len(a.Paths))
	for _, p := range a.Paths {
		m[p.Path] = p
	}
	return m
}

// declaredBy is the tree that declares the input at path: the pin of the
// path above it, which is pinned (nothing is walked beneath a follows);
// nil for a root input.
func declaredBy(byPath map[string]*solver.PathPin, path string) *pb.FlakeVersionRef {
	i := strings.LastIndexByte(path, '/')
	if i < 0 {
		return nil
	}
	parent := byPath[path[:i]]
	if parent == nil || parent.Node == nil {
		return nil
	}
	return treeRef(parent.Node)
}

// treeRef names a tree.
func treeRef(n *solver.Node) *pb.FlakeVersionRef {
	return &pb.FlakeVersionRef{Flake: n.Flake, Version: n.Version, Ref: n.Ref}
}

func statsProto(s solver.Stats) *pb.ResolveStats {
	out := &pb.ResolveStats{
		ReachableVersionCount: int32(s.Reachable), CandidateCount: int32(s.Candidates),
		VariableCount: int32(s.Variables), ConstraintCount: int32(s.Clauses), SolveCount: int32(s.SATCalls),
		Proven: s.Proven(), Duration: durationpb.New(s.Duration), FirstAnswerDuration: durationpb.New(s.FirstAnswer),
		Work: s.Work,
	}
	for _, b := range s.Objective {
		// The proto enum numbers the criteria from 1, in the solver's order.
		out.Objective = append(out.Objective, &pb.ObjectiveBound{Criterion: pb.Criterion(b.Criterion + 1), Value: int64(b.Value), LowerBound: int64(b.Lower), Proven: b.Proven})
	}
	return out
}

// statsFromProto is the inverse of statsProto, for errors that travelled.
func statsFromProto(s *pb.ResolveStats) solver.Stats {
	out := solver.Stats{
		Reachable: int(s.GetReachableVersionCount()), Candidates: int(s.GetCandidateCount()),
		Variables: int(s.GetVariableCount()), Clauses: int(s.GetConstraintCount()), SATCalls: int(s.GetSolveCount()),
		Duration: s.GetDuration().AsDuration(), FirstAnswer: s.GetFirstAnswerDuration().AsDuration(), Work: s.GetWork(),
	}
	for _, b := range s.GetObjective() {
		out.Objective = append(out.Objective, solver.Bound{Criterion: solver.Criterion(b.Criterion - 1), Value: int(b.Value), Lower: int(b.LowerBound), Proven: b.Proven})
	}
	return out
}
