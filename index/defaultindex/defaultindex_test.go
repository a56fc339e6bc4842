package defaultindex

import (
	"testing"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
)

func TestLoad(t *testing.T) {
	ix, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if st := ix.Stats(); st.Flakes < 40 || st.Versions < 1000 {
		t.Errorf("embedded index is too small: %+v", st)
	}
}

// BenchmarkLoad: load the embedded index, as every command without
// --index does at start.
func BenchmarkLoad(b *testing.B) {
	b.SetBytes(int64(Size()))
	for b.Loop() {
		if _, err := Load(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuery: the hot path of Query, a lookup and a select.
func BenchmarkQuery(b *testing.B) {
	ix, err := Load()
	if err != nil {
		b.Fatal(err)
	}
	l := index.NewLayers(ix)
	req := versionreq.MustParse("^0.2405")
	for b.Loop() {
		f, err := l.Lookup("nixpkgs")
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Select(req)) == 0 {
			b.Fatal("no match")
		}
	}
}
