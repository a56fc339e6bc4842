package service

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
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
	ctx, done, err := s.solveSlot(ctx, req.GetTimeout(), prefix+"timeout")
	if err != nil {
		return nil, err
	}
	defer done()
	return s.resolve(ctx, s.LayersOf(ctx), sreq, prefix)
}

// resolve runs the solver, its complaints about the request read as
// complaints about the API request's fields under prefix, and reports the
// solve to the observer.
func (s *Service) resolve(ctx context.Context, layers *index.Layers, sreq *solver.Request, prefix string) (*solver.Answer, error) {
	a, err := solver.Resolve(ctx, layers, sreq)
	if err != nil {
		s.obs.Solved(Outcome(err), statsOf(err))
		return nil, fieldError(err, prefix)
	}
	s.obs.Solved("ok", a.Stats)
	return a, nil
}

// solverRequest reads the API's request as the solver's, checking what the
// solver takes on trust: its size first (solver.CheckSize), before the
// lock file is read into a graph; its pins; and the caps of the
// configuration on effort and work.
func (s *Service) solverRequest(req *pb.ResolveInputsRequest, prefix string) (*solver.Request, error) {
	lim := s.cfg.Limits
	if err := solver.CheckSize(req, lim); err != nil {
		var le *solver.LimitError
		if errors.As(err, &le) {
			le.Field = prefix + le.Field
		}
		return nil, err
	}
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
	capLimits(&sreq.Limits, lim)
	if req.LockFile != nil {
		if err := checkPins(req.LockFile, prefix+"lock_file"); err != nil {
			return nil, err
		}
		if sreq.Lock, err = lockfile.FromProto(req.LockFile); err != nil {
			return nil, &FieldError{Field: prefix + "lock_file", Msg: err.Error()}
		}
	}
	return sreq, nil
}

// capLimits bounds what a request asks for by the configuration's
// limits: the sizes are the configuration's, and effort and work may be
// asked below its caps, never above.
func capLimits(asked *solver.Limits, caps solver.Limits) {
	effort, work := asked.Effort, asked.Work
	*asked = caps
	if caps.Effort <= 0 || effort > 0 && effort < caps.Effort {
		asked.Effort = effort
	}
	if caps.Work <= 0 || work > 0 && work < caps.Work {
		asked.Work = work
	}
}

// checkPins checks what a lock file's nodes pin, as Nix writes them: a
// rev is 40 lowercase hex digits, a narHash an SRI SHA-256 hash. A pin
// that is neither would be kept and written into the next lock as it
// came, where Nix refuses it.
func checkPins(lf *pb.LockFile, field string) error {
	for _, key := range sortedKeys(lf.Nodes) {
		n := lf.Nodes[key]
		for _, r := range [...]struct {
			name string
			ref  *pb.FlakeRef
		}{{"locked", n.GetLocked()}, {"original", n.GetOriginal()}} {
			f := fmt.Sprintf("%s.nodes.%s.%s", field, key, r.name)
			if rev := r.ref.GetRev(); rev != "" && !isRev(rev) {
				return &FieldError{Field: f + ".rev", Msg: fmt.Sprintf("%q; expected a commit as 40 lowercase hex digits", rev)}
			}
			if h := r.ref.GetNarHash(); h != "" {
				if _, err := flakeref.ParseNarHash(h); err != nil {
					return &FieldError{Field: f + ".nar_hash", Msg: fmt.Sprintf("%q; expected an SRI SHA-256 hash (sha256- and 44 base64 characters)", h)}
				}
			}
		}
	}
	return nil
}

func isRev(s string) bool {
	if len(s) != 40 {
		return false
	}
	for _, c := range []byte(s) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
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
		Work: s.Work, MemoryBytes: s.Memory,
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
		Duration: s.GetDuration().AsDuration(), FirstAnswer: s.GetFirstAnswerDuration().AsDuration(), Work: s.GetWork(), Memory: s.GetMemoryBytes(),
	}
	for _, b := range s.GetObjective() {
		out.Objective = append(out.Objective, solver.Bound{Criterion: solver.Criterion(b.Criterion - 1), Value: int(b.Value), Lower: int(b.LowerBound), Proven: b.Proven})
	}
	return out
}
