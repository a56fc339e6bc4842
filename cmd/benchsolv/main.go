// Command benchsolv compares flakeresolve with two peer solvers on generated
// ecosystems: aspcud (clasp's core-guided optimization, which proves its
// answers optimal) and libsolv's testsolv (newest version per requirement,
// no sharing). Each tool gets the same problem in its own input form and is
// run as a whole process (loading its input included), timed (median of
// -runs), and its answer is checked against the problem by this command
// before its size counts: trees (distinct flake versions), staleness (how
// many newer versions the trees' flakes have, summed) and what the tool
// proved of it: "yes" (optimal for its own objective: aspcud's is the
// fewest trees, then the least staleness, as flakeresolve's strategy
// fewest), "trees" (the tree count is proven, the rest not yet), "no (≥ N)"
// (stopped with a lower bound of N trees), "no", or "–" (no answer, or
// testsolv, which does not try). The objective flakeresolve reports is
// checked against its answer too, and a proof one solver makes that the
// other's answer contradicts is printed as a disagreement.
//
// It prints one Markdown table per problem, then a summary table; progress
// goes to standard error.
//
//	make build
//	go run ./cmd/benchsolv -bin bin/flakeresolve -gen layered -sizes 100,2000 -requests 3
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

type config struct {
	bin, strategy string
	effort        time.Duration
	timeout       time.Duration
	runs          int
	dir           string
	aspcud        string
	testsolv      string
}

func main() {
	var (
		c        config
		gen      = flag.String("gen", ecosystem.Generators[0].Name, "ecosystem generator: "+generatorNames())
		sizes    = flag.String("sizes", "100,2000", "ecosystem sizes, in flakes")
		requests = flag.Int("requests", 3, "20-input requests per size")
		seed     = flag.Uint64("seed", 1, "ecosystem seed")
	)
	flag.StringVar(&c.bin, "bin", "", "the flakeresolve binary to measure (required)")
	flag.StringVar(&c.strategy, "strategy", "fewest", "flakeresolve --strategy, passed through (fewest minimises what aspcud does)")
	flag.DurationVar(&c.effort, "effort", 2*time.Second, "flakeresolve --effort")
	flag.DurationVar(&c.timeout, "timeout", 60*time.Second, "time limit of each run: clasp's --time-limit for aspcud, --timeout for flakeresolve; a process still running 10s later is killed")
	flag.IntVar(&c.runs, "runs", 3, "runs of each command; the median time counts")
	flag.StringVar(&c.dir, "dir", "", "where to write the problems (default: a temporary directory)")
	flag.Parse()
	g, err := ecosystem.Lookup(*gen)
	check(err)
	if c.bin == "" {
		fail("-bin is required; see the package documentation")
	}
	if c.aspcud, err = exec.LookPath("aspcud"); err != nil {
		fail("aspcud not found; apt-get install aspcud")
	}
	if c.testsolv, err = exec.LookPath("testsolv"); err != nil {
		fail("testsolv not found; apt-get install libsolv-tools")
	}
	if c.dir == "" {
		c.dir, err = os.MkdirTemp("", "benchsolv")
		check(err)
		tempDir = c.dir
		defer os.RemoveAll(c.dir)
	}
	var summary []string
	for _, field := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(field)
		check(err)
		fmt.Fprintf(os.Stderr, "generating %s %d flakes...\n", g.Name, n)
		e := g.Generate(n, *seed)
		// The index as a registry publishes it: a snapshot, validated
		// when written, which flakeresolve loads without validating again.
		data, err := index.MarshalSnapshot(fmt.Sprintf("%s-%d", g.Name, n), e.Index)
		check(err)
		indexFile := filepath.Join(c.dir, fmt.Sprintf("%s-%d.snap", g.Name, n))
		check(os.WriteFile(indexFile, data, 0o644))
		for s := range *requests {
			p := &problem{gen: g.Name, flakes: n, versions: e.Versions(), indexMiB: float64(len(data)) / (1 << 20), request: s, eco: e, index: indexFile}
			summary = append(summary, c.bench(p))
		}
	}
	fmt.Println("\n| generator | flakes | request | trees: flakeresolve / aspcud / testsolv | proven: flakeresolve / aspcud | s: flakeresolve / aspcud / testsolv |")
	fmt.Println("|---|---:|---:|---|---|---|")
	for _, row := range summary {
		fmt.Println(row)
	}
}

// problem is one ecosystem and one request, written once for every tool.
type problem struct {
	gen                       string
	flakes, versions, request int
	indexMiB                  float64
	eco                       *ecosystem.Ecosystem
	index                     string
	inputs                    map[string]*pb.Input
}

// outcome is one tool's answer to a problem.
type outcome struct {
	tool  string
	trees []ecosystem.Tree
	// objective is what the tool minimises, criteria in order ("trees,
	// staleness"); empty for testsolv, which minimises nothing.
	objective string
	proven    string // yes; trees; no (≥ N); no; – (see the package documentation)
	atLeast   int    // trees every answer has, as far as the tool proved
	invalid   error  // the answer breaks the problem
	misreport error  // the objective the tool reports is not its answer's
	failed    error  // no answer at all
	time      time.Duration
}

// bench runs the three tools on a request, prints its table and returns
// its summary row.
func (c *config) bench(p *problem) string {
	p.inputs = p.eco.Request(20, uint64(p.request))
	base := filepath.Join(c.dir, fmt.Sprintf("%s-%d-%d", p.gen, p.flakes, p.request))
	js, err := protojson.Marshal(&pb.ResolveInputsRequest{Inputs: p.inputs})
	check(err)
	check(os.WriteFile(base+".json", js, 0o644))
	check(writeFile(base+".t", func(b *bytes.Buffer) error { return p.eco.WriteTestcase(b, p.inputs) }))
	check(writeFile(base+".cudf", func(b *bytes.Buffer) error { return p.eco.WriteCUDF(b, p.inputs) }))
	reachable, err := p.eco.Reachable(p.inputs)
	check(err)

	fmt.Fprintf(os.Stderr, "  %d flakes, request %d:", p.flakes, p.request)
	ours := c.flakeresolve(p, base+".json")
	peer := c.runAspcud(p, base+".cudf")
	libsolv := c.runTestsolv(p, base+".t")
	fmt.Fprintln(os.Stderr)
	outs := []*outcome{ours, peer, libsolv}

	fmt.Printf("\n### %s, %d flakes (%d versions, %.1f MiB snapshot), request %d: %d root inputs reach %d versions\n\n",
		p.gen, p.flakes, p.versions, p.indexMiB, p.request, len(p.inputs), reachable)
	fmt.Printf("| tool | trees | staleness | proven | valid | s (median of %d runs, or 1 run past %s) |\n", c.runs, c.timeout)
	fmt.Println("|---|---:|---:|:---:|:---:|---:|")
	for _, o := range outs {
		trees, stale, valid := "–", "–", "–"
		if o.failed == nil {
			trees, stale, valid = strconv.Itoa(len(o.trees)), strconv.Itoa(staleness(p, o)), "yes"
			if o.invalid != nil {
				valid = "**no**"
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %.2f |\n", o.tool, trees, stale, o.proven, valid, o.time.Seconds())
	}
	for _, o := range outs {
		for _, err := range []error{o.failed, o.invalid, o.misreport} {
			if err != nil {
				fmt.Printf("\n- %s: %v\n", o.tool, err)
			}
		}
	}
	for _, d := range disagreements(p, ours, peer) {
		fmt.Printf("\n- **disagreement**: %s\n", d)
	}
	cell := func(f func(o *outcome) string) string {
		var parts []string
		for _, o := range outs {
			parts = append(parts, f(o))
		}
		return strings.Join(parts, " / ")
	}
	return fmt.Sprintf("| %s | %d | %d | %s | %s | %s |", p.gen, p.flakes, p.request,
		cell(func(o *outcome) string {
			if o.failed != nil {
				return "–"
			}
			if o.invalid != nil {
				return strconv.Itoa(len(o.trees)) + " (invalid)"
			}
			return strconv.Itoa(len(o.trees))
		}),
		strings.Join([]string{ours.proven, peer.proven}, " / "),
		cell(func(o *outcome) string { return fmt.Sprintf("%.2f", o.time.Seconds()) }))
}

// disagreements are the places where one solver's proof contradicts the
// other's answer: a lower bound on the trees that the other beats, or two
// optima of the same objective that differ.
func disagreements(p *problem, ours, peer *outcome) []string {
	if ours.failed != nil || peer.failed != nil || ours.invalid != nil || peer.invalid != nil {
		return nil
	}
	var out []string
	for _, c := range [][2]*outcome{{ours, peer}, {peer, ours}} {
		prover, other := c[0], c[1]
		if len(other.trees) < prover.atLeast {
			out = append(out, fmt.Sprintf("%s proved at least %d trees, %s found %d", prover.tool, prover.atLeast, other.tool, len(other.trees)))
		}
	}
	if ours.proven == "yes" && peer.proven == "yes" && ours.objective == peer.objective &&
		(len(ours.trees) != len(peer.trees) || staleness(p, ours) != staleness(p, peer)) {
		out = append(out, fmt.Sprintf("both proved their answers optimal (%s), but flakeresolve's has %d trees and staleness %d, aspcud's %d and %d",
			ours.objective, len(ours.trees), staleness(p, ours), len(peer.trees), staleness(p, peer)))
	}
	return out
}

func staleness(p *problem, o *outcome) int {
	n, err := p.eco.Staleness(o.trees)
	check(err)
	return n
}

func (c *config) flakeresolve(p *problem, reqFile string) *outcome {
	o := &outcome{tool: fmt.Sprintf("flakeresolve --strategy %s --effort %s", c.strategy, c.effort), proven: "–"}
	res := c.run("flakeresolve", c.bin, "resolve", "--index", p.index, "--json",
		"--strategy", c.strategy, "--effort", c.effort.String(), "--timeout", c.timeout.String(), reqFile)
	o.time = res.time
	if res.err != nil {
		o.failed = res.err
		return o
	}
	// The service's answer in protojson: 64-bit integers are strings,
	// and zero values are left out.
	var ans struct {
		Trees []struct {
			Flake   string `json:"flake"`
			Version string `json:"version"`
		} `json:"trees"`
		Stats struct {
			Objective []struct {
				Criterion  string `json:"criterion"`
				Value      int    `json:"value,string"`
				LowerBound int    `json:"lowerBound,string"`
				Proven     bool   `json:"proven"`
			} `json:"objective"`
			Proven bool `json:"proven"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(res.stdout, &ans); err != nil {
		o.failed = fmt.Errorf("reading its --json output: %w", err)
		return o
	}
	for _, n := range ans.Trees {
		o.trees = append(o.trees, ecosystem.Tree{Flake: n.Flake, Version: n.Version})
	}
	o.invalid = p.eco.Check(p.inputs, o.trees)
	// The objective it reports must be its answer's, where this command
	// can count it too.
	counted := map[string]int{"CRITERION_TREES": len(o.trees), "CRITERION_STALENESS": staleness(p, o)}
	var criteria, wrong []string
	for _, b := range ans.Stats.Objective {
		name := strings.ToLower(strings.TrimPrefix(b.Criterion, "CRITERION_"))
		criteria = append(criteria, name)
		if want, ok := counted[b.Criterion]; ok && b.Value != want {
			wrong = append(wrong, fmt.Sprintf("it reports %s %d, its answer has %d", name, b.Value, want))
		}
	}
	o.objective = strings.Join(criteria, ", ")
	if len(wrong) > 0 {
		o.misreport = errors.New(strings.Join(wrong, "; "))
	}
	if len(ans.Stats.Objective) == 0 {
		o.failed = fmt.Errorf("its --json output has no stats.objective")
		return o
	}
	first := ans.Stats.Objective[0]
	o.proof(ans.Stats.Proven, first.Criterion == "CRITERION_TREES", first.Proven, first.LowerBound)
	return o
}

func (c *config) runAspcud(p *problem, cudfFile string) *outcome {
	o := &outcome{tool: "aspcud", proven: "–", objective: "trees, staleness"}
	res := c.run("aspcud", c.aspcud, ecosystem.AspcudArgs(cudfFile, c.timeout)...)
	o.time = res.time
	if res.err != nil {
		o.failed = res.err
		return o
	}
	ans, err := p.eco.ReadAspcud(res.stdout, res.stderr)
	if err != nil {
		o.failed = err
		return o
	}
	o.trees = ans.Trees
	o.invalid = p.eco.Check(p.inputs, o.trees)
	lower := 0
	if len(ans.LowerBound) > 0 {
		lower = ans.LowerBound[0] - 1 // the bound counts the root package
	}
	o.proof(ans.Proven, true, ans.TreesProven(), lower)
	return o
}

// proof records what a tool proved of its answer: its whole objective, or,
// when the tree count comes first in it, the count or a lower bound on it.
func (o *outcome) proof(whole, treesFirst, treesProven bool, treesLower int) {
	switch {
	case whole:
		o.proven = "yes"
	case treesFirst && treesProven:
		o.proven = "trees"
	case treesFirst && treesLower > 0:
		o.proven = fmt.Sprintf("no (≥ %d)", treesLower)
	default:
		o.proven = "no"
	}
	switch {
	case treesFirst && (whole || treesProven):
		o.atLeast = len(o.trees)
	case treesFirst:
		o.atLeast = treesLower
	}
}

func (c *config) runTestsolv(p *problem, testcase string) *outcome {
	o := &outcome{tool: "testsolv", proven: "–"}
	res := c.run("testsolv", c.testsolv, testcase)
	o.time = res.time
	// testsolv exits 1 when a testcase has no expected result, so its exit
	// code says nothing; an answer without trees does.
	o.trees = ecosystem.ParseTestsolv(string(res.stdout))
	if len(o.trees) == 0 {
		o.failed = errors.Join(fmt.Errorf("testsolv installed nothing"), res.err)
		return o
	}
	o.invalid = p.eco.Check(p.inputs, o.trees)
	return o
}

type result struct {
	stdout, stderr []byte
	time           time.Duration // median
	err            error         // of the last run
}

// run runs a command -runs times, each in its own process group so that a
// run over the time limit is killed with its children (aspcud's clasp),
// and returns the last run's output and the median wall time. A run that
// reaches the time limit is not repeated. aspcud's
// temporary files go to the problem directory.
func (c *config) run(label, name string, args ...string) result {
	fmt.Fprintf(os.Stderr, " %s", label)
	var times []time.Duration
	var res result
	for range c.runs {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout+10*time.Second)
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(os.Environ(), "TMPDIR="+c.dir)
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		err := cmd.Run()
		times = append(times, time.Since(start))
		if ctx.Err() != nil {
			err = fmt.Errorf("killed after %s: %w", c.timeout+10*time.Second, ctx.Err())
		} else if err != nil {
			err = fmt.Errorf("%s: %w: %s", name, err, lastLine(stderr.Bytes()))
		}
		cancel()
		res = result{stdout.Bytes(), stderr.Bytes(), 0, err}
		if times[len(times)-1] >= c.timeout {
			break // a run the time limit ended measures the limit: not repeated
		}
	}
	slices.Sort(times)
	res.time = times[len(times)/2]
	fmt.Fprintf(os.Stderr, " %.2fs", res.time.Seconds())
	return res
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func writeFile(name string, write func(*bytes.Buffer) error) error {
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return os.WriteFile(name, b.Bytes(), 0o644)
}

func generatorNames() string {
	var names []string
	for _, g := range ecosystem.Generators {
		names = append(names, fmt.Sprintf("%s (%s)", g.Name, g.Shape))
	}
	return strings.Join(names, "; ")
}

func check(err error) {
	if err != nil {
		fail(err.Error())
	}
}

// tempDir is the problem directory benchsolv made, which fail removes
// since os.Exit skips deferred calls.
var tempDir string

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "benchsolv:", msg)
	if tempDir != "" {
		os.RemoveAll(tempDir)
	}
	os.Exit(1)
}
