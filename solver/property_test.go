package solver

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/rogpeppe/go-internal/txtar"
)

var propertyCases = flag.Int("cases", 5000, "generated universes for TestProperty")

// randomFixture writes a small random universe as fixture text, so a failing
// case prints as a fixture that reproduces it. Flakes only depend on flakes
// after them (Nix flakes can form cycles, exhaustive search cannot), and
// versions share input declarations often enough to exercise shrinking.
func randomFixture(rng *rand.Rand) string {
	pool := []string{"0.1.0", "0.1.3", "0.2.0", "1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0-rc.1", "2.1.0"}
	reqs := []string{"^0.1", "^1", "^1.1", "^2", ">=1.0.0", "*", "=1.0.0", "~1.1", "<2", ">=0.2.0, <2.0.0", "^2.1.0-rc.1", "^1.2", "^0.2", "^3"}
	n := 2 + rng.IntN(4)
	name := func(i int) string { return fmt.Sprintf("f%d", i) }
	hasRef := make([]bool, n)
	var b strings.Builder
	b.WriteString("-- universe --\n")
	for i := range n {
		hasRef[i] = rng.IntN(4) == 0
	}
	for i := range n {
		// Two input templates per flake; each version takes one.
		var templates [2][]string
		for t := range templates {
			var deps []int
			for j := i + 1; j < n; j++ {
				if rng.IntN(3) == 0 {
					deps = append(deps, j)
				}
			}
			var real []int
			for _, j := range deps {
				line := "  " + name(j)
				switch {
				case hasRef[j] && rng.IntN(5) == 0:
				case rng.IntN(6) == 0:
					// Unversioned, locked by the flake's own flake.lock: to
					// a version, or to a tree no index has, whose own
					// inputs the lock then pins too.
					templates[t] = append(templates[t], line)
					if rng.IntN(2) == 0 {
						templates[t] = append(templates[t], fmt.Sprintf("  lock %s %s %s", name(j), name(j), pool[rng.IntN(len(pool))]))
					} else {
						templates[t] = append(templates[t], fmt.Sprintf("  lock %s %s@old", name(j), name(j)))
						if j+1 < n {
							templates[t] = append(templates[t], fmt.Sprintf("  lock %s/%s %s %s", name(j), name(j+1), name(j+1), pool[rng.IntN(len(pool))]))
						}
					}
					real = append(real, j)
					continue
				case rng.IntN(40) == 0:
					templates[t] = append(templates[t], "  ghost ^1")
					continue
				case rng.IntN(40) == 0:
					templates[t] = append(templates[t], "  self -> ")
					continue
				default:
					line += " " + reqs[rng.IntN(len(reqs))]
				}
				real = append(real, j)
				templates[t] = append(templates[t], line)
			}
			if len(real) >= 2 && rng.IntN(3) == 0 {
				templates[t] = append(templates[t], fmt.Sprintf("  %s/%s -> %s", name(real[0]), name(real[1]), name(real[1])))
			}
		}
		picked := rng.Perm(len(pool))[:2+rng.IntN(4)]
		for _, p := range picked {
			fmt.Fprintf(&b, "%s %s\n", name(i), pool[p])
			for _, l := range templates[rng.IntN(2)] {
				b.WriteString(l + "\n")
			}
		}
		if hasRef[i] {
			fmt.Fprintf(&b, "%s ref main\n", name(i))
			if i+1 < n && rng.IntN(2) == 0 {
				fmt.Fprintf(&b, "  %s %s\n", name(i+1), reqs[rng.IntN(len(reqs))])
			}
		}
	}
	b.WriteString("-- request --\n")
	roots := rng.Perm(n)[:1+rng.IntN(min(n, 3))]
	for _, i := range roots {
		fmt.Fprintf(&b, "%s %s\n", name(i), reqs[rng.IntN(len(reqs)-1)])
	}
	if len(roots) >= 2 && rng.IntN(3) == 0 {
		a, c := min(roots[0], roots[1]), max(roots[0], roots[1])
		fmt.Fprintf(&b, "%s/%s -> %s", name(a), name(c), name(c))
		if rng.IntN(2) == 0 {
			b.WriteString(" " + reqs[rng.IntN(len(reqs))])
		}
		b.WriteString("\n")
	}
	b.WriteString("-- options --\n")
	switch rng.IntN(8) {
	case 0:
		b.WriteString("strategy cargo\n")
	case 1:
		fmt.Fprintf(&b, "single %s\n", name(rng.IntN(n)))
	case 2:
		b.WriteString("any\n")
	case 4:
		b.WriteString("strategy fewest\n")
	case 5:
		b.WriteString("strategy single\n")
	case 3:
		i := roots[0]
		fmt.Fprintf(&b, "lock %s %s %s\n", name(i), name(i), pool[rng.IntN(len(pool))])
		if i+1 < n && rng.IntN(2) == 0 {
			// The kept pin's own inputs, as the lock recorded them.
			fmt.Fprintf(&b, "lock %s/%s %s %s\n", name(i), name(i+1), name(i+1), pool[rng.IntN(len(pool))])
		}
		switch rng.IntN(3) {
		case 0:
			fmt.Fprintf(&b, "update %s\n", name(i))
		case 1:
			if i+1 < n {
				fmt.Fprintf(&b, "update %s/%s\n", name(i), name(i+1))
			}
		}
	}
	return b.String()
}

// TestProperty resolves thousands of generated universes under every
// strategy and checks every answer against exhaustive search: valid path
// by path, the best value of the strategy's objective, level by level
// (newest: root staleness, duplicates, staleness, trees; fewest: trees,
// staleness), and conflicts only where no answer exists.
func TestProperty(t *testing.T) {
	cases := *propertyCases
	if testing.Short() {
		cases = 300
	}
	var answers, conflicts int
	for seed := range cases {
		text := randomFixture(rand.New(rand.NewPCG(uint64(seed), 7)))
		ok := t.Run(fmt.Sprint(seed), func(t *testing.T) {
			fx := parseFixture(t, txtar.Parse([]byte(text)))
			layers := loadFixtureIndex(t, fx.index)
			a, err := Resolve(context.Background(), layers, fx.req)
			switch err.(type) {
			case nil:
				answers++
				if msg := checkValid(layers, fx.req, a); msg != "" {
					t.Errorf("answer is invalid: %s\n%s", msg, renderAnswer(a, nil))
				}
				if !a.Stats.Proven() {
					t.Errorf("optimum not proven: %+v", a.Stats)
				}
			case *ConflictError:
				conflicts++
				checkHints(t, layers, fx.req, err.(*ConflictError))
			default:
				t.Fatalf("unexpected error: %v", err)
			}
			checkOptimal(t, layers, fx.req, a, err)
		})
		if !ok {
			t.Fatalf("seed %d fails; as a fixture:\n%s-- want --\n", seed, text)
		}
	}
	t.Logf("%d universes: %d answers, %d conflicts, 0 optimality failures", cases, answers, conflicts)
}

// checkHints applies every hint of a conflict to the request: one that
// says it resolves must resolve, to the pins it names; and the conflict's
// causes are data, each naming what it is about.
func checkHints(t *testing.T, layers *index.Layers, req *Request, e *ConflictError) {
	t.Helper()
	if len(e.Causes) == 0 || !e.Minimal {
		t.Errorf("conflict without causes, or not minimal without a deadline: %+v", e)
	}
	for _, h := range e.Hints {
		if !h.Tried || !h.Resolves {
			t.Errorf("hint %v: kept though it was not tried or does not resolve", h)
			continue
		}
		r := &resolver{req: req}
		a, err := Resolve(context.Background(), layers, r.changed(h.Change))
		if err != nil {
			t.Errorf("hint %v: applied, it gives %v", h, err)
			continue
		}
		var pins []string
		for _, p := range a.Paths {
			if !strings.Contains(p.Path, "/") && p.Kind == Pinned {
				pins = append(pins, p.Node.Label())
			}
		}
		if !slices.Equal(pins, h.Pins) {
			t.Errorf("hint %v: applied, it pins %v", h, pins)
		}
	}
}
