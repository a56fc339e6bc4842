package solver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"runtime"
	"runtime/metrics"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

var benchGen = flag.String("gen", ecosystem.Generators[0].Name, "ecosystem generator for the benchmarks (internal/ecosystem.Generators)")

// generate makes the benchmark ecosystem of n flakes with the -gen
// generator.
func generate(b testing.TB, n int) *ecosystem.Ecosystem {
	b.Helper()
	g, err := ecosystem.Lookup(*benchGen)
	if err != nil {
		b.Fatal(err)
	}
	return g.Generate(n, 1)
}

// benchSizes are the ecosystem sizes of BENCHMARKS.md.
var benchSizes = []int{100, 1000, 5000, 20000}

func loadEcosystem(b testing.TB, n int) (*ecosystem.Ecosystem, *index.Layers) {
	b.Helper()
	e := generate(b, n)
	data, err := index.MarshalBinary(e.Index)
	if err != nil {
		b.Fatal(err)
	}
	ix, err := index.Parse(fmt.Sprintf("eco-%d", n), data)
	if err != nil {
		b.Fatal(err)
	}
	return e, index.NewLayers(ix)
}

// outcomeOf sorts a resolution's error: "" for an answer, "conflict",
// "paths" (over the paths limit) or "error".
func outcomeOf(err error) string {
	var le *LimitError
	var ce *ConflictError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ce):
		return "conflict"
	case errors.As(err, &le) && le.Limit == LimitPaths:
		return "paths"
	}
	return "error"
}

// BenchmarkResolve resolves 20-input requests against loaded ecosystems
// (warm: the index is loaded once) with the default strategy and fewest,
// and reports the median, 99th percentile and longest of the requests'
// times, the CPU per resolve, the mean answer size and the share of
// answers whose every objective level is proven. effort=first returns the first valid answer;
// effort=default improves it and proves it within the default effort.
func BenchmarkResolve(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("flakes=%d", n), func(b *testing.B) {
			e, layers := loadEcosystem(b, n)
			var inputs []map[string]*pb.Input
			for s := range 64 {
				inputs = append(inputs, e.Request(20, uint64(s)))
			}
			for _, strategy := range []Strategy{Policies[0].Strategy, Fewest} {
				for _, mode := range []struct {
					name   string
					effort time.Duration
				}{{"first", time.Nanosecond}, {"default", DefaultLimits.Effort}} {
					b.Run(fmt.Sprintf("strategy=%s/effort=%s", strategy, mode.name), func(b *testing.B) {
						benchResolve(b, layers, inputs, strategy, mode.effort)
					})
				}
			}
		})
	}
}

// benchResolve resolves the requests in turn and reports their times and
// answers.
func benchResolve(b *testing.B, layers *index.Layers, inputs []map[string]*pb.Input, strategy Strategy, effort time.Duration) {
	var times []time.Duration
	var proven, nodes, answers, limited int
	cpu0 := cpuTime(b)
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		a, err := Resolve(context.Background(), layers, &Request{Inputs: inputs[i%len(inputs)], Strategy: strategy, Limits: Limits{Effort: effort}})
		times = append(times, time.Since(start))
		switch outcomeOf(err) {
		case "conflict":
			continue
		case "paths":
			// Deep graphs unfold into more input paths (lock nodes)
			// than a lock may hold; counted, not failed.
			limited++
			continue
		case "error":
			b.Fatal(err)
		}
		answers++
		nodes += len(a.Nodes)
		if a.Stats.Proven() {
			proven++
		}
	}
	cpu := cpuTime(b) - cpu0
	reportLatencies(b, times)
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(times)), "cpu-ms/op")
	b.ReportMetric(float64(nodes)/float64(max(answers, 1)), "trees")
	b.ReportMetric(float64(proven)/float64(max(answers, 1)), "proven")
	b.ReportMetric(float64(limited)/float64(len(times)), "over-paths-limit")
}

// BenchmarkLimits measures how far past its limits a resolution runs: with
// an effort budget (the time to improve and prove) and with a deadline
// that stops everything, on problems whose proofs do not finish in time.
// It reports the largest and median overshoot; limits hold when both stay
// within a few milliseconds whatever the instance.
func BenchmarkLimits(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("flakes=%d", n), func(b *testing.B) {
			benchLimits(b, n)
		})
	}
}

// benchLimits measures the overshoot on the ecosystem of n flakes.
func benchLimits(b *testing.B, n int) {
	e, layers := loadEcosystem(b, n)
	var inputs []map[string]*pb.Input
	for s := range 16 {
		inputs = append(inputs, e.Request(20, uint64(s)))
	}
	for _, budget := range []time.Duration{20 * time.Millisecond, 100 * time.Millisecond} {
		for _, kind := range []string{"effort", "deadline"} {
			b.Run(fmt.Sprintf("%s=%s", kind, budget), func(b *testing.B) {
				var over []time.Duration
				for i := 0; b.Loop(); i++ {
					req := &Request{Inputs: inputs[i%len(inputs)], Strategy: Fewest, Limits: Limits{Effort: time.Hour}}
					ctx := context.Background()
					if kind == "effort" {
						req.Limits.Effort = budget
					} else {
						var cancel context.CancelFunc
						ctx, cancel = context.WithTimeout(ctx, budget)
						defer cancel()
					}
					start := time.Now()
					a, err := Resolve(ctx, layers, req)
					took := time.Since(start)
					var limit time.Duration
					switch {
					case kind == "deadline":
						limit = budget
					case err == nil:
						// The effort starts with the first answer.
						limit = a.Stats.FirstAnswer + budget
					default:
						continue
					}
					over = append(over, max(0, took-limit))
				}
				if len(over) == 0 {
					return
				}
				slices.Sort(over)
				ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
				b.ReportMetric(ms(over[len(over)/2]), "p50-over-ms")
				b.ReportMetric(ms(over[len(over)-1]), "max-over-ms")
			})
		}
	}
}

// BenchmarkResolveBig resolves warm with the 1,000,001-version index of
// ecosystem.GenerateBig loaded: app's request alone on it (its one
// version requires 100 of big's million versions), and, beside it, the
// 1,000-flake ecosystem's 20-input requests (effort 200ms), as a server
// holding one huge index answers everyday requests. Besides the request
// times it reports what the garbage collector did meanwhile
// (runtime/metrics): cycles, CPU and the part of it requests did
// themselves (mark assist, which is what a request waits for when the live
// heap is large) per resolve, and the longest stop-the-world pause.
func BenchmarkResolveBig(b *testing.B) {
	// Built on first use, so that a -bench pattern that selects none of
	// these does not generate the million versions.
	var ix *index.Index
	var big *ecosystem.BigFlake
	var eco *index.Layers
	var ecoRequests []map[string]*pb.Input
	setup := func(b *testing.B) {
		if ix != nil {
			return
		}
		big = ecosystem.GenerateBig(1_000_000)
		data, err := index.MarshalSnapshot("big", big.Index)
		if err != nil {
			b.Fatal(err)
		}
		big.Index = nil
		if ix, err = index.Parse("big", data); err != nil {
			b.Fatal(err)
		}
		var e *ecosystem.Ecosystem
		e, eco = loadEcosystem(b, 1000)
		for s := range 16 {
			ecoRequests = append(ecoRequests, e.Request(20, uint64(s)))
		}
	}
	for _, w := range []struct {
		name     string
		workload func() (*index.Layers, []map[string]*pb.Input)
		effort   time.Duration
	}{
		{"requests=app", func() (*index.Layers, []map[string]*pb.Input) {
			return index.NewLayers(ix), []map[string]*pb.Input{big.Request}
		}, time.Nanosecond},
		// The ecosystem has its own nixpkgs, which big's versions would
		// take for theirs: it is layered beside big, not asked about it.
		{"requests=ecosystem", func() (*index.Layers, []map[string]*pb.Input) {
			return index.NewLayers(append([]*index.Index{ix}, eco.Indexes()...)...), ecoRequests
		}, 200 * time.Millisecond},
	} {
		b.Run(w.name, func(b *testing.B) {
			setup(b)
			layers, requests := w.workload()
			runtime.GC()
			samples := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/gc/mark/assist:cpu-seconds"},
				{Name: "/sched/pauses/total/gc:seconds"}, {Name: "/gc/heap/live:bytes"}}
			metrics.Read(samples)
			// Read reuses a histogram's memory: keep the counts.
			cycles0, gc0, assist0, pauses0 := samples[0].Value.Uint64(), samples[1].Value.Float64(), samples[2].Value.Float64(), slices.Clone(samples[3].Value.Float64Histogram().Counts)
			var times []time.Duration
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				_, err := Resolve(context.Background(), layers, &Request{Inputs: requests[i%len(requests)], Limits: Limits{Effort: w.effort}})
				if outcomeOf(err) == "error" {
					b.Fatal(err)
				}
				times = append(times, time.Since(start))
			}
			metrics.Read(samples)
			reportLatencies(b, times)
			n := float64(len(times))
			b.ReportMetric(float64(samples[0].Value.Uint64()-cycles0)/n, "gc-cycles/op")
			b.ReportMetric((samples[1].Value.Float64()-gc0)*1000/n, "gc-cpu-ms/op")
			b.ReportMetric((samples[2].Value.Float64()-assist0)*1000/n, "assist-ms/op")
			b.ReportMetric(maxPause(pauses0, samples[3].Value.Float64Histogram())*1000, "max-stw-ms")
			b.ReportMetric(float64(samples[4].Value.Uint64())/(1<<20), "live-MiB")
		})
	}
	runtime.KeepAlive(ix)
}

// maxPause bounds the longest pause between two readings of a pause
// histogram (before, its counts then): the upper bound of the highest
// bucket that grew.
func maxPause(before []uint64, after *metrics.Float64Histogram) float64 {
	for i := len(after.Counts) - 1; i >= 0; i-- {
		if after.Counts[i] > before[i] {
			if math.IsInf(after.Buckets[i+1], 1) {
				return after.Buckets[i]
			}
			return after.Buckets[i+1]
		}
	}
	return 0
}

// reportLatencies reports the median, 99th percentile and longest of the
// requests' times.
// cpuTime is the CPU time the process has used, the garbage collector's
// included: on a machine shared with other work, wall times wander with
// the load, and CPU per resolve is what compares two builds.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportLatencies(b *testing.B, times []time.Duration) {
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(times[len(times)/2]), "p50-ms")
	b.ReportMetric(ms(times[int(0.99*float64(len(times)-1))]), "p99-ms")
	b.ReportMetric(ms(times[len(times)-1]), "max-ms")
}

// BenchmarkMemoryEstimate compares a resolution's estimated memory
// (Stats.Memory, what LimitMemory bounds) with the bytes it allocates, on
// 20-input requests to generated ecosystems, first answers only (the
// optimiser's work on top allocates little). It reports both per
// resolution and their ratio; the estimate is meant to be within a small
// factor of the allocation, so that a bound on it is a bound on memory.
func BenchmarkMemoryEstimate(b *testing.B) {
	for _, n := range []int{1000, 5000, 20000} {
		e, layers := loadEcosystem(b, n)
		b.Run(fmt.Sprintf("flakes=%d", n), func(b *testing.B) {
			var estimate, alloc float64
			var before, after runtime.MemStats
			for i := range b.N {
				req := &Request{Inputs: e.Request(20, uint64(i%64)), Limits: Limits{Effort: time.Nanosecond}}
				runtime.ReadMemStats(&before)
				a, err := Resolve(context.Background(), layers, req)
				runtime.ReadMemStats(&after)
				if err != nil && outcomeOf(err) != "conflict" {
					b.Fatal(err)
				}
				if a != nil {
					estimate += float64(a.Stats.Memory)
				}
				alloc += float64(after.TotalAlloc - before.TotalAlloc)
			}
			b.ReportMetric(estimate/float64(b.N), "estimate-B/op")
			b.ReportMetric(alloc/float64(b.N), "alloc-B/op")
			b.ReportMetric(estimate/alloc, "estimate/alloc")
		})
	}
}
