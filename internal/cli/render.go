package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// This file renders the API's typed answers and errors as text for people:
// the one place conflicts, hints, version choices and explanations become
// English.

// errorText is an error as the command line prints it.
func errorText(err error) string {
	var ce *solver.ConflictError
	if errors.As(err, &ce) {
		return conflictText(service.ConflictProto(ce))
	}
	return err.Error()
}

// conflictText says why no answer exists and what would give one.
func conflictText(c *pb.Conflict) string {
	var b strings.Builder
	b.WriteString("no set of pins satisfies every requirement:\n")
	for _, cause := range c.Causes {
		b.WriteString("  - " + causeText(cause) + "\n")
	}
	if !c.Minimal {
		b.WriteString("  (the explanation stopped at its deadline: fewer of these may clash)\n")
	}
	if len(c.Hints) > 0 {
		b.WriteString("to resolve it:\n")
		for _, h := range c.Hints {
			b.WriteString("  - " + hintText(h) + "\n")
		}
	}
	return strings.TrimRight(b.String(), "\n")
}

// causeText is one declaration of a conflict, as
// `hyprland 0.34.0 (reached through root → hyprland) requires
// hyprland-protocols ^0.2.0 for its input "hyprland-protocols" (only 0.2.0
// matches)`.
func causeText(c *pb.ConflictCause) string {
	who := "root"
	if d := c.DeclaredBy; d != nil {
		who = strings.TrimSpace(d.Flake + " " + versionsText(d.Versions))
		if len(c.Chains) > 0 {
			var chains []string
			for _, ch := range c.Chains {
				chains = append(chains, strings.Join(append([]string{"root"}, ch.Names...), " → "))
			}
			who += " (reached through " + strings.Join(chains, ", ") + ")"
		}
	}
	switch c.Kind {
	case pb.ConflictCause_KIND_ROOT_REQUIREMENT:
		if c.Requirement == "" {
			return fmt.Sprintf("root input %q locks %s%s", c.Input, c.Flake, admittedText(c))
		}
		return fmt.Sprintf("root input %q requires %s %s%s", c.Input, c.Flake, c.Requirement, admittedText(c))
	case pb.ConflictCause_KIND_DEPENDENCY_REQUIREMENT:
		if c.Requirement == "" {
			return fmt.Sprintf("%s locks its input %q to %s%s", who, c.Input, c.Flake, admittedText(c))
		}
		return fmt.Sprintf("%s requires %s %s for its input %q%s", who, c.Flake, c.Requirement, c.Input, admittedText(c))
	case pb.ConflictCause_KIND_FOLLOWS:
		if c.Requirement != "" {
			return fmt.Sprintf("%s declares %s with version %s%s", who, c.Input, c.Requirement, detailText(c))
		}
		return fmt.Sprintf("%s declares %s%s", who, c.Input, detailText(c))
	case pb.ConflictCause_KIND_SINGLE_FLAKE:
		return fmt.Sprintf("%s must resolve to a single tree (the request lists it in single_flakes)", c.Flake)
	case pb.ConflictCause_KIND_STRATEGY_LIMIT:
		return fmt.Sprintf("the strategy allows one tree of %s%s", c.Flake, detailText(c))
	case pb.ConflictCause_KIND_MISSING_FLAKE:
		return fmt.Sprintf("%s requires %s %s, but %s", who, c.Flake, c.Requirement, c.Detail)
	case pb.ConflictCause_KIND_NO_MATCH:
		return fmt.Sprintf("%s requires %s %s, but no version matches%s", who, c.Flake, c.Requirement, detailText(c))
	}
	// A kind this client does not know: the detail is all it can say.
	return strings.TrimSpace(c.Detail)
}

func admittedText(c *pb.ConflictCause) string {
	switch len(c.AdmittedVersions) {
	case 0:
		if c.Detail != "" {
			return ", but " + c.Detail
		}
		return ", which nothing meets"
	case 1:
		return " (only " + c.AdmittedVersions[0] + " matches)"
	}
	return " (matching " + versionsText(c.AdmittedVersions) + ")"
}

func detailText(c *pb.ConflictCause) string {
	if c.Detail == "" {
		return ""
	}
	return " (" + c.Detail + ")"
}

// versionsText names versions (newest first) compactly: "0.50.0",
// "0.50.0, 0.49.0", or "0.45.0 to 0.50.0 (6 versions)".
func versionsText(vs []string) string {
	switch n := len(vs); {
	case n == 0:
		return ""
	case n <= 3:
		return strings.Join(vs, ", ")
	default:
		return fmt.Sprintf("%s to %s (%d versions)", vs[n-1], vs[0], n)
	}
}

// hintText is a change and what resolving with it gives, as
// "relax hyprland ^0.50 → ^0.34: resolves, hyprland 0.34.0".
func hintText(h *pb.ConflictHint) string {
	var s string
	switch c := h.Change.(type) {
	case *pb.ConflictHint_RelaxRequirement:
		s = fmt.Sprintf("relax %s %s → %s", c.RelaxRequirement.Path, c.RelaxRequirement.Requirement, c.RelaxRequirement.RelaxedRequirement)
	case *pb.ConflictHint_AddFollows:
		s = fmt.Sprintf("make %s follow %s", c.AddFollows.Path, c.AddFollows.Follows)
	case *pb.ConflictHint_AllowSeveral:
		s = fmt.Sprintf("allow several trees of %s (drop it from single_flakes)", c.AllowSeveral.Flake)
	case *pb.ConflictHint_UpdateInput:
		s = fmt.Sprintf("update %s (release its pin in flake.lock)", c.UpdateInput.Path)
	case *pb.ConflictHint_UseStrategy:
		s = fmt.Sprintf("use the %s strategy", strategyName(c.UseStrategy.Strategy))
	default:
		s = "a change this client does not know"
	}
	switch o := h.Outcome; {
	case o == nil:
		return s + ": not tried before the deadline"
	case !o.Resolves:
		return s + ": still no answer"
	}
	return s + ": resolves, " + strings.Join(h.Outcome.Pins, ", ")
}

// strategyName is a strategy as --strategy spells it.
func strategyName(s pb.Strategy) string {
	if st, err := solver.StrategyFromProto(s); err == nil {
		return st.String()
	}
	return s.String()
}

// printChoice says which versions the caller can use.
func printChoice(w io.Writer, c *pb.VersionChoice) {
	or := func(v, none string) string {
		if v == "" {
			return none
		}
		return v
	}
	fmt.Fprintf(w, "root input %q: current %s, wanted %s, latest %s\n", c.Input,
		or(c.CurrentVersion, "none (no flake.lock pins a version)"), or(c.WantedVersion, "none (no version resolves)"), or(c.LatestVersion, "none"))
	if len(c.HeldBackBy) > 0 {
		fmt.Fprintf(w, "held back by:\n")
		for _, cause := range c.HeldBackBy {
			fmt.Fprintf(w, "  - %s\n", causeText(cause))
		}
	}
}

// declarerLabel names the tree that declares an input; nil is the root.
func declarerLabel(d *pb.FlakeVersionRef) string {
	switch {
	case d == nil:
		return "root"
	case d.Version != "":
		return d.Flake + " " + d.Version
	case d.Ref != "":
		return d.Flake + " ref:" + d.Ref
	case d.Flake != "":
		return d.Flake
	}
	return "a tree no index has"
}

// joinAnd joins words as "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}
