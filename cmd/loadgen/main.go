// Command loadgen measures `flakeresolve serve` under sustained load: it
// starts the server (a fresh process per run, so each run's peak RSS is
// its own) on a loopback port over a generated ecosystem index, sends
// ListVersions and ResolveInputs calls from N concurrent clients for a
// fixed time, and prints, per method, the throughput and the median and
// 99th percentile latency of the calls answered, and the status codes of
// all (a busy server refuses some RESOURCE_EXHAUSTED, and the client backs
// off 10-50 ms), with the server's peak RSS and the machine's load
// average.
//
// With -soak it runs one mixed load for the soak's duration and samples
// the server's RSS every -sample, printing the samples and the growth
// from the first minute's to the last minute's mean: a server whose
// memory is flat shows none.
//
// Every address is loopback, every loop is bounded in time, and the
// server is stopped at the end.
//
//	make build
//	go run ./cmd/loadgen -bin bin/flakeresolve -concurrency 1,32,128 -duration 20s
//	go run ./cmd/loadgen -bin bin/flakeresolve -soak 10m -concurrency 32
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	"github.com/flakeresolve/flakeresolve/internal/server"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

type config struct {
	bin   string
	args  []string
	index string
	// names are the flakes ListVersions asks for; request makes the root
	// inputs of a ResolveInputs call.
	names     []string
	request   func(inputs int, seed uint64) map[string]*pb.Input
	duration  time.Duration
	mix       float64
	timeout   time.Duration
	soak      time.Duration
	sample    time.Duration
	resolveIn int
}

func main() {
	var (
		c           config
		gen         = flag.String("gen", "hub", "ecosystem generator of the served index, or default: the embedded index of real flakes")
		flakes      = flag.Int("flakes", 5000, "flakes in the served index (a generated one)")
		concurrency = flag.String("concurrency", "1,32,128", "comma-separated numbers of concurrent clients, one run each")
		serveArgs   = flag.String("serve-args", "", "more flags for serve, space-separated (e.g. \"--max-concurrent-solves 2\")")
	)
	flag.StringVar(&c.bin, "bin", "bin/flakeresolve", "the flakeresolve binary to serve with")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "length of each run")
	flag.Float64Var(&c.mix, "resolve-share", 0.5, "share of calls that are ResolveInputs (the rest ListVersions)")
	flag.DurationVar(&c.timeout, "timeout", 10*time.Second, "deadline of each call")
	flag.DurationVar(&c.soak, "soak", 0, "instead of the runs: one mixed run this long at the first concurrency, sampling RSS")
	flag.DurationVar(&c.sample, "sample", 10*time.Second, "with -soak: how often to sample the server's RSS")
	flag.IntVar(&c.resolveIn, "inputs", 20, "root inputs of each ResolveInputs request")
	flag.Parse()
	if *serveArgs != "" {
		c.args = strings.Fields(*serveArgs)
	}

	var err error
	if *gen == "default" {
		err = servedDefault(&c)
	} else {
		var dir string
		dir, err = servedGenerated(&c, *gen, *flakes)
		defer os.RemoveAll(dir)
	}
	if err != nil {
		fail(err)
	}

	var levels []int
	for _, s := range strings.Split(*concurrency, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			fail(fmt.Errorf("-concurrency %q: expected positive numbers", *concurrency))
		}
		levels = append(levels, n)
	}
	fmt.Printf("index: %s, %d flakes; serve %s; calls: %.0f%% ResolveInputs (%d inputs), the rest ListVersions; deadline %s\n\n",
		*gen, len(c.names), strings.Join(c.args, " "), 100*c.mix, c.resolveIn, c.timeout)
	if c.soak > 0 {
		soak(c, levels[0])
		return
	}
	fmt.Println("| clients | method | answered/s | p50 | p99 | codes | server peak RSS | load avg (start → end) |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, n := range levels {
		run(c, n)
	}
}

// servedGenerated writes an index the generator makes into a directory
// of its own (returned, for removal) for the server, with the
// ecosystem's own requests.
func servedGenerated(c *config, gen string, flakes int) (string, error) {
	g, err := ecosystem.Lookup(gen)
	if err != nil {
		return "", err
	}
	eco := g.Generate(flakes, 1)
	dir, err := os.MkdirTemp("", "loadgen")
	if err != nil {
		return "", err
	}
	data, err := index.MarshalBinary(eco.Index)
	if err != nil {
		return dir, err
	}
	c.index = filepath.Join(dir, "index.binpb")
	for _, f := range eco.Index.Flakes {
		c.names = append(c.names, f.Name)
	}
	c.request = eco.Request
	return dir, os.WriteFile(c.index, data, 0o644)
}

// servedDefault serves the embedded index (serve without --index), and
// asks for its GitHub flakes as root inputs, each at any version (the
// index's requirements between them make the problem).
func servedDefault(c *config) error {
	ix, err := defaultindex.Load()
	if err != nil {
		return err
	}
	var github []*index.Flake
	for _, f := range ix.Flakes() {
		c.names = append(c.names, f.Name)
		if f.Source.GetType() == "github" {
			github = append(github, f)
		}
	}
	c.request = func(n int, seed uint64) map[string]*pb.Input {
		r := rand.New(rand.NewPCG(seed, 11))
		in := map[string]*pb.Input{}
		for len(in) < min(n, len(github)) {
			f := github[r.IntN(len(github))]
			// An input is named by a Nix identifier, which some flake names
			// (microvm.nix) are not.
			in[strings.ReplaceAll(f.Name, ".", "-")] = &pb.Input{Url: "github:" + f.Source.Owner + "/" + f.Source.Repo, Version: "*"}
		}
		return in
	}
	return nil
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "loadgen:", err)
	os.Exit(1)
}

// proc is a running server.
type proc struct {
	cmd  *exec.Cmd
	addr string
}

func start(c config) *proc {
	args := []string{"serve", "--listen", "127.0.0.1:0", "--log-format", "json"}
	if c.index != "" {
		args = append(args, "--index", c.index)
	}
	args = append(args, c.args...)
	cmd := exec.Command(c.bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		fail(err)
	}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	addrRE := regexp.MustCompile(`"addr":"(127\.0\.0\.1:\d+)"`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil && strings.Contains(sc.Text(), `"msg":"serving"`) {
			go io.Copy(io.Discard, stderr)
			return &proc{cmd: cmd, addr: m[1]}
		}
	}
	cmd.Process.Kill()
	fail(fmt.Errorf("the server did not start"))
	return nil
}

func (p *proc) stop() {
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

// rss reads the server's current and peak resident set, in MiB.
func (p *proc) rss() (cur, peak float64) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	field := func(name string) float64 {
		m := regexp.MustCompile(name + `:\s+(\d+) kB`).FindSubmatch(data)
		if m == nil {
			return 0
		}
		kb, _ := strconv.ParseFloat(string(m[1]), 64)
		return kb / 1024
	}
	return field("VmRSS"), field("VmHWM")
}

func loadavg() string {
	data, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// stats are one method's calls: the latencies of those answered (a
// refusal's is no measure of the service), and every call's code.
type stats struct {
	latencies []time.Duration
	codes     map[string]int
}

// drive sends calls from n clients until the deadline, and returns them
// by method.
func drive(c config, addr string, n int, until time.Time) map[string]*stats {
	var mu sync.Mutex
	out := map[string]*stats{"ListVersions": {codes: map[string]int{}}, "ResolveInputs": {codes: map[string]int{}}}
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			cl, err := server.Dial(addr, server.ClientOptions{})
			if err != nil {
				fail(err)
			}
			defer cl.Close()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			for time.Now().Before(until) {
				ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
				method := "ListVersions"
				start := time.Now()
				if r.Float64() < c.mix {
					method = "ResolveInputs"
					_, err = cl.ResolveInputs(ctx, &pb.ResolveInputsRequest{Inputs: c.request(c.resolveIn, r.Uint64()%256)})
				} else {
					_, err = cl.ListVersions(ctx, &pb.ListVersionsRequest{Parent: "flakes/" + c.names[r.IntN(len(c.names))], Requirement: "*", PageSize: 50})
				}
				took := time.Since(start)
				cancel()
				code := status.Code(err).String()
				if err != nil {
					code = server.Status(err).Code().String()
				}
				mu.Lock()
				s := out[method]
				if code == "OK" {
					s.latencies = append(s.latencies, took)
				}
				s.codes[code]++
				mu.Unlock()
				if code == "ResourceExhausted" || code == "Unavailable" {
					// Back off as a client told the server is busy should.
					time.Sleep(time.Duration(10+r.IntN(40)) * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	return out
}

func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(q*float64(len(ds))))]
}

func codes(m map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func run(c config, n int) {
	p := start(c)
	defer p.stop()
	// Warm up: every request shape once, so the runs compare steady states.
	drive(c, p.addr, 2, time.Now().Add(time.Second))
	before := loadavg()
	res := drive(c, p.addr, n, time.Now().Add(c.duration))
	_, peak := p.rss()
	after := loadavg()
	for _, method := range []string{"ListVersions", "ResolveInputs"} {
		s := res[method]
		fmt.Printf("| %d | %s | %.1f | %s | %s | %s | %.0f MiB | %s → %s |\n", n, method, float64(len(s.latencies))/c.duration.Seconds(),
			quantile(s.latencies, 0.5).Round(10*time.Microsecond), quantile(s.latencies, 0.99).Round(10*time.Microsecond), codes(s.codes), peak, before, after)
	}
}

func soak(c config, n int) {
	p := start(c)
	defer p.stop()
	fmt.Printf("soak: %d clients for %s, RSS sampled every %s\n\n| elapsed | RSS MiB | peak MiB | load avg |\n|---|---|---|---|\n", n, c.soak, c.sample)
	end := time.Now().Add(c.soak)
	done := make(chan map[string]*stats)
	go func() { done <- drive(c, p.addr, n, end) }()
	var samples []float64
	var at []time.Duration
	begin := time.Now()
	tick := time.NewTicker(c.sample)
	defer tick.Stop()
	var res map[string]*stats
	for res == nil {
		select {
		case res = <-done:
		case <-tick.C:
			cur, peak := p.rss()
			samples, at = append(samples, cur), append(at, time.Since(begin))
			fmt.Printf("| %s | %.0f | %.0f | %s |\n", time.Since(begin).Round(time.Second), cur, peak, loadavg())
		}
	}
	window := func(from, to time.Duration) float64 {
		sum, k := 0.0, 0
		for i, s := range samples {
			if at[i] >= from && at[i] < to {
				sum, k = sum+s, k+1
			}
		}
		if k == 0 {
			return 0
		}
		return sum / float64(k)
	}
	span := min(time.Minute, c.soak/4)
	first, last := window(0, span), window(c.soak-span, c.soak+c.sample)
	fmt.Printf("\nRSS mean over the first %s: %.0f MiB, over the last %s: %.0f MiB (growth %+.1f%%)\n", span, first, span, last, 100*(last-first)/max(first, 1))
	for _, method := range []string{"ListVersions", "ResolveInputs"} {
		s := res[method]
		fmt.Printf("%s: %d answered, %.1f/s, p50 %s, p99 %s, %s\n", method, len(s.latencies), float64(len(s.latencies))/c.soak.Seconds(),
			quantile(s.latencies, 0.5).Round(10*time.Microsecond), quantile(s.latencies, 0.99).Round(10*time.Microsecond), codes(s.codes))
	}
}
