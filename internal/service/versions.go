package service

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// MaxPageSize is the most versions one ListVersions page holds, and the
// size of a page that asks for none (AIP-158).
const MaxPageSize = 1000

// ListVersions lists the versions of a flake that satisfy a requirement,
// newest first, and with a context, which of them the caller can use.
func (s *Service) ListVersions(ctx context.Context, req *pb.ListVersionsRequest) (*pb.ListVersionsResponse, error) {
	if err := s.checkLengths(map[string]string{"parent": req.Parent, "requirement": req.Requirement, "page_token": req.PageToken, "input": req.Input}); err != nil {
		return nil, err
	}
	name, ok := strings.CutPrefix(req.Parent, "flakes/")
	if !ok || name == "" || strings.Contains(name, "/") {
		return nil, &FieldError{Field: "parent", Msg: fmt.Sprintf("%q; expected flakes/{flake}, such as flakes/hyprutils", req.Parent)}
	}
	text := req.Requirement
	if text == "" {
		text = "*"
	}
	r, err := versionreq.Parse(text)
	if err != nil {
		return nil, &FieldError{Field: "requirement", Msg: err.Error(), Requirement: true}
	}
	if req.PageSize < 0 {
		return nil, &FieldError{Field: "page_size", Msg: fmt.Sprintf("%d; expected 0 (the default, %d) or more", req.PageSize, MaxPageSize)}
	}
	if req.Input != "" && req.Context == nil {
		return nil, &FieldError{Field: "input", Msg: "names a root input of the context, but the request has no context"}
	}
	layers := s.LayersOf(ctx)
	f, err := layers.Lookup(name)
	if err != nil {
		return nil, err
	}
	matches := slices.Clone(f.Select(r))
	slices.Reverse(matches)
	resp := &pb.ListVersionsResponse{
		Requirement:  r.String(),
		TotalSize:    int32(len(matches)),
		VersionCount: int32(len(f.Versions)),
	}
	page, next, err := paginate(matches, req, r.String())
	if err != nil {
		return nil, err
	}
	resp.NextPageToken = next
	for _, v := range page {
		resp.Versions = append(resp.Versions, &pb.FlakeVersion{Name: req.Parent + "/versions/" + v.String(), Version: v.String(), Locked: v.Locked()})
	}
	if req.Context != nil {
		if resp.Choice, err = s.choose(ctx, layers, f, req, r.String(), matches); err != nil {
			return nil, err
		}
	}
	return resp, nil
}

// paginate cuts one page out of the matching versions (newest first).
// A page token names the last version of the page before and the request
// it belongs to, so a reload between pages neither repeats nor skips a
// version that stays.
func paginate(matches []*index.Version, req *pb.ListVersionsRequest, requirement string) (page []*index.Version, next string, err error) {
	size := int(req.PageSize)
	if size == 0 || size > MaxPageSize {
		size = MaxPageSize
	}
	start := 0
	if req.PageToken != "" {
		after, err := readPageToken(req.PageToken, req.Parent, requirement)
		if err != nil {
			return nil, "", &FieldError{Field: "page_token", Msg: err.Error()}
		}
		for start < len(matches) && !matches[start].SemVer.LessThan(after) {
			start++
		}
	}
	end := min(start+size, len(matches))
	if end < len(matches) {
		next = pageToken(matches[end-1].String(), req.Parent, requirement)
	}
	return matches[start:end], next, nil
}

func pageToken(after, parent, requirement string) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s\x00%08x", after, listHash(parent, requirement)))
}

func readPageToken(token, parent, requirement string) (*semver.Version, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	after, sum, ok := strings.Cut(string(raw), "\x00")
	v, verr := semver.StrictNewVersion(after)
	if err != nil || !ok || verr != nil {
		return nil, errors.New("not a token this service issued")
	}
	if sum != fmt.Sprintf("%08x", listHash(parent, requirement)) {
		return nil, errors.New("issued for another parent or requirement; a page token continues the request that returned it")
	}
	return v, nil
}

func listHash(parent, requirement string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(parent + "\x00" + requirement))
	return h.Sum32()
}

// choose says which matching versions (newest first) the context can use.
// It resolves the context with the input's requirement narrowed: first to
// the latest version, the common case; failing that to the requirement
// itself, whose answer is a version that works; then it searches the
// versions between the two by narrowing to ">=V", which resolves exactly
// when some version from V up does, so a binary search finds the newest
// that does in a few resolutions. Each resolution looks for any answer, not
// the best: only whether one exists matters. The context's lock file says
// what is current; it does not hold the other inputs, so wanted is what
// resolving afresh allows.
func (s *Service) choose(ctx context.Context, layers *index.Layers, f *index.Flake, req *pb.ListVersionsRequest, requirement string, matches []*index.Version) (*pb.VersionChoice, error) {
	const prefix = "context."
	if err := checkEnumsIn(req.Context.ProtoReflect(), prefix); err != nil {
		return nil, err
	}
	base, err := s.solverRequest(req.Context, prefix)
	if err != nil {
		return nil, err
	}
	input, decl, err := contextInput(layers, s.cfg.Indirect, f, req)
	if err != nil {
		return nil, err
	}
	choice := &pb.VersionChoice{Input: input}
	if base.Lock != nil {
		if n := base.Lock.Lookup([]string{input}); n != nil && n.Locked != nil {
			if v := solver.VersionOfTree(f, n.Locked); v != nil {
				choice.CurrentVersion = v.String()
			}
		}
	}
	if len(matches) == 0 {
		return choice, nil
	}
	choice.LatestVersion = matches[0].String()
	ctx, done, err := s.solveSlot(ctx, req.Context.GetTimeout(), prefix+"timeout")
	if err != nil {
		return nil, err
	}
	defer done()

	base.Lock, base.Update = nil, nil
	base.Limits.Effort = time.Nanosecond
	probe := func(requirement string) (*index.Version, error) {
		sreq := *base
		sreq.Inputs = make(map[string]*pb.Input, len(base.Inputs)+1)
		for k, v := range base.Inputs {
			sreq.Inputs[k] = v
		}
		narrowed := proto.Clone(decl).(*pb.Input)
		narrowed.Version = requirement
		sreq.Inputs[input] = narrowed
		a, err := s.resolve(ctx, layers, &sreq, prefix)
		if err != nil {
			return nil, err
		}
		for _, p := range a.Paths {
			if p.Path == input && p.Node != nil && !p.Node.External && p.Node.Flake == f.Name {
				return matchingVersion(matches, p.Node.Version), nil
			}
		}
		return nil, fmt.Errorf("internal error: the answer pins no version of %s at root input %q", f.Name, input)
	}
	// feasible reports whether requirement resolves; a conflict is an
	// answer (no), anything else a failure of the call.
	feasible := func(requirement string) (*index.Version, bool, error) {
		v, err := probe(requirement)
		var ce *solver.ConflictError
		if errors.As(err, &ce) {
			return nil, false, nil
		}
		return v, err == nil, err
	}

	_, err = probe("=" + matches[0].String())
	var ce *solver.ConflictError
	switch {
	case err == nil:
		choice.WantedVersion = choice.LatestVersion
		return choice, nil
	case !errors.As(err, &ce):
		return nil, err
	}
	choice.HeldBackBy = ConflictProto(ce).Causes
	works, ok, err := feasible(requirement)
	if err != nil || !ok {
		return choice, err
	}
	if works == nil {
		return nil, fmt.Errorf("internal error: the answer pins %s at root input %q to a version %s does not admit", f.Name, input, requirement)
	}
	// Versions newer than the one that works, the latest excluded.
	between := matches[1:slices.Index(matches, works)]
	prerelease := slices.ContainsFunc(between, func(v *index.Version) bool { return v.SemVer.Prerelease() != "" })
	if prerelease {
		// ">=V" admits prereleases by other rules than the requirement
		// does; try each version alone, newest first.
		for _, v := range between {
			if w, ok, err := feasible("=" + v.String()); err != nil || ok {
				if ok {
					works = w
				}
				return withWanted(choice, works), err
			}
		}
		return withWanted(choice, works), nil
	}
	atLeast := func(v *index.Version) string {
		if requirement == "*" {
			return ">=" + v.String() // a wildcard is its requirement's only comparator
		}
		return requirement + ", >=" + v.String()
	}
	// The newest version that works is between[i] for the least i at which
	// ">=between[i]" resolves, or works when there is none.
	lo, hi := 0, len(between)
	for lo < hi {
		mid := (lo + hi) / 2
		_, ok, err := feasible(atLeast(between[mid]))
		if err != nil {
			return nil, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo < len(between) {
		works = between[lo]
	}
	return withWanted(choice, works), nil
}

func withWanted(c *pb.VersionChoice, v *index.Version) *pb.VersionChoice {
	c.WantedVersion = v.String()
	return c
}

// matchingVersion finds a pinned version among the matching ones; nil
// when the requirement does not admit it (the solver never pins such).
func matchingVersion(matches []*index.Version, version string) *index.Version {
	for _, v := range matches {
		if v.String() == version {
			return v
		}
	}
	return nil
}

// contextInput is the root input of the context that stands for flake f,
// and its declaration: the one named, else the one whose reference is f
// (read through the registries, as resolving the context reads it), else
// a new one at f's location.
func contextInput(layers *index.Layers, indirect solver.Registries, f *index.Flake, req *pb.ListVersionsRequest) (string, *pb.Input, error) {
	inputs := req.Context.Inputs
	if req.Input != "" {
		decl := inputs[req.Input]
		switch {
		case decl == nil:
			return "", nil, &FieldError{Field: "input", Msg: fmt.Sprintf("%q is no root input of the context (inputs: %s)", req.Input, strings.Join(sortedKeys(inputs), ", "))}
		case decl.Follows != nil:
			return "", nil, &FieldError{Field: "input", Msg: fmt.Sprintf("root input %q follows %q; name the input it follows", req.Input, decl.GetFollows())}
		}
		if g := solver.FlakeOf(layers, indirect, decl.Url); g != f {
			return "", nil, &FieldError{Field: "input", Msg: fmt.Sprintf("root input %q (%s) is not %s", req.Input, decl.Url, f.Name)}
		}
		return req.Input, decl, nil
	}
	var named []string
	for _, name := range sortedKeys(inputs) {
		if d := inputs[name]; d.GetUrl() != "" && solver.FlakeOf(layers, indirect, d.Url) == f {
			named = append(named, name)
		}
	}
	switch {
	case len(named) == 1:
		return named[0], inputs[named[0]], nil
	case len(named) > 1:
		return "", nil, &FieldError{Field: "input", Msg: fmt.Sprintf("empty, and root inputs %s are all %s; name one", strings.Join(named, ", "), f.Name)}
	case inputs[f.Name] != nil:
		return "", nil, &FieldError{Field: "input", Msg: fmt.Sprintf("empty, no root input is %s, and its name is taken by root input %q (%s); name the input", f.Name, f.Name, inputs[f.Name].GetUrl())}
	}
	return f.Name, &pb.Input{Url: flakeref.String(flakeref.AtLocation(f.Source))}, nil
}
