// Package cli is the flakeresolve command line. Each command is a thin layer
// over the packages that do the work (internal/service, index, ...): it
// parses flags, chooses where answers come from (the service over the
// embedded index or index files, or a server through internal/server's
// client, which fails with the service's own errors) and prints results for
// people or, with --json, for programs (render.go); exit codes come from
// error types in one table (client.go).
//
// Main returns the process exit code instead of exiting, so the testscript
// tests run the real command in-process.
package cli

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the root command's help.
const (
	exitOK       = 0
	exitError    = 1 // the operation failed: unreadable or invalid files, server unreachable
	exitUsage    = 2 // bad command line or malformed argument (such as a requirement)
	exitNotFound = 3 // the named flake is in no index
	exitConflict = 4 // no set of pins satisfies every requirement
	exitChanged  = 5 // lock --check: flake.lock would change
)

// exitErr carries an exit code with an error.
type exitErr struct {
	code int
	err  error
}

func (e *exitErr) Error() string { return e.err.Error() }
func (e *exitErr) Unwrap() error { return e.err }

func usageErr(format string, args ...any) error {
	return &exitErr{exitUsage, fmt.Errorf(format, args...)}
}

// Main runs the command line with os.Args and returns the exit code.
func Main() int {
	return run(os.Args[1:], os.Stdout, os.Stderr)
}

func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "flakeresolve:", err)
	return exitCode(err)
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "flakeresolve",
		Short: "Resolve versioned Nix flake inputs against pre-evaluated indexes",
		Long: `flakeresolve answers questions about versioned Nix flakes.

An index lists published flakes, their versions, the exact tree each version
locks to, and each version's inputs with Cargo-style version requirements
("^0.8", ">=1.2, <2", "*"). flakeresolve embeds a default index of real
flakes, loads index files (JSON or binary) in layers, and serves them over
gRPC.

Exit codes:
  0  success
  1  the operation failed (unreadable or invalid index, server unreachable)
  2  usage error or malformed argument (for example a bad requirement)
  3  the named flake is in no index
  4  no set of pins satisfies every requirement (the explanation is printed)
  5  lock --check: flake.lock would change`,
		Example: `  flakeresolve query hyprutils '^0.8'
  flakeresolve resolve request.json
  flakeresolve why nixpkgs path/to/flake
  flakeresolve query hyprutils '*' --with path/to/flake
  flakeresolve lock --index registry.json .
  flakeresolve serve --listen 127.0.0.1:50051
  flakeresolve index validate my-index.json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newQueryCmd(), newResolveCmd(), newWhyCmd(), newLockCmd(), newIndexCmd())
	return root
}
