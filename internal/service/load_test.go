package service

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/index"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// TestTruncatedIndex: a binary index cut short inside a flake fails to
// load, naming the file; one cut exactly between two flakes loads as the
// smaller index it then is, which the wire format cannot tell from a
// whole file. That is why an index that must be known whole is served as
// a snapshot, whose digest covers every byte (LoadIndex's doc says so).
func TestTruncatedIndex(t *testing.T) {
	data, err := os.ReadFile("../../index/testdata/small.json")
	if err != nil {
		t.Fatal(err)
	}
	m, err := index.Decode("small.json", data)
	if err != nil {
		t.Fatal(err)
	}
	whole, err := index.MarshalBinary(m)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	load := func(b []byte) (*index.Index, error) {
		path := filepath.Join(dir, "index.binpb")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return LoadIndex(path)
	}
	if _, err := load(whole[:len(whole)/2]); err == nil || !strings.Contains(err.Error(), "index.binpb") {
		t.Errorf("cut in half: %v, want an error naming the file", err)
	}

	first, err := index.MarshalBinary(&pb.Index{Schema: m.Schema, Flakes: m.Flakes[:1]})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(whole, first) {
		t.Fatalf("the first flake's encoding is not a prefix of the whole")
	}
	ix, err := load(first)
	if err != nil || ix.Stats().Flakes != 1 {
		t.Errorf("cut between flakes: %v, want the one-flake index it encodes", err)
	}
}
