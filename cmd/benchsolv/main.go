// Command benchsolv compares flakeresolve with two peer solvers on generated
// ecosystems: aspcud (clasp's core-guided optimization, which proves its
// answers optimal) and libsolv's testsolv (newest version per requirement,
// no sharing). Each tool gets the same problem in its own input form and is
// run as a whole process (loading its input included), timed (median of
// -runs), and its answer is checked against the problem by this command
// before its size counts: trees (distinct flake versions), staleness (how
// many newer versions the trees' flakes have, summed) and whether the tool
// proved it optimal: "yes" (aspcud: fewest trees, then least staleness;
// flakeresolve: fewest trees), "trees" (aspcud proved the tree count but
// not yet the staleness), "no (≥ N)" (aspcud's time limit came with a
// lower bound of N trees), "no", or "–" (testsolv does not try).
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
	flag.StringVar(&c.strategy, "strategy", "minimal", "flakeresolve --strategy, passed through")
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
		data, err := index.MarshalBinary(e.Index)
		check(err)
		indexFile := filepath.Join(c.dir, fmt.Sprintf("%s-%d.binpb", g.Name, n))
		check(os.WriteFile(indexFile, data, 0o644))
		for s := range *requests {
			p := &problem{gen: g.Name, flakes: n, versions: e.Versions(), indexMiB: float64(len(data)) / (1 << 20), request: s, eco: e, index: indexFile}
			summary = append(summary, c.bench(p))
		}
	}
	fmt.Println("| generator | flakes | request | trees: flakeresolve / aspcud / testsolv | proven: flakeresolve / aspcud | s: flakeresolve / aspcud / testsolv |")
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
	tool    string
	trees   []ecosystem.Tree
	proven  string // yes; trees (aspcud: the count, not the staleness); no; – when the tool does not try
	atLeast int    // trees every answer has, as far as the tool proved
	invalid error  // the answer breaks the problem
	failed  error  // no answer at all
	time    time.Duration
	note    string
}

// bench runs the three tools on a request, prints its table and returns
// its summary row.
func (c *config) bench(p *problem) string {
	p.inputs = p.eco.Request(20, uint64(p.request))
	base := filepath.Join(c.dir, fmt.Sprintf("%s-%d-%d", p.gen, p.flakes, p.request))
	js, err := protojson.Marshal(&pb.ResolveRequest{Inputs: p.inputs})
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

	fmt.Printf("\n### %s, %d flakes (%d versions, %.1f MiB index), request %d: %d root inputs reach %d versions\n\n",
		p.gen, p.flakes, p.versions, p.indexMiB, p.request, len(p.inputs), reachable)
	fmt.Printf("| tool | trees | staleness | proven | valid | s (median of %d runs, or 1 run past %s) |\n", c.runs, c.timeout)
	fmt.Println("|---|---:|---:|:---:|:---:|---:|")
	for _, o := range outs {
		trees, stale, valid := "–", "–", "–"
		if o.failed == nil {
			n, err := p.eco.Staleness(o.trees)
			check(err)
			trees, stale, valid = strconv.Itoa(len(o.trees)), strconv.Itoa(n), "yes"
			if o.invalid != nil {
				valid = "**no**"
			}
		}
		fmt.Printf("| %s | %s | %s | %s | %s | %.2f |\n", o.tool, trees, stale, o.proven, valid, o.time.Seconds())
	}
	for _, o := range outs {
		for _, err := range []error{o.failed, o.invalid} {
			if err != nil {
				fmt.Printf("\n- %s: %v\n", o.tool, err)
			}
		}
		if o.note != "" {
			fmt.Printf("\n- %s: %s\n", o.tool, o.note)
		}
	}
	for _, d := range disagreements(ours, peer) {
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
// other's answer: a proven minimum or lower bound that the other beats.
func disagreements(ours, peer *outcome) []string {
	if ours.failed != nil || peer.failed != nil || ours.invalid != nil || peer.invalid != nil {
		return nil
	}
	var out []string
	if ours.proven == "yes" && len(peer.trees) < len(ours.trees) {
		out = append(out, fmt.Sprintf("flakeresolve proved %d trees minimal, aspcud found %d", len(ours.trees), len(peer.trees)))
	}
	if len(ours.trees) < peer.atLeast {
		out = append(out, fmt.Sprintf("aspcud proved at least %d trees, flakeresolve found %d", peer.atLeast, len(ours.trees)))
	}
	return out
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
	var ans struct {
		Nodes []struct {
			Flake   string `json:"flake"`
			Version string `json:"version"`
		} `json:"nodes"`
		Stats struct {
			ProvenMinimal bool `json:"provenMinimal"`
			ProvenNewest  bool `json:"provenNewest"`
		} `json:"stats"`
	}
	if err := json.Unmarshal(res.stdout, &ans); err != nil {
		o.failed = fmt.Errorf("reading its --json output: %w", err)
		return o
	}
	for _, n := range ans.Nodes {
		o.trees = append(o.trees, ecosystem.Tree{Flake: n.Flake, Version: n.Version})
	}
	o.proven = yesNo(ans.Stats.ProvenMinimal)
	if ans.Stats.ProvenMinimal {
		o.note = "proven newest: " + yesNo(ans.Stats.ProvenNewest)
	}
	o.invalid = p.eco.Check(p.inputs, o.trees)
	return o
}

func (c *config) runAspcud(p *problem, cudfFile string) *outcome {
	o := &outcome{tool: "aspcud", proven: "–"}
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
	switch {
	case ans.Proven:
		o.proven, o.atLeast = "yes", len(o.trees)
	case ans.TreesProven():
		o.proven, o.atLeast = "trees", len(o.trees)
	case len(ans.LowerBound) > 0:
		// The bound counts the root package.
		o.atLeast = ans.LowerBound[0] - 1
		o.proven = fmt.Sprintf("no (≥ %d)", o.atLeast)
	default:
		o.proven = "no"
	}
	o.invalid = p.eco.Check(p.inputs, o.trees)
	return o
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

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
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
