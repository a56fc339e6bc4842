package solver

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// resolver holds the state of one resolution, stage by stage: what the
// indexes offer the request (universe), the inputs it reaches (graph), and
// the problem handed to the optimiser (problem).
type resolver struct {
	ctx   context.Context
	req   *Request
	lim   Limits
	start time.Time
	stats Stats
	universe
	graph
	problem
	// A resolution makes hundreds of each of these: they are cut from
	// blocks, one allocation a block.
	candidateArena arena[candidate]
	nodeArena      arena[node]
	instanceArena  arena[instance]
	slotArena      arena[slot]
}

// arena hands out zeroed values cut from blocks of arenaBlock.
type arena[T any] struct{ block []T }

const arenaBlock = 64

func (a *arena[T]) new() *T {
	if len(a.block) == 0 {
		a.block = make([]T, arenaBlock)
	}
	p := &a.block[0]
	a.block = a.block[1:]
	return p
}

// universe is what the indexes offer one request: the flakes references
// point at, the candidates of each, the distinct trees they are, and what
// shrinking kept.
type universe struct {
	layers   *index.Layers
	indirect Registries
	targets  map[string]*target
	reqs     map[string]*versionreq.Req
	// declTargets caches what the reachability walk reads of each
	// declaration.
	declTargets map[*pb.Input]*declTarget
	// plans are the walk's plans the layers share (see walkPlan); planBuf
	// is the walk's buffer for its own.
	plans     *walkPlans
	planBuf   []plannedDecl
	byVersion map[*index.Version]*candidate
	byRef     map[*index.Ref]*candidate
	// byLockNode caches the candidates lock nodes pin; standIns are the
	// stand-in flakes of trees no index has, by source.
	byLockNode map[lockKey]*candidate
	standIns   map[string]*index.Flake
	nodes      map[nodeKey]*node
	// allowed are the versions shrinking kept (nil before it); lockPinned
	// the versions some reachable lock pins, which it keeps whole.
	allowed    kept
	lockPinned map[*index.Version]bool
	// pinnedTrees numbers the trees of lockPinned versions, for
	// shrinking's signatures.
	pinnedTrees map[[2]string]int32
}

// graph is the inputs the request reaches: instances of candidates under
// their overrides and locks, and their slots.
type graph struct {
	instances []*instance
	byKey     map[instanceKey]*instance
	ctxIDs    map[string]int32 // see ctxID
	root      *instance
	choices   int // candidates of every slot, counted against the clause limit
}

// problem is the pseudo-boolean encoding.
type problem struct {
	nvars     int
	cons      []constraint
	groups    []*group
	groupKeys map[groupKey]*group
	xs        []*node // nodes with a variable, in variable order
	// objective is the policy's criteria, most important first.
	objective []sum
}

// Resolve finds the pins for a request against the layered indexes.
func Resolve(ctx context.Context, layers *index.Layers, req *Request) (*Answer, error) {
	r := &resolver{
		ctx: ctx, req: req, lim: req.Limits.withDefaults(), start: time.Now(),
		universe: universe{
			layers: layers, indirect: req.Indirect, targets: map[string]*target{}, reqs: map[string]*versionreq.Req{}, declTargets: map[*pb.Input]*declTarget{},
			byVersion: map[*index.Version]*candidate{}, byRef: map[*index.Ref]*candidate{},
			byLockNode: map[lockKey]*candidate{}, standIns: map[string]*index.Flake{},
			nodes: map[nodeKey]*node{}, lockPinned: map[*index.Version]bool{}, pinnedTrees: map[[2]string]int32{},
		},
		graph:   graph{byKey: map[instanceKey]*instance{}, ctxIDs: map[string]int32{}},
		problem: problem{groupKeys: map[groupKey]*group{}},
	}
	if err := r.checkSize(); err != nil {
		return nil, err
	}
	if err := r.checkRequest(); err != nil {
		return nil, err
	}
	if err := r.shrink(); err != nil {
		return nil, r.wrap(err)
	}
	if err := r.expand(); err != nil {
		return nil, r.wrap(err)
	}
	r.assignVars()
	r.encode()
	if err := r.ctx.Err(); err != nil {
		return nil, r.wrap(err)
	}
	r.stats.Variables, r.stats.Clauses = r.nvars, len(r.cons)
	if len(r.cons) > r.lim.MaxClauses {
		return nil, r.limit(LimitClauses, len(r.cons), r.lim.MaxClauses)
	}
	for _, c := range r.cons {
		r.stats.Memory += constraintBytes + literalBytes*int64(len(c.lits))
	}
	if err := r.checkMemory(); err != nil {
		return nil, err
	}
	model, err := r.optimize()
	if err != nil {
		return nil, r.wrap(err)
	}
	if model == nil {
		return nil, r.explain()
	}
	return r.decode(model)
}

// checkRequest validates what the caller wrote, naming the field.
func (r *resolver) checkRequest() error {
	if len(r.req.Inputs) == 0 {
		return &RequestError{Field: "inputs", Msg: "empty; expected at least one input such as {\"nixpkgs\": {\"url\": \"github:NixOS/nixpkgs\", \"version\": \"^0.2505\"}}"}
	}
	var check func(prefix string, decls map[string]*pb.Input) error
	check = func(prefix string, decls map[string]*pb.Input) error {
		for _, name := range slices.Sorted(maps.Keys(decls)) {
			d, field := decls[name], prefix+"."+name
			if err := CheckInputName(name); err != nil {
				return &RequestError{Field: prefix, Msg: err.Error()}
			}
			if err := r.ctx.Err(); err != nil {
				return r.wrap(err)
			}
			switch {
			case d == nil:
				return &RequestError{Field: field, Msg: "empty input"}
			case d.Follows != nil && d.Url != "":
				return &RequestError{Field: field, Msg: "has both url and follows; an input either has a reference or follows another"}
			case d.Follows != nil && *d.Follows != "":
				if err := checkInputPath(*d.Follows); err != nil {
					return &RequestError{Field: field + ".follows", Msg: err.Error()}
				}
			case d.Url != "":
				if t := r.target(d.Url); t.err != nil {
					return &RequestError{Field: field + ".url", Msg: t.err.Error()}
				}
			case d.Follows == nil && d.Version == "" && len(d.Inputs) == 0:
				return &RequestError{Field: field, Msg: "has neither url nor follows"}
			}
			if d.Version != "" {
				if _, err := r.requirement(d.Version); err != nil {
					return &RequestError{Field: field + ".version", Msg: err.Error()}
				}
			}
			if err := check(field+".inputs", d.Inputs); err != nil {
				return err
			}
		}
		return nil
	}
	if err := check("inputs", r.req.Inputs); err != nil {
		return err
	}
	for i, path := range r.req.Update {
		if err := checkInputPath(path); err != nil {
			return &RequestError{Field: fmt.Sprintf("update[%d]", i), Msg: err.Error()}
		}
	}
	for i, name := range r.req.Single {
		if _, err := r.layers.Lookup(name); err != nil {
			return &RequestError{Field: fmt.Sprintf("single[%d]", i), Msg: err.Error()}
		}
	}
	return nil
}

func (r *resolver) wrap(err error) error {
	if err == context.DeadlineExceeded || err == context.Canceled {
		r.stats.Duration = time.Since(r.start)
		return &LimitError{Limit: LimitDeadline, Stats: r.stats, Canceled: err == context.Canceled}
	}
	return err
}

func (r *resolver) limit(what Limit, value, max int) error {
	r.stats.Duration = time.Since(r.start)
	r.stats.Variables, r.stats.Clauses = r.nvars, len(r.cons)
	return &LimitError{Limit: what, Value: value, Max: max, Stats: r.stats}
}

// The costs of the estimate of a resolution's memory (Stats.Memory): a
// version the walk reaches (its maps and requirement cuts), an instance
// with its maps, an override in its context, a slot, one choice of a slot (its candidate,
// child, variable and follows alternatives), a constraint and one literal
// of it (with its weight and the optimiser's copy). They are calibrated by
// BenchmarkMemoryEstimate so that the estimate is near the bytes a
// resolution allocates (BENCHMARKS.md), which bounds what it holds live.
const (
	reachedBytes    = 192
	instanceBytes   = 1344
	overrideBytes   = 48
	slotBytes       = 672
	choiceBytes     = 136
	constraintBytes = 288
	literalBytes    = 48
)

// checkMemory refuses a problem whose estimated memory is over the limit.
func (r *resolver) checkMemory() error {
	if r.stats.Memory > r.lim.MaxMemory {
		return r.limit(LimitMemory, int(r.stats.Memory), int(r.lim.MaxMemory))
	}
	return nil
}

func (r *resolver) newVar() int {
	r.nvars++
	return r.nvars
}
