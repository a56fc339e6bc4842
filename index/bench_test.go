package index

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// BenchmarkEcosystemLoad loads the index of each generated ecosystem of
// BENCHMARKS.md (every generator, 100 to 20,000 flakes), as a server does
// at start, from its binary form (validated on load) and from a snapshot
// (validated when written).
func BenchmarkEcosystemLoad(b *testing.B) {
	for _, g := range ecosystem.Generators {
		for _, n := range []int{100, 1000, 5000, 20000} {
			b.Run(fmt.Sprintf("gen=%s/flakes=%d", g.Name, n), func(b *testing.B) { benchForms(b, g.Generate(n, 1).Index) })
		}
	}
}

// BenchmarkLoadMillion loads a 1,000,001-version index: ecosystem's
// GenerateBig, one flake of a million versions and one that requires it.
func BenchmarkLoadMillion(b *testing.B) {
	benchForms(b, ecosystem.GenerateBig(1_000_000).Index)
}

// benchForms loads an index from its binary form and from a snapshot.
func benchForms(b *testing.B, m *pb.Index) {
	bin, err := MarshalBinary(m)
	if err != nil {
		b.Fatal(err)
	}
	snap, err := MarshalSnapshot("bench", m)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("form=binpb", func(b *testing.B) { benchLoad(b, bin) })
	b.Run("form=snapshot", func(b *testing.B) { benchLoad(b, snap) })
}

// benchLoad loads an index file's bytes and reports the heap the loaded
// index keeps live, the time of a garbage collection with it live, and
// the file's size.
func benchLoad(b *testing.B, data []byte) {
	b.ReportAllocs()
	var live float64
	var gc time.Duration
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		b.StartTimer()
		// A copy, as Load reads the file: a snapshot's index keeps its
		// bytes.
		ix, err := Parse("bench", bytes.Clone(data))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		runtime.GC()
		// A collection with nothing live but the index: the work every
		// cycle does while it is served.
		start := time.Now()
		runtime.GC()
		gc = time.Since(start)
		runtime.ReadMemStats(&after)
		b.StartTimer()
		live = float64(after.HeapAlloc-before.HeapAlloc) / (1 << 20)
		runtime.KeepAlive(ix)
	}
	b.ReportMetric(live, "live-MiB")
	b.ReportMetric(float64(gc.Microseconds())/1000, "gc-ms")
	b.ReportMetric(float64(len(data))/(1<<20), "file-MiB")
}
