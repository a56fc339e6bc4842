package solver

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
)

// benchSizes are the ecosystem sizes of BENCHMARKS.md.
var benchSizes = []int{100, 1000, 5000, 20000}

func loadEcosystem(b testing.TB, n int) (*ecosystem.Ecosystem, *index.Layers) {
	b.Helper()
	e := ecosystem.Generate(n, 1)
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

// BenchmarkResolve resolves 20-input requests against loaded ecosystems
// (warm: the index is loaded once) and reports the median and 99th
// percentile of the requests' times, the largest answer and the share of
// answers proven optimal.
func BenchmarkResolve(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("flakes=%d", n), func(b *testing.B) {
			e, layers := loadEcosystem(b, n)
			var reqs []*Request
			for s := range 64 {
				reqs = append(reqs, &Request{Inputs: e.Request(20, uint64(s))})
			}
			var times []time.Duration
			var proven, nodes, conflicts int
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				a, err := Resolve(context.Background(), layers, reqs[i%len(reqs)])
				times = append(times, time.Since(start))
				if _, ok := err.(*ConflictError); ok {
					conflicts++
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
				nodes = max(nodes, len(a.Nodes))
				if a.Stats.ProvenMinimal && a.Stats.ProvenNewest {
					proven++
				}
			}
			slices.Sort(times)
			pct := func(p float64) float64 {
				return float64(times[int(p*float64(len(times)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(0.5), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(float64(times[len(times)-1].Microseconds())/1000, "max-ms")
			b.ReportMetric(float64(nodes), "max-nodes")
			b.ReportMetric(float64(proven)/float64(len(times)-conflicts), "proven")
			b.ReportMetric(float64(conflicts), "conflicts")
		})
	}
}

// TestEcosystemMemory reports what a loaded 20,000-flake index keeps
// resident (run with -v).
func TestEcosystemMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the 20,000-flake ecosystem")
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, layers := loadEcosystem(t, 20000)
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := layers.Indexes()[0].Stats()
	t.Logf("20000-flake index: %d versions, %d inputs, %.0f MiB live heap", st.Versions, st.Inputs, float64(after.HeapAlloc-before.HeapAlloc)/(1<<20))
	runtime.KeepAlive(layers)
}
