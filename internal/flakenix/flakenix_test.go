package flakenix

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/nixtest"
	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite the want and error sections of testdata/*.txtar")

// Each fixture in testdata holds a flake.nix, an optional flake.versions.nix,
// and either "want" (the reading, as JSON) or "error" (the message, with
// the fixture's directory written as $DIR).

type fixture struct {
	path string
	ar   *txtar.Archive
	dir  string
}

func loadFixtures(t *testing.T) []fixture {
	files, err := filepath.Glob("testdata/*.txtar")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	var out []fixture
	for _, f := range files {
		ar, err := txtar.ParseFile(f)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		for _, af := range ar.Files {
			if af.Name == "flake.nix" || af.Name == SideFile {
				if err := os.WriteFile(filepath.Join(dir, af.Name), af.Data, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		out = append(out, fixture{path: f, ar: ar, dir: dir})
	}
	return out
}

func (fx fixture) section(name string) (string, bool) {
	for _, f := range fx.ar.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

func (fx fixture) setSection(name, data string) {
	var files []txtar.File
	for _, f := range fx.ar.Files {
		if f.Name != "want" && f.Name != "error" {
			files = append(files, f)
		}
	}
	fx.ar.Files = append(files, txtar.File{Name: name, Data: []byte(data)})
}

// summary renders a reading for the fixtures: every field that matters,
// sources in Nix's attribute form.
func summary(f *Flake) string {
	type in map[string]any
	var conv func(m map[string]*Input) map[string]any
	conv = func(m map[string]*Input) map[string]any {
		out := map[string]any{}
		for name, i := range m {
			x := in{}
			if i.Source != nil {
				x["source"] = flakeref.Attrs(i.Source)
			}
			if i.Version != "" {
				x["version"] = i.Version
			}
			if i.Flake != nil {
				x["flake"] = *i.Flake
			}
			if i.Follows != nil {
				x["follows"] = strings.Join(i.Follows, "/")
			}
			if i.Implicit {
				x["implicit"] = true
			}
			if len(i.Inputs) > 0 {
				x["inputs"] = conv(i.Inputs)
			}
			out[name] = x
		}
		return out
	}
	s := map[string]any{"inputs": conv(f.Inputs)}
	if f.Description != "" {
		s["description"] = f.Description
	}
	if f.Version != "" {
		s["version"] = f.Version
	}
	if f.NixConfig != nil {
		s["nixConfig"] = f.NixConfig
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	return string(b) + "\n"
}

func TestFixtures(t *testing.T) {
	for _, fx := range loadFixtures(t) {
		t.Run(strings.TrimSuffix(filepath.Base(fx.path), ".txtar"), func(t *testing.T) {
			f, err := ReadDir(fx.dir)
			var got, section string
			if err != nil {
				got, section = strings.ReplaceAll(err.Error(), fx.dir, "$DIR")+"\n", "error"
			} else {
				got, section = summary(f), "want"
			}
			if *update {
				fx.setSection(section, got)
				if err := os.WriteFile(fx.path, txtar.Format(fx.ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, ok := fx.section(section)
			if !ok {
				t.Fatalf("the reader gave %s, but the fixture has no %s section:\n%s", section, section, got)
			}
			if got != want {
				t.Errorf("got %s:\n%s\nwant:\n%s", section, got, want)
			}
		})
	}
}

// TestMatchesNixInstantiate compares the reader's inputs with Nix's own
// evaluation of them for every fixture the reader accepts.
func TestMatchesNixInstantiate(t *testing.T) {
	bin := nixtest.Need(t, "nix-instantiate")
	compared := 0
	for _, fx := range loadFixtures(t) {
		if _, ok := fx.section("want"); !ok {
			continue
		}
		src, _ := fx.section("flake.nix")
		f, err := Parse("flake.nix", []byte(src))
		if err != nil {
			t.Errorf("%s: %v", fx.path, err)
			continue
		}
		cmd := exec.Command(bin, "--eval", "--json", "--strict", "-E",
			`let f = import ./flake.nix; in { inputs = f.inputs or {}; description = f.description or ""; }`)
		cmd.Dir = fx.dir
		cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: nix-instantiate: %v\n%s", fx.path, err, stderr.String())
			continue
		}
		ours := fmt.Sprintf(`{"inputs": %s, "description": %q}`, f.RawInputs(), f.Description)
		if !jsonEqual(t, out, []byte(ours)) {
			t.Errorf("%s: the reader differs from Nix:\nours: %s\nnix:  %s", fx.path, ours, out)
		}
		compared++
	}
	t.Logf("compared %d fixtures with nix-instantiate", compared)
}

// TestNixRejectsErrors checks that every err-* fixture's flake.nix is one
// Nix 2.8 rejects as well: its error is about the file, not about fetching
// inputs, which Nix only tries once the file has been read. (reject-*
// fixtures are refused by policy: Nix would read them.)
func TestNixRejectsErrors(t *testing.T) {
	store := t.TempDir()
	for _, fx := range loadFixtures(t) {
		_, side := fx.section(SideFile)
		if !strings.HasPrefix(filepath.Base(fx.path), "err-") || side {
			continue
		}
		_, stderr, err := nixtest.Nix(t, "", "flake", "metadata", "--offline", "--store", store, "path:"+fx.dir)
		if err == nil {
			t.Errorf("%s: Nix accepted the flake", fx.path)
			continue
		}
		if strings.Contains(stderr, "unable to download") || strings.Contains(stderr, "cannot find flake") {
			t.Errorf("%s: Nix read the flake.nix and went on to fetch its inputs:\n%s", fx.path, stderr)
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	ax, _ := json.Marshal(x)
	by, _ := json.Marshal(y)
	return bytes.Equal(ax, by)
}

// TestNestingBound: values nested past MaxNesting, as sets, lists or
// interpolations, are refused with the position where the bound is
// crossed, without exhausting the stack (2 million levels recursed once
// per level overflow Go's 1 GB stack); nesting up to the bound is read.
func TestNestingBound(t *testing.T) {
	deep := func(open, close string, n int) string {
		return "{ description = " + strings.Repeat(open, n) + "1" + strings.Repeat(close, n) + "; outputs = { self }: { }; }"
	}
	for _, tc := range []struct {
		name, src string
		col       int
	}{
		{"sets", deep("{ a = ", "; }", 2_000_000), 17 + 6*(MaxNesting-1)},
		{"lists", deep("[ ", " ]", 2_000_000), 17 + 2*(MaxNesting-1)},
		{"interpolations", "{ description = " + strings.Repeat(`"${`, 2_000_000) + "1" + strings.Repeat(`}"`, 2_000_000) + "; }", 17 + 3*MaxNesting},
	} {
		_, err := Parse("flake.nix", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), "nested more than 256 deep") || !strings.Contains(err.Error(), fmt.Sprintf("flake.nix:1:%d:", tc.col)) {
			t.Errorf("%s: %v, want the nesting bound at flake.nix:1:%d", tc.name, err, tc.col)
		}
	}
	// At the bound, a set nested in description is read (and refused
	// only as Nix would refuse it: description must be a string).
	_, err := Parse("flake.nix", []byte(deep("{ a = ", "; }", MaxNesting-2)))
	if err == nil || strings.Contains(err.Error(), "nested") {
		t.Errorf("nesting within the bound: %v, want the description complaint", err)
	}
}
