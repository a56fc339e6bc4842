package service

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// ExplainInputs resolves a request and says why a flake, or one input
// path, is pinned as it is: every route from the root to the flake's trees
// (as cargo tree -i and pnpm why show them), the requirement on each edge,
// and why each path holds the tree it does.
func (s *Service) ExplainInputs(ctx context.Context, req *pb.ExplainInputsRequest) (*pb.ExplainInputsResponse, error) {
	if req.ResolveRequest == nil {
		return nil, &FieldError{Field: "resolve_request", Msg: "missing; expected the inputs to resolve, as ResolveInputs takes them"}
	}
	if err := s.checkLengths(map[string]string{"flake": req.GetFlake(), "path": req.GetPath()}); err != nil {
		return nil, err
	}
	// The flake is looked up and the request resolved in one snapshot.
	ctx = s.hold(ctx)
	layers := s.LayersOf(ctx)
	switch t := req.Target.(type) {
	case nil:
		return nil, &FieldError{Field: "flake", Msg: "neither flake nor path is set; expected the flake or the input path to explain"}
	case *pb.ExplainInputsRequest_Flake:
		if _, err := layers.Lookup(t.Flake); err != nil {
			return nil, err
		}
	case *pb.ExplainInputsRequest_Path:
		if t.Path == "" {
			return nil, &FieldError{Field: "path", Msg: "empty; expected an input path such as hyprland/hyprutils"}
		}
	}
	a, err := s.resolveChecked(ctx, req.ResolveRequest, "resolve_request.")
	if err != nil {
		return nil, err
	}
	e := &explainer{layers: layers, answer: a, byPath: pathIndex(a)}
	resp := &pb.ExplainInputsResponse{}
	switch t := req.Target.(type) {
	case *pb.ExplainInputsRequest_Flake:
		for _, n := range a.Nodes {
			if n.Flake == t.Flake && !n.External {
				resp.Trees = append(resp.Trees, e.tree(n))
			}
		}
	case *pb.ExplainInputsRequest_Path:
		if e.byPath[t.Path] == nil {
			return nil, &FieldError{Field: "path", Msg: fmt.Sprintf("%q is no input path of the answer (root inputs: %s)", t.Path, strings.Join(sortedKeys(req.ResolveRequest.Inputs), ", "))}
		}
		route, end := e.route(t.Path)
		te := &pb.TreeExplanation{Routes: []*pb.InputRoute{route}}
		if p := e.byPath[end]; p != nil && p.Node != nil {
			te.Tree = treeProto(p.Node)
		}
		resp.Trees = append(resp.Trees, te)
	}
	return resp, nil
}

// explainer reads routes out of one answer.
type explainer struct {
	layers *index.Layers
	answer *solver.Answer
	byPath map[string]*solver.PathPin
}

// tree explains one tree: the routes of the paths pinned to it and of the
// paths that follow to one of them.
func (e *explainer) tree(n *solver.Node) *pb.TreeExplanation {
	te := &pb.TreeExplanation{Tree: treeProto(n)}
	for _, p := range e.answer.Paths {
		if p.Kind == solver.Unpinned || p.Kind == solver.Pinned && p.Node != n {
			continue
		}
		route, end := e.route(p.Path)
		if q := e.byPath[end]; q != nil && q.Node == n {
			te.Routes = append(te.Routes, route)
		}
	}
	return te
}

// route is how path reaches its tree, and the path of the edge that pins
// it ("" for the root flake itself, which a follows = "" names).
func (e *explainer) route(path string) (*pb.InputRoute, string) {
	r := &pb.InputRoute{Path: path}
	end, ok := e.walk(strings.Split(path, "/"), r, 0)
	if p := e.byPath[end]; ok && p != nil && p.Kind == solver.Pinned {
		r.Reason = e.reason(p)
	}
	return r, end
}

// walk appends to r the edges from the root along names, going through
// every follows to the path it names, as Nix resolves an input path; it
// returns the path where the names end up.
func (e *explainer) walk(names []string, r *pb.InputRoute, depth int) (string, bool) {
	cur := ""
	for _, name := range names {
		p := name
		if cur != "" {
			p = cur + "/" + name
		}
		pin := e.byPath[p]
		if pin == nil || depth > len(e.byPath) {
			// The solver refuses follows that lead nowhere or in a circle.
			return p, false
		}
		r.Edges = append(r.Edges, &pb.InputEdge{Path: p, DeclaredBy: declaredBy(e.byPath, p), PathPin: pathPinProto(pin)})
		if pin.Kind != solver.Follows {
			cur = p
			continue
		}
		var ok bool
		if cur, ok = e.walk(pin.Follows, r, depth+1); !ok {
			return cur, false
		}
	}
	return cur, true
}

// reason says why a pinned path holds its tree: the pin's origin, for a
// requirement what it admits, and the other paths that share the tree.
func (e *explainer) reason(p *solver.PathPin) *pb.PinReason {
	r := &pb.PinReason{Origin: pb.PinOrigin(p.Origin)}
	if p.Origin == solver.OriginRequirement && p.Requirement != "" && !p.Node.External {
		f, ferr := e.layers.Lookup(p.Node.Flake)
		q, qerr := versionreq.Parse(p.Requirement)
		if ferr == nil && qerr == nil {
			admitted := f.Select(q)
			r.AdmittedVersionCount = int32(len(admitted))
			if len(admitted) > 0 {
				r.NewestAdmittedVersion = admitted[len(admitted)-1].String()
			}
		}
	}
	for _, other := range p.Node.Paths {
		if other != p.Path {
			r.OtherPaths = append(r.OtherPaths, other)
		}
	}
	slices.Sort(r.OtherPaths)
	return r
}
