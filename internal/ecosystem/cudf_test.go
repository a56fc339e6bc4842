package ecosystem_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// tiny is a problem small enough to solve by hand. The newest a, 1.1.0,
// lags on c's old class and brings d, so the fewest trees take the older
// a 1.0.0, which shares c 2.1.0 with b: 3 trees, staleness 1, against 5
// trees for the newest versions.
func tiny() *ecosystem.Ecosystem {
	in := func(name, req string) *pb.Input { return &pb.Input{Url: "github:t/" + name, Version: req} }
	f := func(name string, versions ...*pb.Version) *pb.Flake {
		return &pb.Flake{Name: name, Source: &pb.Source{Type: "github", Owner: "t", Repo: name}, Versions: versions}
	}
	v := func(version string, inputs ...*pb.Input) *pb.Version {
		m := map[string]*pb.Input{}
		for _, i := range inputs {
			m[strings.TrimPrefix(i.Url, "github:t/")] = i
		}
		return &pb.Version{Version: version, Inputs: m, Locked: &pb.Source{Rev: strings.Repeat("0", 40)}}
	}
	return ecosystem.FromIndex(&pb.Index{Schema: 1, Flakes: []*pb.Flake{
		f("a", v("1.0.0", in("c", "^2.0")), v("1.1.0", in("c", "^1.0"), in("d", "^1"))),
		f("b", v("1.0.0", in("c", "^2.1"))),
		f("c", v("2.1.0"), v("1.0.0"), v("2.0.0")), // out of order: ranks follow SemVer
		f("d", v("1.0.0")),
		f("e", v("1.0.0", in("d", "^1"))), // unreached by the request
	}})
}

var tinyRequest = map[string]*pb.Input{
	"a": {Url: "github:t/a", Version: "^1"},
	"b": {Url: "github:t/b", Version: "^1"},
}

func TestWriteCUDF(t *testing.T) {
	var got bytes.Buffer
	if err := tiny().WriteCUDF(&got, tinyRequest); err != nil {
		t.Fatal(err)
	}
	want := `preamble: 
property: staleness: int = [0]

package: a
version: 1
staleness: 1
depends: c = 2 | c = 3

package: a
version: 2
staleness: 0
depends: c = 1, d = 1

package: b
version: 1
staleness: 0
depends: c = 3

package: c
version: 1
staleness: 2

package: c
version: 2
staleness: 1

package: c
version: 3
staleness: 0

package: d
version: 1
staleness: 0

package: (root)
version: 1
depends: a = 1 | a = 2, b = 1

request: flakeresolve
install: (root)
`
	if got.String() != want {
		t.Errorf("CUDF:\n%s\nwant:\n%s", got.String(), want)
	}
}

func TestCheck(t *testing.T) {
	e := tiny()
	tr := func(flake, version string) ecosystem.Tree { return ecosystem.Tree{Flake: flake, Version: version} }
	if err := e.Check(tinyRequest, []ecosystem.Tree{tr("a", "1.0.0"), tr("b", "1.0.0"), tr("c", "2.1.0")}); err != nil {
		t.Errorf("the optimum: %v", err)
	}
	for _, c := range []struct {
		trees []ecosystem.Tree
		want  string
	}{
		{[]ecosystem.Tree{tr("a", "1.0.0"), tr("b", "1.0.0"), tr("c", "2.0.0")}, "b 1.0.0 requires c ^2.1, and no installed version matches"},
		{[]ecosystem.Tree{tr("b", "1.0.0"), tr("c", "2.1.0")}, "root input a requires a ^1, and no installed version matches"},
		{[]ecosystem.Tree{tr("a", "1.0.0"), tr("b", "1.0.0"), tr("c", "2.1.0"), tr("c", "9.0.0")}, "c 9.0.0 is not a version of the ecosystem"},
		{[]ecosystem.Tree{tr("a", "1.0.0"), tr("b", "1.0.0"), tr("c", "2.1.0"), tr("b", "1.0.0")}, "b 1.0.0 is listed twice"},
	} {
		if err := e.Check(tinyRequest, c.trees); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Check(%v) = %v, want an error saying %q", c.trees, err, c.want)
		}
	}
	if n, _ := e.Staleness([]ecosystem.Tree{tr("a", "1.0.0"), tr("c", "1.0.0")}); n != 3 {
		t.Errorf("staleness of a 1.0.0 and c 1.0.0 = %d, want 1 + 2", n)
	}
}

// runAspcud solves a problem with the real aspcud.
func runAspcud(t *testing.T, e *ecosystem.Ecosystem, request map[string]*pb.Input) (*ecosystem.AspcudAnswer, error) {
	t.Helper()
	bin := peer(t, "aspcud", "aspcud")
	dir := t.TempDir()
	var cudf bytes.Buffer
	if err := e.WriteCUDF(&cudf, request); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "p.cudf")
	os.WriteFile(file, cudf.Bytes(), 0o644)
	cmd := exec.Command(bin, ecosystem.AspcudArgs(file, time.Minute)...)
	cmd.Env = append(os.Environ(), "TMPDIR="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("aspcud: %v\n%s", err, stderr.Bytes())
	}
	return e.ReadAspcud(stdout.Bytes(), stderr.Bytes())
}

func TestAspcudSolvesTiny(t *testing.T) {
	e := tiny()
	a, err := runAspcud(t, e, tinyRequest)
	if err != nil {
		t.Fatal(err)
	}
	want := []ecosystem.Tree{{Flake: "a", Version: "1.0.0"}, {Flake: "b", Version: "1.0.0"}, {Flake: "c", Version: "2.1.0"}}
	slices.SortFunc(a.Trees, func(x, y ecosystem.Tree) int { return strings.Compare(x.String(), y.String()) })
	if !slices.Equal(a.Trees, want) || !a.Proven || !slices.Equal(a.Cost, []int{4, 1}) {
		t.Errorf("aspcud: trees %v, proven %v, cost %v; want %v, proven, cost [4 1] (the root counts)", a.Trees, a.Proven, a.Cost, want)
	}

	// A requirement no version matches: aspcud proves there is no answer.
	_, err = runAspcud(t, e, map[string]*pb.Input{"c": {Url: "github:t/c", Version: "^3"}})
	if err == nil || !strings.Contains(err.Error(), "UNSATISFIABLE") {
		t.Errorf("c ^3: %v, want aspcud to prove no answer exists", err)
	}
}

// TestReadAspcudInterrupted reads clasp's verdict when its time limit ends
// the search (standard error of a real aspcud run, shortened): the answer
// is not proven, and the lower bound says how far from optimal it can be.
func TestReadAspcudInterrupted(t *testing.T) {
	stderr := `*** Info : (clasp): INTERRUPTED by signal!
clasp version 3.3.5
Solving...
SATISFIABLE
TIME LIMIT   : 1
Models       : 1+
Optimization : 3 2
Bounds       : [2;3] [0;2]
`
	stdout := "package: (root)\nversion: 1\ninstalled: true\n\npackage: a\nversion: 2\ninstalled: true\n\npackage: c\nversion: 1\ninstalled: true\n"
	a, err := tiny().ReadAspcud([]byte(stdout), []byte(stderr))
	if err != nil {
		t.Fatal(err)
	}
	want := []ecosystem.Tree{{Flake: "a", Version: "1.1.0"}, {Flake: "c", Version: "1.0.0"}}
	if a.Proven || a.TreesProven() || !slices.Equal(a.Trees, want) || !slices.Equal(a.Cost, []int{3, 2}) || !slices.Equal(a.LowerBound, []int{2, 0}) {
		t.Errorf("got %+v, want trees %v, not proven, cost [3 2], lower bound [2 0]", a, want)
	}
	// A bound that meets the tree count proves the count, not the staleness.
	a, err = tiny().ReadAspcud([]byte(stdout), []byte(strings.Replace(stderr, "[2;3]", "[3;3]", 1)))
	if err != nil || a.Proven || !a.TreesProven() {
		t.Errorf("bound [3;3]: %+v, %v; want the tree count proven, not the whole optimum", a, err)
	}
	for _, c := range []struct{ stdout, stderr, want string }{
		{"package: a\nversion: 7\ninstalled: true\n", "", `version "7" is not in the problem`},
		{stdout, strings.Replace(stderr, "3 2", "3 1", 1), "clasp reports the cost [3 1] (standard error, Optimization), but its solution costs [3 2]"},
		{stdout, "", "clasp reports the cost [] (standard error, Optimization), but its solution costs [3 2]"},
		{"package: a\nversion: 2\ninstalled: true\n", stderr, "does not install (root)"},
		{"FAIL\n", "UNKNOWN\n", "without proving that no answer exists"},
	} {
		if _, err := tiny().ReadAspcud([]byte(c.stdout), []byte(c.stderr)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("ReadAspcud(%q, %q) = %v, want an error saying %q", c.stdout, c.stderr, err, c.want)
		}
	}
}
