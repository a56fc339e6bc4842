// Package flakenix reads a flake.nix without evaluating it, the way Nix
// reads a flake's metadata.
//
// Nix requires the top level of a flake.nix to be a literal attribute set
// whose only attributes are description, inputs, outputs and nixConfig,
// with inputs made of literal strings, Booleans, integers and sets; the
// arguments of the outputs function that inputs does not declare are
// registry inputs. This package enforces exactly that, so a file it
// accepts is one Nix 2.8 accepts, and reports anything else at its
// file:line:column with what Nix allows there. It also reads the
// versioned-flakes proposal's `version` attributes, at the top level and on
// inputs, which Nix 2.8 rejects; a side file, flake.versions.nix, carries
// them for flakes that today's Nix must still read (see ReadDir).
//
// It is a strict parser for this subset, not an evaluator: the outputs
// function is stepped over token by token, which is all Nix does with it
// before locking.
package flakenix

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// SideFile is the name of the file beside flake.nix that holds version
// attributes for flakes that Nix 2.8 must be able to read.
const SideFile = "flake.versions.nix"

// Flake is what a flake.nix declares before evaluation.
type Flake struct {
	Description string
	// Version is the flake's own version (the proposal's top-level
	// attribute), empty when none is declared.
	Version string
	// VersionPos is where Version was declared.
	VersionPos Pos
	Inputs     map[string]*Input
	// NixConfig holds nixConfig's literal values.
	NixConfig map[string]any

	// Warnings are declarations Nix reads but ignores, each at its place.
	Warnings []string

	// OutputsPos is where the outputs binding starts, the place to add
	// bindings before it.
	OutputsPos Pos
	src        []byte
	top        *node
}

// Input is one input, or an override of a nested input.
type Input struct {
	Name string
	Pos  Pos
	// Source is Nix's parse of the url (or of the attribute form); nil for
	// an input that only follows another.
	Source *pb.FlakeRef
	// URL is the url attribute as written; empty for the attribute form.
	URL string
	// Version is a Cargo requirement, empty when unversioned.
	Version    string
	VersionPos Pos
	// Flake is false for `flake = false` inputs, nil when not set.
	Flake *bool
	// Follows is the input path this input follows, split at "/".
	Follows []string
	// Inputs are overrides of this input's own inputs.
	Inputs map[string]*Input
	// Implicit marks an input declared only as an argument of outputs.
	Implicit bool
}

// FieldPos is where a request field built from this flake is declared:
// inputs.a.inputs.b names input a's override of b, and a final .version,
// .url or .follows the attribute (the version where it was written, which
// may be flake.versions.nix). A path beyond what the file declares (an
// input of a dependency) is placed at the deepest declaration on it.
func (f *Flake) FieldPos(field string) (Pos, bool) {
	parts := strings.Split(field, ".")
	if len(parts) < 2 || parts[0] != "inputs" {
		return Pos{}, false
	}
	decls := f.Inputs
	var in *Input
	for i := 1; i < len(parts); i += 2 {
		next := decls[parts[i]]
		if next == nil {
			break
		}
		in, decls = next, next.Inputs
		if i+1 < len(parts) && parts[i+1] == "version" && in.Version != "" {
			return in.VersionPos, true
		}
		if i+1 >= len(parts) || parts[i+1] != "inputs" {
			break
		}
	}
	if in == nil {
		return Pos{}, false
	}
	return in.Pos, true
}

// checkOverrides holds the overrides of a flake.nix to what Nix does with
// them: it registers one level (inputs.a.inputs.b), and an override with
// neither url nor follows becomes the registry flake named like it, which
// replaces the input. Declarations beneath an override are ignored (a
// warning says so); an override that would become a registry flake while
// it declares more beneath it is refused, since it cannot mean that.
func checkOverrides(inputs map[string]*Input) ([]string, error) {
	var warnings []string
	for _, a := range slices.Sorted(maps.Keys(inputs)) {
		for _, b := range slices.Sorted(maps.Keys(inputs[a].Inputs)) {
			o := inputs[a].Inputs[b]
			if len(o.Inputs) == 0 {
				continue
			}
			if o.URL == "" && o.Follows == nil && (o.Source == nil || o.Source.Type == "indirect" && o.Source.Id == b) {
				return nil, fmt.Errorf("%s: inputs.%s.inputs.%s declares inputs of its own but no url or follows: Nix replaces %s's input %s by the registry flake '%s' and ignores what is beneath it (it applies one level of overrides); give it a url, or declare the override in %s's own flake.nix", o.Pos, a, b, a, b, b, a)
			}
			for _, c := range slices.Sorted(maps.Keys(o.Inputs)) {
				warnings = append(warnings, fmt.Sprintf("%s: inputs.%s.inputs.%s.inputs.%s is ignored: Nix applies one level of overrides; declare it in %s's own flake.nix", o.Inputs[c].Pos, a, b, c, b))
			}
		}
	}
	return warnings, nil
}

// IsFlake reports whether the input is a flake (the default) rather than
// a plain source tree.
func (in *Input) IsFlake() bool { return in.Flake == nil || *in.Flake }

// Parse reads a flake.nix. The name is used in error positions.
func Parse(name string, src []byte) (*Flake, error) {
	p := &parser{lex: &lexer{file: name, src: string(src), line: 1, col: 1}}
	top, err := p.parseFile()
	if err != nil {
		return nil, err
	}
	f := &Flake{Inputs: map[string]*Input{}, src: src, top: top}
	for _, k := range top.names {
		v := top.attrs[k]
		switch k {
		case "description":
			if v.kind != nString {
				return nil, typeErr(v, "description", "a literal string")
			}
			f.Description = v.str
		case "version":
			if v.kind != nString {
				return nil, typeErr(v, "version", "a literal string such as \"1.2.0\"")
			}
			f.Version, f.VersionPos = v.str, v.pos
		case "inputs":
			if v.kind != nAttrs {
				return nil, typeErr(v, "inputs", "a literal attribute set")
			}
			var err error
			if f.Inputs, err = parseInputs(v); err != nil {
				return nil, err
			}
			if f.Warnings, err = checkOverrides(f.Inputs); err != nil {
				return nil, err
			}
		case "outputs":
			if v.kind != nLambda {
				return nil, typeErr(v, "outputs", "a function such as { self, nixpkgs, ... }: { ... }")
			}
			// Bindings go before the outputs attribute itself.
			f.OutputsPos = top.namePos["outputs"]
			for _, arg := range v.formals {
				if arg == "self" || f.Inputs[arg] != nil {
					continue
				}
				src, err := flakeref.Parse(arg)
				if err != nil {
					return nil, fmt.Errorf("%s: argument %q of outputs is an implicit registry input, but %v", v.pos, arg, err)
				}
				f.Inputs[arg] = &Input{Name: arg, Pos: v.pos, Source: src, Implicit: true}
			}
		case "nixConfig":
			if v.kind != nAttrs {
				return nil, typeErr(v, "nixConfig", "a literal attribute set")
			}
			f.NixConfig = map[string]any{}
			for _, name := range v.names {
				c := v.attrs[name]
				if c.kind == nOther || c.kind == nNull || c.kind == nLambda || c.kind == nAttrs {
					return nil, typeErr(c, "nixConfig."+name, "a literal string, Boolean, integer or list of strings")
				}
				f.NixConfig[name] = c.toJSON()
			}
		default:
			return nil, fmt.Errorf("%s: unsupported attribute '%s': a flake.nix may only set description, inputs, outputs and nixConfig (and version, for flakeresolve)", top.attrs[k].pos, k)
		}
	}
	if _, ok := top.attrs["outputs"]; !ok {
		return nil, fmt.Errorf("%s: the flake has no outputs attribute", top.pos)
	}
	return f, nil
}

func typeErr(v *node, attr, want string) error {
	return fmt.Errorf("%s: %s is %s, but Nix requires %s here", v.pos, attr, v.describe(), want)
}

var idRE = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_-]*$`)

// parseInputs reads a set of inputs: a flake's, or overrides of an input's.
func parseInputs(v *node) (map[string]*Input, error) {
	out := map[string]*Input{}
	for _, name := range v.names {
		in, err := parseInput(name, v.attrs[name])
		if err != nil {
			return nil, err
		}
		out[name] = in
	}
	return out, nil
}

// parseInput mirrors Nix 2.8's parseFlakeInput.
func parseInput(name string, v *node) (*Input, error) {
	if v.kind != nAttrs {
		return nil, typeErr(v, "input '"+name+"'", "an attribute set such as { url = \"github:owner/repo\"; }")
	}
	in := &Input{Name: name, Pos: v.pos}
	attrs := map[string]any{}
	var attrNames []string
	for _, k := range v.names {
		a := v.attrs[k]
		what := fmt.Sprintf("input '%s' attribute '%s'", name, k)
		switch k {
		case "url":
			if a.kind != nString {
				return nil, typeErr(a, what, "a literal string")
			}
			in.URL = a.str
			attrs["url"] = a.str
		case "flake":
			if a.kind != nBool {
				return nil, typeErr(a, what, "true or false")
			}
			b := a.b
			in.Flake = &b
		case "follows":
			if a.kind != nString {
				return nil, typeErr(a, what, "a literal string naming an input path, such as \"nixpkgs\" or \"hyprland/nixpkgs\"")
			}
			in.Follows = []string{}
			if a.str != "" {
				for _, el := range strings.Split(a.str, "/") {
					if !idRE.MatchString(el) {
						return nil, fmt.Errorf("%s: invalid flake input path element '%s' in follows %q", a.pos, el, a.str)
					}
					in.Follows = append(in.Follows, el)
				}
			}
		case "inputs":
			if a.kind != nAttrs {
				return nil, typeErr(a, what, "a literal attribute set")
			}
			var err error
			if in.Inputs, err = parseInputs(a); err != nil {
				return nil, err
			}
		case "version":
			if a.kind != nString {
				return nil, typeErr(a, what, "a literal string with a Cargo requirement such as \"^1.2\"")
			}
			in.Version, in.VersionPos = a.str, a.pos
		default:
			switch a.kind {
			case nString:
				attrs[k] = a.str
			case nBool:
				attrs[k] = a.b
			case nInt:
				attrs[k] = a.num
			default:
				return nil, fmt.Errorf("%s: flake input attribute '%s' is %s while a string, Boolean, or integer is expected", a.pos, k, a.describe())
			}
			attrNames = append(attrNames, k)
		}
	}
	var err error
	switch {
	case attrs["type"] != nil:
		// The attribute form: url is one attribute among others, not a
		// flake reference.
		in.URL = ""
		in.Source, err = flakeref.FromAttrs(attrs)
	case len(attrNames) > 0:
		return nil, fmt.Errorf("%s: unexpected flake input attribute '%s' (without a type, an input takes url, flake, follows, inputs and version)", v.attrs[attrNames[0]].pos, attrNames[0])
	case in.URL != "":
		in.Source, err = flakeref.Parse(in.URL)
	case in.Follows == nil:
		// Nix's default: the registry entry named like the input.
		in.Source, err = flakeref.Parse(name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: input '%s': %v", v.pos, name, err)
	}
	if in.Source != nil && in.Source.Type == "path" && !strings.HasPrefix(in.Source.Path, "/") {
		return nil, fmt.Errorf("%s: input '%s': relative path %q: Nix 2.8 resolves it against the flake's store copy, which a lock file cannot pin; use an absolute path or a git URL", v.pos, name, in.Source.Path)
	}
	return in, nil
}

// RawInputs renders the inputs attribute exactly as
// `nix-instantiate --eval --json --strict -E '(import ./flake.nix).inputs'`
// prints it.
func (f *Flake) RawInputs() []byte {
	v := f.top.attrs["inputs"]
	var out any = map[string]any{}
	if v != nil {
		out = v.toJSON()
	}
	b, _ := json.Marshal(out)
	return b
}

// InputNames returns the input names in sorted order.
func (f *Flake) InputNames() []string {
	names := make([]string, 0, len(f.Inputs))
	for n := range f.Inputs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ReadDir reads DIR/flake.nix and, when present, DIR/flake.versions.nix,
// whose version attributes (a top-level version and inputs.NAME.version,
// at any depth of inputs) are merged in. The two forms may be mixed, but
// one attribute given different values in both is an error.
func ReadDir(dir string) (*Flake, error) {
	name := filepath.Join(dir, "flake.nix")
	src, err := boundedfile.Read(name, boundedfile.MaxFlakeNix)
	if err != nil {
		return nil, err
	}
	f, err := Parse(name, src)
	if err != nil {
		return nil, err
	}
	side := filepath.Join(dir, SideFile)
	ssrc, err := boundedfile.Read(side, boundedfile.MaxFlakeNix)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return nil, err
	}
	return f, f.MergeSide(side, ssrc)
}

// MergeSide merges the version attributes of a flake.versions.nix.
func (f *Flake) MergeSide(name string, src []byte) error {
	p := &parser{lex: &lexer{file: name, src: string(src), line: 1, col: 1}}
	top, err := p.parseFile()
	if err != nil {
		return err
	}
	for _, k := range top.names {
		v := top.attrs[k]
		switch k {
		case "version":
			if v.kind != nString {
				return typeErr(v, "version", "a literal string such as \"1.2.0\"")
			}
			if f.Version != "" && f.Version != v.str {
				return fmt.Errorf("%s: version %q disagrees with %q at %s", v.pos, v.str, f.Version, f.VersionPos)
			}
			f.Version, f.VersionPos = v.str, v.pos
		case "inputs":
			if v.kind != nAttrs {
				return typeErr(v, "inputs", "a literal attribute set")
			}
			if err := mergeSideInputs(f.Inputs, v, ""); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%s: unsupported attribute '%s': %s holds only version and inputs.NAME.version", v.pos, k, SideFile)
		}
	}
	return nil
}

func mergeSideInputs(inputs map[string]*Input, v *node, prefix string) error {
	for _, name := range v.names {
		a := v.attrs[name]
		in := inputs[name]
		if in == nil && prefix != "" {
			// A requirement on a dependency's input: an override that
			// only sets the version, which Nix never sees.
			in = &Input{Name: name, Pos: a.pos}
			inputs[name] = in
		}
		if in == nil {
			return fmt.Errorf("%s: %s has no input '%s' to give a version to", a.pos, map[bool]string{true: "flake.nix", false: "input '" + strings.TrimSuffix(prefix, "/") + "'"}[prefix == ""], name)
		}
		if a.kind != nAttrs {
			return typeErr(a, "inputs."+name, "an attribute set such as { version = \"^1.2\"; }")
		}
		for _, k := range a.names {
			x := a.attrs[k]
			switch k {
			case "version":
				if x.kind != nString {
					return typeErr(x, "inputs."+name+".version", "a literal string with a Cargo requirement such as \"^1.2\"")
				}
				if in.Version != "" && in.Version != x.str {
					return fmt.Errorf("%s: version %q of input '%s' disagrees with %q at %s", x.pos, x.str, prefix+name, in.Version, in.VersionPos)
				}
				in.Version, in.VersionPos = x.str, x.pos
			case "inputs":
				if x.kind != nAttrs {
					return typeErr(x, "inputs."+name+".inputs", "a literal attribute set")
				}
				if in.Inputs == nil {
					in.Inputs = map[string]*Input{}
				}
				if err := mergeSideInputs(in.Inputs, x, prefix+name+"/"); err != nil {
					return err
				}
			default:
				return fmt.Errorf("%s: unsupported attribute '%s' for input '%s': %s holds only version attributes; the rest of an input belongs in flake.nix", x.pos, k, prefix+name, SideFile)
			}
		}
	}
	return nil
}

// ToProto converts the inputs to the index's form, which the resolver
// reads: a url in URL form, the version, flake and follows.
func ToProto(inputs map[string]*Input) map[string]*pb.Input {
	out := map[string]*pb.Input{}
	for name, in := range inputs {
		p := &pb.Input{Version: in.Version, Flake: in.Flake}
		if in.Source != nil {
			p.Url = in.URL
			if p.Url == "" {
				p.Url = flakeref.String(in.Source)
			}
		}
		if in.Follows != nil {
			s := strings.Join(in.Follows, "/")
			p.Follows = &s
		}
		if len(in.Inputs) > 0 {
			p.Inputs = ToProto(in.Inputs)
		}
		out[name] = p
	}
	return out
}

// WithBindings returns the flake.nix source with lines added as top-level
// bindings just before outputs, indented like it, so that the rest of the
// file, comments included, stays as the user wrote it.
func (f *Flake) WithBindings(lines []string) []byte {
	at := f.OutputsPos.Offset
	lineStart := bytes.LastIndexByte(f.src[:at], '\n') + 1
	indent := string(f.src[lineStart:at])
	if strings.TrimSpace(indent) != "" {
		// outputs shares its line with something else: start a new one.
		indent = "  "
		var b bytes.Buffer
		b.Write(f.src[:at])
		for _, l := range lines {
			b.WriteString("\n" + indent + l)
		}
		b.WriteString("\n" + indent)
		b.Write(f.src[at:])
		return b.Bytes()
	}
	var b bytes.Buffer
	b.Write(f.src[:lineStart])
	for _, l := range lines {
		b.WriteString(indent + l + "\n")
	}
	b.Write(f.src[lineStart:])
	return b.Bytes()
}
