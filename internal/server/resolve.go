package server

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// DefaultMaxSolveTime caps a resolution when the service sets no cap.
const DefaultMaxSolveTime = 10 * time.Second

// Resolve implements ResolverService.Resolve.
func (s *Service) Resolve(ctx context.Context, req *pb.ResolveRequest) (*pb.ResolveResponse, error) {
	limit := s.MaxSolveTime
	if limit <= 0 {
		limit = DefaultMaxSolveTime
	}
	if t := req.GetTimeout(); t != nil {
		if err := t.CheckValid(); err != nil || t.AsDuration() <= 0 {
			return nil, badRequest("timeout", "expected a positive duration")
		}
		limit = min(limit, t.AsDuration())
	}
	sreq := &solver.Request{
		Inputs:         req.Inputs,
		Single:         req.Single,
		UnversionedAny: req.UnversionedAny,
		Update:         req.Update,
	}
	if e := req.GetEffort(); e != nil {
		if err := e.CheckValid(); err != nil || e.AsDuration() <= 0 {
			return nil, badRequest("effort", "expected a positive duration")
		}
		sreq.Limits.Effort = e.AsDuration()
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	strategy, err := solver.StrategyFromProto(req.Strategy)
	if err != nil {
		return nil, badRequest("strategy", err.Error())
	}
	sreq.Strategy = strategy
	if req.LockFile != nil {
		lock, err := lockfile.FromProto(req.LockFile)
		if err != nil {
			return nil, badRequest("lock_file", err.Error())
		}
		sreq.Lock = lock
	}
	a, err := solver.Resolve(ctx, s.layers.Load(), sreq)
	if err != nil {
		return nil, resolveStatus(err)
	}
	return answerProto(a), nil
}

// resolveStatus maps resolver errors to gRPC statuses with details.
func resolveStatus(err error) error {
	var (
		re *solver.RequestError
		ce *solver.ConflictError
		le *solver.LimitError
	)
	switch {
	case errors.As(err, &re):
		return badRequest(re.Field, re.Msg)
	case errors.As(err, &ce):
		c := &pb.Conflict{}
		for _, cause := range ce.Causes {
			c.Causes = append(c.Causes, cause.String())
		}
		for _, h := range ce.Hints {
			c.Suggestions = append(c.Suggestions, h.String())
		}
		return withDetail(codes.FailedPrecondition, err, c)
	case errors.As(err, &le):
		code := codes.ResourceExhausted
		if le.Limit == solver.LimitDeadline {
			code = codes.DeadlineExceeded
			if le.Canceled {
				code = codes.Canceled
			}
		}
		return withDetail(code, err, &pb.LimitExceeded{Limit: le.Limit.String(), Value: uint64(le.Value), Max: uint64(le.Max), Stats: statsProto(le.Stats)})
	}
	return status.Error(codes.Internal, err.Error())
}

func withDetail(code codes.Code, err error, detail protoadapt.MessageV1) error {
	st := status.New(code, err.Error())
	if d, derr := st.WithDetails(detail); derr == nil {
		return d.Err()
	}
	return st.Err()
}

func answerProto(a *solver.Answer) *pb.ResolveResponse {
	resp := &pb.ResolveResponse{Paths: map[string]*pb.PathPin{}, Stats: statsProto(a.Stats)}
	for _, p := range a.Paths {
		pp := &pb.PathPin{Unpinned: p.Unpinned, Url: p.URL, DeclaredUrl: p.DeclaredURL, Requirement: p.Requirement, NotFlake: p.NotFlake}
		switch p.Kind {
		case solver.Follows:
			pp.Follows = &pb.InputPath{Names: p.Follows}
		case solver.Pinned:
			n := p.Node
			pp.Flake, pp.Version, pp.Ref, pp.Locked, pp.Original = n.Flake, n.Version, p.Ref, p.Locked, p.Original
			pp.Origin = pb.PinOrigin(p.Origin)
			if n.External {
				pp.Flake = ""
			}
		}
		resp.Paths[p.Path] = pp
	}
	for _, n := range a.Nodes {
		resp.Nodes = append(resp.Nodes, &pb.ResolvedNode{Flake: n.Flake, Version: n.Version, Ref: n.Ref, Locked: n.Locked, Paths: n.Paths})
	}
	for _, d := range a.Duplicates {
		pd := &pb.Duplicate{Flake: d.Flake}
		for _, e := range d.Edges {
			pd.Edges = append(pd.Edges, &pb.DuplicateEdge{Path: e.Path, DeclaredBy: e.DeclaredBy, Requirement: e.Requirement, Version: e.Node.Version, Ref: e.Node.Ref})
		}
		resp.Duplicates = append(resp.Duplicates, pd)
	}
	return resp
}

func statsProto(s solver.Stats) *pb.ResolveStats {
	return &pb.ResolveStats{
		Reachable: uint32(s.Reachable), Candidates: uint32(s.Candidates), Variables: uint32(s.Variables),
		Clauses: uint32(s.Clauses), SatCalls: uint32(s.SATCalls),
		Objective: objectiveProto(s.Objective), Proven: s.Proven(), Duration: durationpb.New(s.Duration),
		FirstAnswer: durationpb.New(s.FirstAnswer),
	}
}

func objectiveProto(bs []solver.Bound) []*pb.ObjectiveBound {
	out := make([]*pb.ObjectiveBound, len(bs))
	for i, b := range bs {
		// The proto enum numbers the criteria from 1, in the solver's order.
		out[i] = &pb.ObjectiveBound{Criterion: pb.Criterion(b.Criterion + 1), Value: int64(b.Value), LowerBound: int64(b.Lower), Proven: b.Proven}
	}
	return out
}
