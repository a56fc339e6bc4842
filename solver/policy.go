package solver

import (
	"fmt"
	"strings"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Strategy is a resolution policy: which answers are allowed (a limit on
// the trees of one flake) and which of them is best (an objective, a list
// of criteria minimised in order). Policies is the table of them; the CLI
// and the service name strategies from it.
type Strategy int

const (
	Newest Strategy = iota
	Fewest
	Cargo
	Single
)

// Criterion is one level of an objective, a sum over the answer.
type Criterion int

const (
	// RootStaleness sums, over the root inputs, how many versions of the
	// input's flake are newer than its pin: what the user asked for, at its
	// newest.
	RootStaleness Criterion = iota
	// Duplicates sums, over the flakes, the answer's trees of the flake
	// beyond the first.
	Duplicates
	// Staleness sums, over the answer's trees, how many versions of their
	// flake are newer.
	Staleness
	// Trees counts the answer's distinct trees.
	Trees
)

var criterionNames = [...]string{RootStaleness: "root staleness", Duplicates: "duplicates", Staleness: "staleness", Trees: "trees"}

func (c Criterion) String() string { return criterionNames[c] }

// TreeLimit says how many trees of one flake an answer may hold.
type TreeLimit int

const (
	// Unlimited: as many as requirements force (Nix allows any number).
	Unlimited TreeLimit = iota
	// PerRange: one per semver-compatible range (1.x.y, 0.2.x, 0.0.3).
	PerRange
	// PerFlake: one.
	PerFlake
)

// Policy is one row of the strategy table.
type Policy struct {
	Strategy  Strategy
	Name      string
	Proto     pb.Strategy
	Doc       string
	Limit     TreeLimit
	Objective []Criterion
	// NewerNeverWorse holds when replacing a version by a newer one that
	// every requirement treats alike and that declares the same inputs
	// never worsens the objective. Shrinking keeps only the newest of
	// such versions, and may do so only where this holds.
	NewerNeverWorse bool
}

// Policies is the strategy table; the first row is the default.
var Policies = []Policy{
	{Newest, "newest", pb.Strategy_STRATEGY_NEWEST,
		"what you asked for at its newest, then the fewest duplicate trees, then the newest beneath",
		Unlimited, []Criterion{RootStaleness, Duplicates, Staleness, Trees}, true},
	{Fewest, "fewest", pb.Strategy_STRATEGY_FEWEST,
		"the fewest distinct trees, then the newest",
		Unlimited, []Criterion{Trees, Staleness}, true},
	{Cargo, "cargo", pb.Strategy_STRATEGY_CARGO,
		"one version per semver-compatible range, as Cargo allows; ranked as newest",
		PerRange, []Criterion{RootStaleness, Duplicates, Staleness, Trees}, true},
	{Single, "single", pb.Strategy_STRATEGY_SINGLE,
		"one tree per flake; ranked as newest",
		PerFlake, []Criterion{RootStaleness, Staleness, Trees}, true},
}

// Policy is the strategy's row of the table.
func (s Strategy) Policy() Policy { return Policies[s] }

func (s Strategy) String() string { return Policies[s].Name }

// ParseStrategy reads a strategy name; "" is the default.
func ParseStrategy(name string) (Strategy, error) {
	if name == "" {
		return Policies[0].Strategy, nil
	}
	for _, p := range Policies {
		if p.Name == name {
			return p.Strategy, nil
		}
	}
	return 0, fmt.Errorf("strategy %q: expected %s", name, StrategyNames())
}

// StrategyFromProto reads the wire form; STRATEGY_UNSPECIFIED is the
// default, and a value the table lacks is an error.
func StrategyFromProto(s pb.Strategy) (Strategy, error) {
	if s == pb.Strategy_STRATEGY_UNSPECIFIED {
		return Policies[0].Strategy, nil
	}
	for _, p := range Policies {
		if p.Proto == s {
			return p.Strategy, nil
		}
	}
	return 0, fmt.Errorf("unknown strategy %d; expected %s", s, StrategyNames())
}

// StrategyNames lists the names, as "newest, fewest, cargo or single".
func StrategyNames() string {
	names := make([]string, len(Policies))
	for i, p := range Policies {
		names[i] = p.Name
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}
