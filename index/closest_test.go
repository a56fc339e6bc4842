package index

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// levenshtein is the textbook distance, unbounded, to judge the bounded
// one by.
func levenshtein(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
		}
	}
	return d[len(a)][len(b)]
}

// TestBoundedEditDistance: the bounded distance is the distance when that
// is within the bound, and bound+1 when it is over, on random strings of
// a small alphabet (so near and far pairs both occur).
func TestBoundedEditDistance(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	word := func() string {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = "abc"[r.IntN(3)]
		}
		return string(b)
	}
	for range 20_000 {
		a, b, bound := word(), word(), r.IntN(6)
		want := min(levenshtein(a, b), bound+1)
		if got := editDistance(a, b, bound); got != want {
			t.Fatalf("editDistance(%q, %q, %d) = %d, want %d", a, b, bound, got, want)
		}
	}
}

// TestClosestBounded: a name longer than any flake's is no misspelling
// and gets no suggestion (a megabyte name once cost minutes of CPU); the
// suggestions of an ordinary misspelling are unchanged.
func TestClosestBounded(t *testing.T) {
	names := []string{"hyprland", "hyprlang", "hyprutils", "nixpkgs", "home-manager"}
	if got := closest(strings.Repeat("hyprutils", 100_000), names, 3); got != nil {
		t.Errorf("a 900 KB name: %v", got)
	}
	if got := closest("hyprutil", names, 3); !slices.Equal(got, []string{"hyprutils"}) {
		t.Errorf("hyprutil: %v", got)
	}
	if got := closest("hyprlnd", names, 3); !slices.Equal(got, []string{"hyprland", "hyprlang"}) {
		t.Errorf("hyprlnd: %v", got)
	}
	if got := closest("home", names, 3); !slices.Equal(got, []string{"home-manager"}) {
		t.Errorf("home: %v", got)
	}
}
