package solver

import (
	"fmt"
	"strings"
	"time"
)

// ConflictError says no answer exists, and why, as data: the declarations
// that cannot hold together (a minimal set of them when Minimal), and
// changes that would lift the conflict, each tried.
type ConflictError struct {
	Causes []Cause
	Hints  []Hint
	// Minimal is false when the explanation stopped at the deadline: the
	// causes still cannot hold together, but fewer of them might not
	// either.
	Minimal bool
}

// CauseKind is what kind of declaration a cause is.
type CauseKind int

const (
	// CauseRootRequirement: a root input's requirement (or, unversioned, the
	// one tree its reference names).
	CauseRootRequirement CauseKind = iota + 1
	// CauseDependencyRequirement: what versions of a flake require of one of
	// their inputs.
	CauseDependencyRequirement
	// CauseFollows: a follows declaration, with the version written on it or
	// a path that does not exist.
	CauseFollows
	// CauseSingleFlake: a flake the request wants as one tree.
	CauseSingleFlake
	// CauseStrategyLimit: the strategy's limit on trees of a flake (one per
	// compatible range for cargo, one for single).
	CauseStrategyLimit
	// CauseMissingFlake: a requirement on a flake no index has.
	CauseMissingFlake
)

// Cause is one declaration of a conflict.
type Cause struct {
	Kind CauseKind
	// Flake is the flake the declaration is about (for a missing flake,
	// its reference); Requirement the requirement as written; Admitted
	// the flake's versions it admits, newest first (none: nothing
	// matches, and Detail says what there is).
	Flake       string
	Requirement string
	Admitted    []string
	// DeclaredBy is the flake and versions that declare it; nil for the
	// root flake.
	DeclaredBy *Declarer
	// Input is the input the declaration is on: a root input's name, a
	// dependency's input name, or the follows path.
	Input string
	// Chains are the input paths that reach the declaring flake, each a
	// list of input names from the root: every one that contributes.
	Chains [][]string
	// Detail: the compatible range of a cargo limit, why nothing
	// matches, or what a follows leads to.
	Detail string
	// KeptByLock is the version (or "ref:NAME") the existing lock keeps
	// for the input, when that pin is the declaration's only choice: the
	// requirement admits more, the lock holds it to this one.
	KeptByLock string
}

// Declarer is a flake and the versions of it that declare something.
type Declarer struct {
	Flake    string
	Versions []string
}

// Hint is a change to the request and what resolving with it gives.
type Hint struct {
	Change Change
	// Tried says the change was resolved: Resolves is then whether an
	// answer exists, Pins the root inputs' pins in it ("hyprland
	// 0.34.0"). A hint the deadline left untried says nothing.
	Tried, Resolves bool
	Pins            []string
}

// ChangeKind is a kind of change to a request.
type ChangeKind int

const (
	// ChangeRelaxRequirement: give input Path the requirement To instead of
	// From (for a dependency's input, an override in the root flake).
	ChangeRelaxRequirement ChangeKind = iota + 1
	// ChangeAllowSeveral: drop Flake from the flakes wanted as one tree.
	ChangeAllowSeveral
	// ChangeUpdateInput: release the existing lock's pins at Path.
	ChangeUpdateInput
	// ChangeUseStrategy: resolve with Strategy.
	ChangeUseStrategy
)

// Change is one change to a request.
type Change struct {
	Kind           ChangeKind
	Path, From, To string
	Flake          string
	Strategy       Strategy
}

func (e *ConflictError) Error() string {
	var b strings.Builder
	b.WriteString("no set of pins satisfies every requirement:\n")
	for _, c := range e.Causes {
		b.WriteString("  - " + c.String() + "\n")
	}
	if !e.Minimal {
		b.WriteString("  (the explanation stopped at the deadline: fewer of these may clash)\n")
	}
	var tried []string
	for _, h := range e.Hints {
		tried = append(tried, h.String())
	}
	if len(tried) > 0 {
		b.WriteString("to resolve it:\n  - " + strings.Join(tried, "\n  - "))
	}
	return strings.TrimRight(b.String(), "\n")
}

func (c Cause) String() string {
	who := "root"
	if c.DeclaredBy != nil {
		who = c.DeclaredBy.String()
		if len(c.Chains) > 0 {
			who += " (reached through " + chainsText(c.Chains) + ")"
		}
	}
	switch c.Kind {
	case CauseRootRequirement:
		if c.Requirement == "" {
			return fmt.Sprintf("root input %q locks %s%s%s", c.Input, c.Flake, admitted(c), keptText(c))
		}
		return fmt.Sprintf("root input %q requires %s %s%s%s", c.Input, c.Flake, c.Requirement, admitted(c), keptText(c))
	case CauseDependencyRequirement:
		if c.Requirement == "" {
			return fmt.Sprintf("%s locks its input %q to %s%s", who, c.Input, c.Flake, admitted(c))
		}
		return fmt.Sprintf("%s requires %s %s for its input %q%s", who, c.Flake, c.Requirement, c.Input, admitted(c))
	case CauseFollows:
		if c.Requirement != "" {
			return fmt.Sprintf("%s declares %s with version %s%s", who, c.Input, c.Requirement, detail(c))
		}
		return fmt.Sprintf("%s declares %s%s", who, c.Input, detail(c))
	case CauseSingleFlake:
		return fmt.Sprintf("%s must resolve to a single tree (the request lists it in single)", c.Flake)
	case CauseStrategyLimit:
		return fmt.Sprintf("the strategy allows one tree of %s%s", c.Flake, detail(c))
	case CauseMissingFlake:
		return fmt.Sprintf("%s requires %s %s, but %s", who, c.Flake, c.Requirement, c.Detail)
	}
	return fmt.Sprintf("CauseKind(%d)", int(c.Kind))
}

// keptText says that the existing lock holds an input to one of the versions
// its requirement admits.
func keptText(c Cause) string {
	if c.KeptByLock == "" {
		return ""
	}
	return ", and flake.lock keeps " + c.KeptByLock
}

func (d *Declarer) String() string {
	return d.Flake + " " + versionRange(d.Versions)
}

// versionRange names versions compactly: "0.50.0", "0.49.0, 0.50.0", or
// "0.45.0 to 0.50.0 (6 versions)"; they are newest first.
func versionRange(vs []string) string {
	switch n := len(vs); {
	case n == 0:
		return ""
	case n <= 3:
		return strings.Join(vs, ", ")
	default:
		return fmt.Sprintf("%s to %s (%d versions)", vs[n-1], vs[0], n)
	}
}

func admitted(c Cause) string {
	switch len(c.Admitted) {
	case 0:
		if c.Detail != "" {
			return ", but " + c.Detail
		}
		return ", which nothing meets"
	case 1:
		return " (only " + c.Admitted[0] + " matches)"
	}
	return " (matching " + versionRange(c.Admitted) + ")"
}

func detail(c Cause) string {
	if c.Detail == "" {
		return ""
	}
	return " (" + c.Detail + ")"
}

func chainsText(chains [][]string) string {
	var out []string
	for _, ch := range chains {
		out = append(out, strings.Join(append([]string{"root"}, ch...), " → "))
	}
	return strings.Join(out, ", ")
}

func (h Hint) String() string {
	var s string
	c := h.Change
	switch c.Kind {
	case ChangeRelaxRequirement:
		s = fmt.Sprintf("relax %s %s → %s", c.Path, c.From, c.To)
	case ChangeAllowSeveral:
		s = fmt.Sprintf("allow several trees of %s (drop it from single)", c.Flake)
	case ChangeUpdateInput:
		s = fmt.Sprintf("update %s (release its pin in flake.lock)", c.Path)
	case ChangeUseStrategy:
		s = fmt.Sprintf("use the %s strategy", c.Strategy)
	}
	switch {
	case !h.Tried:
		return s + " (not tried before the deadline)"
	case !h.Resolves:
		return s + ": still no answer"
	}
	return s + ": resolves, " + strings.Join(h.Pins, ", ")
}

// Limit is a bound a resolution can hit.
type Limit int

const (
	LimitDeadline Limit = iota + 1
	LimitReachable
	LimitCandidates
	LimitClauses
	LimitPaths
	LimitWork
	LimitDepth
	LimitDeclarations
	LimitFieldLength
	LimitConcurrency
	LimitMemory
)

var limitNames = [...]string{LimitDeadline: "deadline", LimitReachable: "reachable versions", LimitCandidates: "candidates", LimitClauses: "clauses", LimitPaths: "paths", LimitWork: "work",
	LimitDepth: "nesting depth", LimitDeclarations: "declarations", LimitFieldLength: "field length", LimitConcurrency: "concurrent solves", LimitMemory: "memory"}

func (l Limit) String() string { return limitNames[l] }

// LimitError says a resolution hit a limit, which, and how big the problem
// was.
type LimitError struct {
	Limit Limit
	Value int
	Max   int
	Stats Stats
	// Canceled is true when the caller went away.
	Canceled bool
	// Field names the request field measured, for limits on the request
	// itself (depth, declarations, field length).
	Field string
}

func (e *LimitError) Error() string {
	s := e.Stats
	size := fmt.Sprintf("%d reachable versions, %d candidates, %d variables, %d clauses", s.Reachable, s.Candidates, s.Variables, s.Clauses)
	if e.Limit == LimitDeadline {
		if e.Canceled {
			return fmt.Sprintf("resolution canceled after %s (problem: %s)", s.Duration.Round(time.Millisecond), size)
		}
		return fmt.Sprintf("resolution hit its deadline after %s with no answer yet (problem: %s); allow more time or narrow the requirements", s.Duration.Round(time.Millisecond), size)
	}
	switch e.Limit {
	case LimitDepth, LimitDeclarations, LimitFieldLength:
		return fmt.Sprintf("request exceeds the %s limit at %s: %d > %d", e.Limit, e.Field, e.Value, e.Max)
	case LimitConcurrency:
		return fmt.Sprintf("the server is busy: %d solves running and its queue is full or the call's deadline passed in it; retry later", e.Max)
	}
	return fmt.Sprintf("resolution exceeds the %s limit: %d > %d (problem so far: %s)", e.Limit, e.Value, e.Max, size)
}
