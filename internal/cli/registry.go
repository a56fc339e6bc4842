package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/lockfile"
	"github.com/flakeresolve/flakeresolve/internal/registry"
	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

const registryUsage = "read indirect inputs (nixpkgs, flake:foo/ref) through the Nix flake registry `FILE` (registry.json) before the index names; repeat in Nix's precedence order, the first winning (--override-flake, user, system, global)"

// registryLookup reads registry files into the service's lookup of
// indirect references; nil without files.
func registryLookup(files []string) (solver.Registries, error) {
	if len(files) == 0 {
		return nil, nil
	}
	var chain registry.Chain
	for _, f := range files {
		r, err := registry.Read(f)
		if err != nil {
			return nil, &exitErr{exitError, err}
		}
		chain = append(chain, r)
	}
	return chain, nil
}

func newIndexRegistryCmd() *cobra.Command {
	var (
		out     string
		indexes []string
		pinned  bool
		minNix  string
	)
	cmd := &cobra.Command{
		Use:   "registry -o FILE",
		Short: "Export the index's names as a Nix flake registry (registry.json)",
		Long: `registry writes the names of the indexes (the embedded one by default) as a
Nix flake registry, version 2, byte for byte as Nix writes one: for each
flake, from is {"type": "indirect", "id": NAME} and to is where the flake
lives, so that nix flake metadata --flake-registry FILE NAME, an
--override-flake or a system registry reads the index's names.

A flake published as one tarball per version has no location Nix could
follow without a version; it is left out (and named) unless --pinned.

--pinned writes instead each flake's newest release, locked as a lock for
--min-nix would lock it, with exact set, as NixOS pins its registry: the
entry then matches NAME alone, not NAME/REF.`,
		Example: `  flakeresolve index registry -o registry.json
  flakeresolve index registry --index private.json -o registry.json --pinned
  nix flake metadata --flake-registry registry.json acme-greeting`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return usageErr("registry needs -o FILE")
			}
			nix, err := flakeref.ParseNixVersion(minNix)
			if err != nil {
				return usageErr("--min-nix: %v", err)
			}
			layers, err := service.LoadLayers(indexes, defaultindex.Load)
			if err != nil {
				return &exitErr{exitError, err}
			}
			reg, left, badIDs, err := exportRegistry(layers, pinned, nix)
			if err != nil {
				return &exitErr{exitError, err}
			}
			data, err := reg.Marshal()
			if err == nil {
				err = boundedfile.WriteAtomic(out, data)
			}
			if err != nil {
				return &exitErr{exitError, err}
			}
			if len(badIDs) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "left out %d name(s) that are no flake ID (Nix accepts letters, digits, _ and -, a letter first, and reads no registry that holds another): %s\n", len(badIDs), strings.Join(badIDs, ", "))
			}
			if len(left) > 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "left out %d flake(s) without a location Nix can follow (tarballs per version; --pinned names their newest): %s\n", len(left), strings.Join(left, ", "))
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "wrote %s: %d flakes\n", out, len(reg.Entries))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the registry to `FILE`")
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "index `FILE` whose names to export (repeat to layer, first wins; default: the embedded index)")
	cmd.Flags().BoolVar(&pinned, "pinned", false, "point each name at its flake's newest release, locked, as an exact entry")
	cmd.Flags().StringVar(&minNix, "min-nix", flakeref.MinNix.String(), "with --pinned, the oldest Nix `VERSION` that must read the registry: which attributes a pin carries")
	return cmd
}

// exportRegistry is the layers' names as a registry, the flakes left out
// for want of a location, and the names left out because they are no
// flake ID ("git-hooks.nix"): Nix reads no registry that holds one, so
// one such entry would hide every other.
func exportRegistry(layers *index.Layers, pinned bool, nix flakeref.NixVersion) (reg *registry.Registry, left, badIDs []string, err error) {
	reg = &registry.Registry{}
	every := versionreq.MustParse("*")
	for _, name := range layers.Names() {
		f, err := layers.Lookup(name)
		if err != nil {
			return nil, nil, nil, err
		}
		from := &pb.FlakeRef{Type: "indirect", Id: name}
		if _, err := flakeref.FromAttrs(flakeref.Attrs(from)); err != nil {
			badIDs = append(badIDs, name)
			continue
		}
		at := flakeref.AtLocation(f.Source)
		if !pinned {
			if t, _ := flakeref.LookupType(at.Type); t == nil || t.Kind == flakeref.KindDownload {
				left = append(left, name)
				continue
			}
			reg.Entries = append(reg.Entries, registry.Entry{From: from, To: at})
			continue
		}
		releases := f.Select(every)
		if len(releases) == 0 {
			left = append(left, name)
			continue
		}
		to, err := lockfile.LockedFor(at, releases[len(releases)-1].Locked(), "", nix)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("flake %s: %w", name, err)
		}
		reg.Entries = append(reg.Entries, registry.Entry{From: from, To: to, Exact: true})
	}
	return reg, left, badIDs, nil
}
