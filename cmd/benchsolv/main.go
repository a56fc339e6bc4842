// Command benchsolv compares flakeresolve with libsolv's testsolv on
// generated ecosystems: the same problems, each tool run as a whole process
// (loading its input included), timed, and their answers' sizes compared.
// It prints a Markdown table for BENCHMARKS.md; progress goes to stderr.
//
//	go build -o /tmp/flakeresolve ./cmd/flakeresolve
//	go run ./cmd/benchsolv -bin /tmp/flakeresolve -sizes 100,1000,5000,20000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/ecosystem"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

func main() {
	var (
		bin      = flag.String("bin", "", "the flakeresolve binary to measure (required)")
		sizes    = flag.String("sizes", "100,1000,5000,20000", "ecosystem sizes, in flakes")
		requests = flag.Int("requests", 5, "20-input requests per size")
		effort   = flag.Duration("effort", 2*time.Second, "flakeresolve --effort")
		runs     = flag.Int("runs", 3, "runs of each command; the median counts")
		dir      = flag.String("dir", "", "where to write the problems (default: a temporary directory)")
	)
	flag.Parse()
	if *bin == "" {
		fmt.Fprintln(os.Stderr, "benchsolv: -bin is required; see the package documentation")
		os.Exit(2)
	}
	testsolv, err := exec.LookPath("testsolv")
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsolv: testsolv not found; apt-get install libsolv-tools")
		os.Exit(1)
	}
	if *dir == "" {
		*dir, err = os.MkdirTemp("", "benchsolv")
		check(err)
		defer os.RemoveAll(*dir)
	}
	fmt.Println("| flakes | versions | request | flakeresolve s | testsolv s | ratio | trees: flakeresolve | trees: testsolv | flakeresolve proven minimal | testsolv minimal |")
	fmt.Println("|---:|---:|---:|---:|---:|---:|---:|---:|:---:|:---:|")
	for _, field := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(field)
		check(err)
		fmt.Fprintf(os.Stderr, "generating %d flakes...\n", n)
		e := ecosystem.Generate(n, 1)
		data, err := index.MarshalBinary(e.Index)
		check(err)
		indexFile := filepath.Join(*dir, fmt.Sprintf("eco-%d.binpb", n))
		check(os.WriteFile(indexFile, data, 0o644))
		versions := 0
		for _, f := range e.Index.Flakes {
			versions += len(f.Versions)
		}
		for s := range *requests {
			req := e.Request(20, uint64(s))
			reqFile := filepath.Join(*dir, fmt.Sprintf("req-%d-%d.json", n, s))
			js, err := protojson.Marshal(&pb.ResolveRequest{Inputs: req})
			check(err)
			check(os.WriteFile(reqFile, js, 0o644))
			var tc bytes.Buffer
			check(e.WriteTestcase(&tc, req))
			tcFile := filepath.Join(*dir, fmt.Sprintf("eco-%d-%d.t", n, s))
			check(os.WriteFile(tcFile, tc.Bytes(), 0o644))

			fmt.Fprintf(os.Stderr, "  request %d: flakeresolve...", s)
			ours, ourTime := run(*runs, *bin, "resolve", "--index", indexFile, "--json", "--effort", effort.String(), reqFile)
			var ans struct {
				Nodes []json.RawMessage `json:"nodes"`
				Stats struct {
					ProvenMinimal bool `json:"provenMinimal"`
				} `json:"stats"`
			}
			check(json.Unmarshal(ours, &ans))
			fmt.Fprintf(os.Stderr, " %.2fs; testsolv...", ourTime.Seconds())
			theirs, theirTime := run(*runs, testsolv, tcFile)
			pkgs := ecosystem.ParseTestsolv(string(theirs))
			fmt.Fprintf(os.Stderr, " %.2fs\n", theirTime.Seconds())
			minimal := "?"
			if ans.Stats.ProvenMinimal {
				minimal = yesNo(len(pkgs) == len(ans.Nodes))
			}
			fmt.Printf("| %d | %d | %d | %.2f | %.2f | %.2f | %d | %d | %s | %s |\n", n, versions, s,
				ourTime.Seconds(), theirTime.Seconds(), theirTime.Seconds()/ourTime.Seconds(),
				len(ans.Nodes), len(pkgs), yesNo(ans.Stats.ProvenMinimal), minimal)
		}
	}
}

// run runs a command several times and returns its output and the median
// wall time. testsolv exits 1 when a testcase has no expected result, so
// exit codes are not errors here; empty output is.
func run(runs int, name string, args ...string) ([]byte, time.Duration) {
	var times []time.Duration
	var out []byte
	for range runs {
		start := time.Now()
		o, _ := exec.Command(name, args...).Output()
		times = append(times, time.Since(start))
		out = o
	}
	if len(out) == 0 {
		fmt.Fprintf(os.Stderr, "benchsolv: %s %s printed nothing\n", name, strings.Join(args, " "))
		os.Exit(1)
	}
	slices.Sort(times)
	return out, times[len(times)/2]
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchsolv:", err)
		os.Exit(1)
	}
}
