package ecosystem_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	"github.com/flakeresolve/flakeresolve/solver"
)

func TestGenerateIsValidAndDeterministic(t *testing.T) {
	a, b := ecosystem.Generate(200, 3), ecosystem.Generate(200, 3)
	da, _ := index.MarshalBinary(a.Index)
	db, _ := index.MarshalBinary(b.Index)
	if !bytes.Equal(da, db) {
		t.Fatal("the same size and seed gave different ecosystems")
	}
	if probs := index.Validate(a.Index); len(probs) > 0 {
		t.Fatalf("generated index is invalid: %v", probs[0])
	}
	if n := len(a.Index.Flakes); n != 200 {
		t.Errorf("%d flakes, want 200", n)
	}
	if hub := a.Index.Flakes[0]; hub.Name != "nixpkgs" || len(hub.Versions) < 3000 {
		t.Errorf("hub %s has %d versions, want nixpkgs with thousands", hub.Name, len(hub.Versions))
	}
	if got := len(a.Request(20, 1)); got != 20 {
		t.Errorf("request has %d inputs, want 20", got)
	}
}

// TestTestsolvAgrees runs Debian's testsolv on generated problems: its
// answer must be valid (every requirement of every installed package met),
// and it may not use fewer trees than the resolver's proven minimum.
func TestTestsolvAgrees(t *testing.T) {
	bin, err := exec.LookPath("testsolv")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("testsolv (libsolv-tools) is required in CI")
		}
		t.Skip("testsolv not installed (apt-get install libsolv-tools)")
	}
	e := ecosystem.Generate(60, 1)
	data, _ := index.MarshalBinary(e.Index)
	ix, err := index.Parse("eco", data)
	if err != nil {
		t.Fatal(err)
	}
	layers := index.NewLayers(ix)
	for s := range 5 {
		req := e.Request(8, uint64(s))
		file := filepath.Join(t.TempDir(), fmt.Sprintf("p%d.t", s))
		var buf bytes.Buffer
		if err := e.WriteTestcase(&buf, req); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(file, buf.Bytes(), 0o644)
		out, _ := exec.Command(bin, file).CombinedOutput() // exits 1: the testcase has no expected result
		pkgs := ecosystem.ParseTestsolv(string(out))
		if len(pkgs) == 0 {
			t.Fatalf("testsolv installed nothing:\n%s", out)
		}
		installed := map[string]bool{}
		for _, p := range pkgs {
			installed[p] = true
		}
		// Validity: every requirement of every installed version is met by
		// an installed version.
		for _, p := range pkgs {
			var name, ver string
			fmt.Sscan(p, &name, &ver)
			f, _ := layers.Lookup(name)
			for _, v := range f.Versions {
				if v.String() != ver {
					continue
				}
				for in, decl := range v.Inputs() {
					if decl.Version == "" {
						continue
					}
					q := versionreq.MustParse(decl.Version)
					dep := decl.Url[len("github:eco/"):]
					if in == "nixpkgs" {
						dep = "nixpkgs"
					}
					df, _ := layers.Lookup(dep)
					met := false
					for _, dv := range df.Versions {
						met = met || (installed[dep+" "+dv.String()] && q.Matches(dv.SemVer))
					}
					if !met {
						t.Errorf("testsolv answer: %s needs %s %s, not installed", p, dep, q)
					}
				}
			}
		}
		a, err := solver.Resolve(context.Background(), layers, &solver.Request{Inputs: req, Strategy: solver.Fewest})
		if err != nil {
			t.Fatal(err)
		}
		if a.Stats.Proven() && len(a.Nodes) > len(pkgs) {
			t.Errorf("request %d: proven minimum %d trees, but testsolv found %d", s, len(a.Nodes), len(pkgs))
		}
		t.Logf("request %d: resolver %d trees (proven %v), testsolv %d", s, len(a.Nodes), a.Stats.Proven(), len(pkgs))
	}
}
