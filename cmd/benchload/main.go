// Command benchload measures what loading a very large index costs a whole
// process: it generates the big-flake index (internal/ecosystem's
// GenerateBig, one flake of a million versions by default), writes it as a
// binary Index and, through the binary under test, as a snapshot, and runs
// `flakeresolve index stats FILE` on each under /usr/bin/time: wall time,
// CPU time and peak resident memory, medians of several runs. It prints a
// Markdown table for BENCHMARKS.md; progress goes to stderr.
//
//	go build -o /tmp/flakeresolve ./cmd/flakeresolve
//	go run ./cmd/benchload -bin /tmp/flakeresolve -versions 1000000 -runs 5
//
// A binary without the snapshot subcommand (an older build) is measured on
// the binary Index alone.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
)

func main() {
	var (
		bin      = flag.String("bin", "", "the flakeresolve binary to measure (required)")
		versions = flag.Int("versions", 1_000_000, "versions of the big flake")
		runs     = flag.Int("runs", 5, "runs of each command; the median counts")
		dir      = flag.String("dir", "", "where to write the index files (default: a temporary directory)")
	)
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "benchload: -bin is required; see the package documentation")
		os.Exit(2)
	}
	var err error
	if *dir == "" {
		*dir, err = os.MkdirTemp("", "benchload")
		check(err)
		defer os.RemoveAll(*dir)
	}
	fmt.Fprintf(os.Stderr, "generating %d versions...\n", *versions)
	data, err := index.MarshalBinary(ecosystem.GenerateBig(*versions).Index)
	check(err)
	binFile := filepath.Join(*dir, "big.binpb")
	check(os.WriteFile(binFile, data, 0o644))
	files := []string{binFile}

	snapFile := filepath.Join(*dir, "big.snap")
	fmt.Fprintln(os.Stderr, "writing the snapshot...")
	if t, err := timed(*bin, "index", "snapshot", binFile, "-o", snapFile); err != nil {
		fmt.Fprintf(os.Stderr, "no snapshot (%v): measuring the binary index alone\n", err)
	} else {
		fmt.Fprintf(os.Stderr, "snapshot written in %.2f s wall, %.2f s CPU, %.0f MiB peak RSS\n", t.wall, t.cpu, t.rssMiB)
		files = append(files, snapFile)
	}

	fmt.Println("| file | bytes | wall s | CPU s | peak RSS MiB |")
	fmt.Println("|---|---:|---:|---:|---:|")
	for _, f := range files {
		st, err := os.Stat(f)
		check(err)
		var wall, cpu, rss []float64
		for range *runs {
			t, err := timed(*bin, "index", "stats", f)
			check(err)
			wall, cpu, rss = append(wall, t.wall), append(cpu, t.cpu), append(rss, t.rssMiB)
		}
		fmt.Fprintf(os.Stderr, "%s: wall %v, CPU %v, RSS %v\n", filepath.Base(f), wall, cpu, rss)
		fmt.Printf("| %s | %d | %.2f | %.2f | %.0f |\n", filepath.Base(f), st.Size(), median(wall), median(cpu), median(rss))
	}
}

type timing struct{ wall, cpu, rssMiB float64 }

// timed runs a command under /usr/bin/time -f '%e %U %S %M', whose last
// line of stderr is wall seconds, user and system CPU seconds, and peak
// resident KiB.
func timed(name string, args ...string) (timing, error) {
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "%e %U %S %M", name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return timing{}, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	fields := strings.Fields(lines[len(lines)-1])
	if len(fields) != 4 {
		return timing{}, fmt.Errorf("unexpected /usr/bin/time output %q", lines[len(lines)-1])
	}
	var v [4]float64
	for i, f := range fields {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return timing{}, fmt.Errorf("unexpected /usr/bin/time output %q", lines[len(lines)-1])
		}
		v[i] = x
	}
	return timing{wall: v[0], cpu: v[1] + v[2], rssMiB: v[3] / 1024}, nil
}

func median(xs []float64) float64 {
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchload:", err)
		os.Exit(1)
	}
}
