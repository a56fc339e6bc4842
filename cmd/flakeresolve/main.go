// Command flakeresolve resolves versioned Nix flake inputs against
// pre-evaluated indexes of flakes. Run `flakeresolve --help` for the
// commands.
package main

import (
	"os"

	"github.com/flakeresolve/flakeresolve/internal/cli"
)

func main() { os.Exit(cli.Main()) }
