package ecosystem

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// cudfRoot is the package that holds a request's root requirements; the
// parentheses keep it apart from every flake name.
const cudfRoot = "(root)"

// AspcudCriteria asks aspcud for the fewest installed packages (the trees
// and the root package), then the least summed staleness.
const AspcudCriteria = "-count(solution),-sum(solution,staleness)"

// WriteCUDF writes the ecosystem and a request as a CUDF document for
// aspcud. Each (flake, version) is a package whose CUDF version is its rank
// in SemVer order (1 the oldest) and whose staleness property counts the
// flake's newer versions; each requirement is a disjunction of the exact
// versions that match it, so CUDF needs no notion of Cargo ranges. No
// package conflicts with another version of itself: several versions of a
// flake may be installed, as Nix allows. A root package depends on the
// request's root requirements, and the request installs it.
//
// Only the versions the request reaches are written: aspcud's own
// preprocessing drops the rest anyway, and writing a 20,000-flake ecosystem
// whole would take gigabytes. aspcud's time therefore leaves out reading
// the unreached part of the ecosystem, which flakeresolve and testsolv read.
func (e *Ecosystem) WriteCUDF(w io.Writer, request map[string]*pb.Input) error {
	u, roots, err := e.problem(request)
	if err != nil {
		return err
	}
	if u.byName[cudfRoot] != nil {
		return fmt.Errorf("a flake is named %s, the CUDF root package's name", cudfRoot)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprint(bw, "preamble: \nproperty: staleness: int = [0]\n\n")
	for _, v := range u.reachable(roots) {
		fmt.Fprintf(bw, "package: %s\nversion: %d\nstaleness: %d\n", v.flake.Name, v.rank, v.staleness)
		writeDepends(bw, v.deps)
		fmt.Fprintln(bw)
	}
	fmt.Fprintf(bw, "package: %s\nversion: 1\n", cudfRoot)
	writeDepends(bw, roots)
	fmt.Fprintf(bw, "\nrequest: flakeresolve\ninstall: %s\n", cudfRoot)
	return bw.Flush()
}

func writeDepends(w *bufio.Writer, deps []*ureq) {
	if len(deps) == 0 {
		return
	}
	w.WriteString("depends: ")
	for i, d := range deps {
		if i > 0 {
			w.WriteString(", ")
		}
		if len(d.matches) == 0 {
			// No version matches: a version above the newest states it.
			fmt.Fprintf(w, "%s > %d", d.flake.Name, len(d.flake.versions))
		}
		for j, v := range d.matches {
			if j > 0 {
				w.WriteString(" | ")
			}
			fmt.Fprintf(w, "%s = %d", d.flake.Name, v.rank)
		}
	}
	w.WriteString("\n")
}

// AspcudArgs are aspcud's arguments for a CUDF file: the criteria, clasp's
// core-guided optimization (--opt-strategy=5, aspcud's default, restated
// because any -s replaces the defaults), clasp's time limit, and verbosity
// 3, at which aspcud relays clasp's verdict to standard error. The
// solution goes to standard output.
func AspcudArgs(cudfFile string, limit time.Duration) []string {
	return []string{"-V", "3", "-s", "--opt-strategy=5",
		"-s", fmt.Sprintf("--time-limit=%d", max(1, int(limit.Seconds()))),
		"-c", AspcudCriteria, cudfFile}
}

// AspcudAnswer is aspcud's answer to a problem WriteCUDF wrote.
type AspcudAnswer struct {
	Trees []Tree
	// Proven is set when clasp reports the optimum found: no answer has
	// fewer trees, nor as few and less staleness.
	Proven bool
	// Cost is clasp's cost of the answer, one number a criterion: installed
	// packages (the root package included) and staleness.
	Cost []int
	// LowerBound is the cost below which clasp proved no answer exists,
	// when it stopped before proving Cost optimal (empty otherwise).
	LowerBound []int
}

// TreesProven reports whether no answer has fewer trees: the whole optimum
// is proven, or clasp stopped with its bound on the first criterion met.
func (a *AspcudAnswer) TreesProven() bool {
	return a.Proven || len(a.LowerBound) > 0 && len(a.Cost) > 0 && a.LowerBound[0] == a.Cost[0]
}

// ReadAspcud reads aspcud's solution (standard output, CUDF) and clasp's
// verdict (standard error at AspcudArgs' verbosity), and refuses a cost
// that is not the solution's.
func (e *Ecosystem) ReadAspcud(stdout, stderr []byte) (*AspcudAnswer, error) {
	u, err := e.universe()
	if err != nil {
		return nil, err
	}
	a := &AspcudAnswer{}
	unsat := false
	for line := range strings.Lines(string(stderr)) {
		key, value, _ := strings.Cut(line, ":")
		switch strings.TrimSpace(key) {
		case "OPTIMUM FOUND":
			a.Proven = true
		case "UNSATISFIABLE":
			unsat = true
		case "Optimization":
			if a.Cost, err = costs(strings.Fields(value)); err != nil {
				return nil, fmt.Errorf("aspcud standard error: clasp line %q: %w", line, err)
			}
		case "Bounds":
			// [lower;upper] a criterion.
			var lows []string
			for _, b := range strings.Fields(value) {
				low, _, _ := strings.Cut(strings.TrimPrefix(b, "["), ";")
				lows = append(lows, low)
			}
			if a.LowerBound, err = costs(lows); err != nil {
				return nil, fmt.Errorf("aspcud standard error: clasp line %q: %w", line, err)
			}
		}
	}
	if strings.TrimSpace(string(stdout)) == "FAIL" {
		if unsat {
			return nil, fmt.Errorf("aspcud: no answer exists (clasp: UNSATISFIABLE)")
		}
		return nil, fmt.Errorf("aspcud printed FAIL without proving that no answer exists: its time limit ran out before a first answer")
	}
	// A solution lists the installed packages, one stanza each.
	root := false
	stanza := map[string]string{}
	line := 0
	end := func() error {
		defer clear(stanza)
		if stanza["installed"] != "true" {
			return nil
		}
		if stanza["package"] == cudfRoot {
			root = true
			return nil
		}
		f := u.byName[stanza["package"]]
		rank, err := strconv.Atoi(stanza["version"])
		if err != nil || f == nil || rank < 1 || rank > len(f.versions) {
			return fmt.Errorf("aspcud solution, stanza ending on line %d: package %q version %q is not in the problem", line, stanza["package"], stanza["version"])
		}
		a.Trees = append(a.Trees, f.versions[rank-1].tree())
		return nil
	}
	for l := range strings.Lines(string(stdout)) {
		line++
		if key, value, ok := strings.Cut(strings.TrimSpace(l), ": "); ok {
			stanza[key] = value
		} else if err := end(); err != nil {
			return nil, err
		}
	}
	if err := end(); err != nil {
		return nil, err
	}
	if !root {
		return nil, fmt.Errorf("aspcud solution does not install %s (%d bytes of output)", cudfRoot, len(stdout))
	}
	// clasp's cost must be the answer's own: the trees and the root, then
	// the staleness.
	stale := 0
	for _, t := range a.Trees {
		stale += u.version(t).staleness
	}
	if want := []int{len(a.Trees) + 1, stale}; !slices.Equal(a.Cost, want) {
		return nil, fmt.Errorf("aspcud: clasp reports the cost %v (standard error, Optimization), but its solution costs %v", a.Cost, want)
	}
	return a, nil
}

func costs(fields []string) ([]int, error) {
	var out []int
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}
