package solver

import (
	"fmt"
	"time"

	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Request is what to resolve: the root inputs, declared the way a flake.nix
// declares them, and how.
type Request struct {
	Inputs map[string]*pb.Input
	// Strategy defaults to Newest.
	Strategy Strategy
	// Single names flakes that must resolve to exactly one tree.
	Single []string
	// UnversionedAny treats inputs without a version requirement as "*"
	// instead of locking them to their ref like Nix does.
	UnversionedAny bool
	// Lock is the existing flake.lock, if any: an unversioned input keeps
	// its pin when its declaration is unchanged (as Nix keeps it), a
	// versioned one when the pin still satisfies the requirement (like
	// Cargo.lock).
	Lock *lockfile.Node
	// Update names input paths whose pins in Lock (and the pins beneath
	// them) are released, like cargo update -p.
	Update []string
	// Limits bound the work.
	Limits Limits
	// Indirect, when set, resolves an indirect reference (nixpkgs,
	// flake:foo/ref) through flake registries before the index names do,
	// as Nix resolves one.
	Indirect Registries
	// trial marks a resolution that tries a hint: only whether it
	// answers matters, so a conflict is not explained.
	trial bool
}

// Registries look indirect references up as Nix does, before the index
// names: ok is false when no registry has the reference. String names the
// registries, for the message of a reference none of them has and no index
// names.
type Registries interface {
	Lookup(ref *pb.FlakeRef) (resolved *pb.FlakeRef, ok bool, err error)
	String() string
}

// Limits bound one resolution. Zero fields take the defaults.
type Limits struct {
	// MaxReachable bounds the versions the request can reach.
	MaxReachable int
	// MaxCandidates bounds the candidate versions after shrinking.
	MaxCandidates int
	// MaxClauses bounds the encoded problem.
	MaxClauses int
	// MaxPaths bounds the input paths of the answer (Nix's lock nodes).
	MaxPaths int
	// Effort bounds the time spent improving on the first answer and
	// proving it optimal; the answer's stats say what was proven.
	Effort time.Duration
	// Work, when positive, bounds the whole solve in units of solver work
	// (propagations and conflicts): unlike a time, a search it cuts short
	// ends at the same answer on every run.
	Work int64
	// MaxDepth bounds the nesting of the request's inputs (overrides of
	// overrides); MaxDeclarations the inputs it declares at every depth,
	// with the lock file's nodes, single flakes and update paths;
	// MaxFieldLength the bytes of any one of its strings. All three are
	// measured before anything is built from the request (CheckSize).
	MaxDepth, MaxDeclarations, MaxFieldLength int
	// MaxMemory bounds the estimated bytes of the problem's structures
	// (Stats.Memory), checked as they are built.
	MaxMemory int64
}

// DefaultLimits are generous enough for a 20,000-flake ecosystem and small
// enough that one call to gophersat cannot run away.
var DefaultLimits = Limits{MaxReachable: 1_000_000, MaxCandidates: 200_000, MaxClauses: 2_000_000, MaxPaths: 100_000, Effort: 2 * time.Second,
	MaxDepth: 32, MaxDeclarations: 100_000, MaxFieldLength: 4096, MaxMemory: 4 << 30}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	l.MaxReachable = positiveOr(l.MaxReachable, d.MaxReachable)
	l.MaxCandidates = positiveOr(l.MaxCandidates, d.MaxCandidates)
	l.MaxClauses = positiveOr(l.MaxClauses, d.MaxClauses)
	l.Effort = positiveOr(l.Effort, d.Effort)
	l.MaxPaths = positiveOr(l.MaxPaths, d.MaxPaths)
	l.MaxDepth = positiveOr(l.MaxDepth, d.MaxDepth)
	l.MaxDeclarations = positiveOr(l.MaxDeclarations, d.MaxDeclarations)
	l.MaxFieldLength = positiveOr(l.MaxFieldLength, d.MaxFieldLength)
	l.MaxMemory = positiveOr(l.MaxMemory, d.MaxMemory)
	return l
}

// positiveOr is v, or d when v is no bound (zero or negative).
func positiveOr[T int | int64 | time.Duration](v, d T) T {
	if v <= 0 {
		return d
	}
	return v
}

// Answer is a resolution.
type Answer struct {
	// Paths pins every input path, sorted by path.
	Paths []*PathPin
	// Nodes are the distinct trees, sorted by flake then newest first.
	Nodes []*Node
	// Duplicates explains every flake that has more than one node.
	Duplicates []*Duplicate
	Stats      Stats
}

// PathPin is the resolution of one input path: pinned to Node, following
// the path Follows, or Unpinned.
type PathPin struct {
	Path string
	Kind PinKind
	Node *Node
	// Locked is the tree as the lock records it at this path, which may
	// differ from Node.Locked in what the lock says of it (the ref it was
	// fetched through); Original, for a pin taken from a lock, is what
	// that lock recorded as the input (nil: the declaration is).
	Locked, Original *pb.FlakeRef
	// Origin says where the pin comes from; Ref is the ref it was fetched
	// through, for a ref head or a rev.
	Origin Origin
	Ref    string
	// Follows is the input path this one follows; empty is the root flake
	// itself.
	Follows []string
	// Unpinned says why the path has no pin (its flake is in no index and
	// no lock pins it).
	Unpinned string
	// URL is the input's reference as declared; DeclaredURL, when an
	// override from above replaced it by url, the owner's own.
	URL, DeclaredURL string
	// Requirement is the version requirement on this edge, if any.
	Requirement string
	// NotFlake marks a flake = false input: a plain source tree, which
	// Nix locks without reading inputs from it.
	NotFlake bool
}

// PinKind says how an input path is resolved.
type PinKind int

const (
	Pinned PinKind = iota
	Follows
	Unpinned
)

// Origin says where a path's pin comes from.
type Origin int

const (
	// OriginRequirement is a version the edge's requirement admits,
	// chosen by the resolver.
	OriginRequirement Origin = iota + 1
	// OriginRefHead is the head of the ref the reference names, or of
	// the default branch: an unversioned input, locked as Nix locks it.
	OriginRefHead
	// OriginRev is the tree the reference's rev names.
	OriginRev
	// OriginDependencyLock is the pin of the declaring flake's own
	// committed flake.lock.
	OriginDependencyLock
	// OriginExistingLock is the pin of the existing flake.lock, kept.
	OriginExistingLock
)

func (o Origin) String() string {
	switch o {
	case OriginRequirement:
		return "requirement"
	case OriginRefHead:
		return "ref head"
	case OriginRev:
		return "rev"
	case OriginDependencyLock:
		return "dependency lock"
	case OriginExistingLock:
		return "existing lock"
	}
	return fmt.Sprintf("Origin(%d)", int(o))
}

// Node is one distinct tree that one or more paths pin.
type Node struct {
	Flake string
	// Version is the flake version, or "" for a ref head.
	Version string
	// Ref is the ref whose head this is, for unversioned inputs.
	Ref    string
	Locked *pb.FlakeRef
	// External marks a tree no index has, pinned by a lock file; Flake
	// then names its source.
	External bool
	// Paths that pin this tree (follows excluded), sorted.
	Paths []string
}

// Label is "flake version", "flake ref:branch", or for a tree that is
// neither, "flake rev:REV" (abbreviated).
func (n *Node) Label() string {
	switch {
	case n.Version != "":
		return n.Flake + " " + n.Version
	case n.Ref != "":
		return n.Flake + " ref:" + n.Ref
	}
	if n.Locked.Rev == "" {
		return n.Flake + " " + n.Locked.NarHash
	}
	return n.Flake + " rev:" + shortRev(n.Locked.Rev)
}

// Duplicate says why a flake appears in several versions: for each of its
// nodes, the edges that pin it and what they require.
type Duplicate struct {
	Flake string
	Edges []Edge
}

// Edge is one declaration that pins a node.
type Edge struct {
	Path string
	// DeclaredBy is "root" or the declaring node's label.
	DeclaredBy  string
	Requirement string
	Node        *Node
}

// Stats describe the problem and its solution.
type Stats struct {
	// Reachable counts versions and refs reachable before shrinking;
	// Candidates counts those kept.
	Reachable, Candidates int
	Variables, Clauses    int
	SATCalls              int
	// Work is the solver work spent (propagations and conflicts).
	Work int64
	// Memory is the estimated bytes of the problem's structures: instances,
	// choices and constraints, each at a fixed cost (see memoryOf).
	Memory int64
	// Objective says, per criterion of the policy's objective, the value
	// the answer reaches and the lower bound proven for it.
	Objective []Bound
	// FirstAnswer is when the first valid answer was found; Duration is
	// the whole resolution.
	FirstAnswer, Duration time.Duration
}

// Bound is what a resolution knows of one criterion: the answer's value,
// and a lower bound no answer can beat (given the criteria before it).
// Proven says Lower == Value: the criterion is optimal.
type Bound struct {
	Criterion    Criterion
	Value, Lower int
	Proven       bool
}

// Proven says whether every criterion of the objective is proven optimal.
func (s Stats) Proven() bool {
	for _, b := range s.Objective {
		if !b.Proven {
			return false
		}
	}
	return true
}

// RequestError is a malformed request, with the field at fault.
type RequestError struct {
	Field string
	Msg   string
}

func (e *RequestError) Error() string { return e.Field + ": " + e.Msg }
