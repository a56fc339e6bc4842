package pbopt

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
)

// benchDeadline bounds one solve in the benchmarks: past it, the result
// counts as unproven.
const benchDeadline = 60 * time.Second

// benchInstance is a named problem of the benchmarks.
type benchInstance struct {
	name string
	in   *flakeInstance
}

var (
	benchOnce      sync.Once
	benchInstances []benchInstance
)

// instances are the benchmark problems: five requests on generated
// ecosystems of 100, 2,000 and 20,000 flakes, and hub-shaped problems of
// growing size (see hubIndex), the last beyond what either tool proves in
// a minute.
func instances(b testing.TB) []benchInstance {
	benchOnce.Do(func() {
		for _, n := range []int{100, 2000, 20000} {
			e := ecosystem.Generate(n, 1)
			for r := range 5 {
				in, err := newFlakeInstance(e.Index, e.Request(20, uint64(r)))
				if err != nil {
					panic(err)
				}
				benchInstances = append(benchInstances, benchInstance{fmt.Sprintf("flakes=%d/request=%d", n, r), in})
			}
		}
		for _, h := range []struct{ hub, libs, versions, width int }{
			{1000, 50, 10, 100}, {1000, 100, 10, 100}, {2000, 200, 10, 100}, {3000, 300, 20, 150},
		} {
			idx, req := hubIndex(rand.New(rand.NewPCG(1, 2)), h.hub, h.libs, h.versions, h.width)
			in, err := newFlakeInstance(idx, req)
			if err != nil {
				panic(err)
			}
			benchInstances = append(benchInstances, benchInstance{fmt.Sprintf("hub=%d/libs=%dx%d", h.hub, h.libs, h.versions), in})
		}
	})
	return benchInstances
}

// BenchmarkSolve: time to prove the lexicographic optimum (fewest versions,
// then least staleness) from scratch, the PB problem built.
//
//	go test -run '^$' -bench Solve -benchtime 5x ./internal/pbopt
func BenchmarkSolve(b *testing.B) {
	for _, bi := range instances(b) {
		b.Run(bi.name, func(b *testing.B) {
			var r *Result
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
				r, _ = Solve(ctx, bi.in.p, Options{})
				cancel()
			}
			reportResult(b, bi.in, r)
		})
	}
}

func reportResult(b *testing.B, in *flakeInstance, r *Result) {
	b.ReportMetric(float64(in.p.NumVars), "vars")
	b.ReportMetric(float64(r.Levels[0].Upper), "versions")
	b.ReportMetric(float64(r.Levels[1].Upper), "staleness")
	proven := 0.0
	if r.Status == Optimal {
		proven = 1
	}
	b.ReportMetric(proven, "proven")
}

// BenchmarkAspcud runs aspcud (clasp, core-guided) on the same problems as
// whole processes, and checks that the optimum it proves is pbopt's.
//
//	go test -run '^$' -bench Aspcud -benchtime 3x ./internal/pbopt
func BenchmarkAspcud(b *testing.B) {
	aspcud, err := exec.LookPath("aspcud")
	if err != nil {
		b.Skip("aspcud not installed (apt-get install aspcud)")
	}
	dir := b.TempDir()
	for _, bi := range instances(b) {
		b.Run(bi.name, func(b *testing.B) {
			in := filepath.Join(dir, "problem.cudf")
			f, err := os.Create(in)
			if err != nil {
				b.Fatal(err)
			}
			if err := bi.in.writeCUDF(f); err != nil {
				b.Fatal(err)
			}
			f.Close()
			out := filepath.Join(dir, "solution.cudf")
			var finished bool
			for b.Loop() {
				ctx, cancel := context.WithTimeout(context.Background(), benchDeadline)
				cmd := exec.CommandContext(ctx, aspcud, in, out, "-count(solution),-sum(solution,staleness)")
				finished = cmd.Run() == nil
				cancel()
			}
			if !finished {
				b.ReportMetric(0, "proven")
				return
			}
			data, err := os.ReadFile(out)
			if err != nil {
				b.Fatal(err)
			}
			m, err := bi.in.parseCUDFSolution(string(data))
			if err != nil {
				b.Fatal(err)
			}
			if !satisfies(bi.in.p, m) {
				b.Fatal("aspcud's solution violates the constraints")
			}
			ours, _ := Solve(context.Background(), bi.in.p, Options{Work: 200_000_000})
			got := []int64{bi.in.p.Levels[0].Cost(m), bi.in.p.Levels[1].Cost(m)}
			if ours.Status == Optimal && !slices.Equal(got, []int64{ours.Levels[0].Upper, ours.Levels[1].Upper}) {
				b.Fatalf("aspcud's optimum %v, pbopt's %v", got, ours.Levels)
			}
			b.ReportMetric(float64(got[0]), "versions")
			b.ReportMetric(float64(got[1]), "staleness")
			b.ReportMetric(1, "proven")
		})
	}
}
