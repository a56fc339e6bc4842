package index

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/stablejson"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Problem is one thing wrong with an index, located as precisely as the
// index allows.
type Problem struct {
	Flake   string // name, or "#N" when the flake has no usable name
	Version string // empty for problems of the flake itself
	Field   string // path of the field, in JSON names: "locked.narHash"
	Msg     string // what was found and what was expected
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Flake != "" {
		fmt.Fprintf(&b, "flake %s", p.Flake)
	}
	if p.Version != "" {
		fmt.Fprintf(&b, " version %s", p.Version)
	}
	if p.Field != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		fmt.Fprintf(&b, "field %s", p.Field)
	}
	if b.Len() > 0 {
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// InvalidError is returned when an index fails validation. It carries every
// problem found, not just the first.
type InvalidError struct {
	Origin   string
	Problems []Problem
}

func (e *InvalidError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: invalid index, %d problem(s):", e.Origin, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	return b.String()
}

// Load reads an index file: a snapshot, or an index in JSON or binary
// form.
func Load(path string) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Parse loads an index. A snapshot (the magic line first) is checked
// whole against its digest and used as it is, data and all: it was
// validated when it was written, and the index refers to data, which must
// not change afterwards. Any other document is an Index, validated here:
// JSON when its first non-space byte is '{', else the binary form. origin
// names the source in errors.
func Parse(origin string, data []byte) (*Index, error) {
	if isSnapshot(data) {
		p, err := readSnapshot(origin, data)
		if err != nil {
			return nil, err
		}
		return build(origin, p, nil)
	}
	m, err := Decode(origin, data)
	if err != nil {
		return nil, err
	}
	if probs := Validate(m); len(probs) > 0 {
		return nil, &InvalidError{Origin: origin, Problems: probs}
	}
	c, err := compile(m, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", origin, err)
	}
	return build(origin, c.p, c)
}

// Decode reads an index without validating it. A snapshot is checked
// whole and turned back into the Index it was compiled from, its versions
// in precedence order.
func Decode(origin string, data []byte) (*pb.Index, error) {
	if isSnapshot(data) {
		p, err := readSnapshot(origin, data)
		if err != nil {
			return nil, err
		}
		return decompile(origin, p)
	}
	m := &pb.Index{}
	trimmed := bytes.TrimLeft(data, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, fmt.Errorf("%s: empty file, expected an index in JSON or binary form, or a snapshot", origin)
	}
	if trimmed[0] == '{' {
		if err := protojson.Unmarshal(data, m); err != nil {
			return nil, fmt.Errorf("%s: not a valid JSON index: %v", origin, strings.TrimPrefix(err.Error(), "proto: "))
		}
		return m, nil
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return nil, fmt.Errorf("%s: neither JSON (no leading '{'), a snapshot (no %q line) nor a valid binary index: %v", origin, strings.TrimSpace(string(snapshotMagic)), err)
	}
	return m, nil
}

// MarshalJSON renders an index message as indented protojson. protojson
// varies its whitespace on purpose; re-indenting makes the bytes stable, so
// a regenerated index diffs cleanly.
func MarshalJSON(m *pb.Index) ([]byte, error) { return stablejson.Marshal(m) }

// MarshalBinary renders an index message in the binary form,
// deterministically, so the same index always gives the same bytes.
func MarshalBinary(m *pb.Index) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}

var (
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// loadCache keeps what validation computes more than once: an index
// spells the same few hundred requirements on hundreds of thousands of
// inputs.
type loadCache struct {
	reqs map[string]reqResult
}

type reqResult struct {
	req *versionreq.Req
	err error
}

func newLoadCache() *loadCache {
	return &loadCache{reqs: map[string]reqResult{}}
}

func (c *loadCache) parse(s string) (*versionreq.Req, error) {
	if r, ok := c.reqs[s]; ok {
		return r.req, r.err
	}
	q, err := versionreq.Parse(s)
	c.reqs[s] = reqResult{q, err}
	return q, err
}

// Validate checks a decoded index and returns every problem found, in a
// stable order. It checks flake by flake, the flakes spread over workers
// (each with its own cache): validation is most of the time an index
// takes to load when it is not a snapshot. Problems come in the flakes'
// order, whatever the workers' timing.
func Validate(m *pb.Index) []Problem {
	var probs []Problem
	if m.Schema != Schema {
		probs = append(probs, Problem{Field: "schema", Msg: fmt.Sprintf("found %d, this build reads schema %d", m.Schema, Schema)})
	}
	perFlake := make([][]Problem, len(m.Flakes))
	seen := map[string]int{}
	for i, f := range m.Flakes {
		add := func(field, format string, args ...any) {
			perFlake[i] = append(perFlake[i], Problem{Flake: flakeName(i, f), Field: field, Msg: fmt.Sprintf(format, args...)})
		}
		switch {
		case f.Name == "":
			add("name", "missing, expected the flake's short name")
		case !nameRE.MatchString(f.Name):
			add("name", "%q is not a registry id (letters, digits, '.', '_', '-')", f.Name)
		}
		if j, dup := seen[f.Name]; dup && f.Name != "" {
			add("name", "duplicate: flake #%d has the same name", j)
		}
		seen[f.Name] = i
	}
	shares := shareFlakes(m.Flakes, runtime.GOMAXPROCS(0))
	caches := make([]*loadCache, len(shares))
	var wg sync.WaitGroup
	for w, share := range shares {
		caches[w] = newLoadCache()
		wg.Go(func() {
			for _, i := range share {
				perFlake[i] = append(perFlake[i], validateFlake(caches[w], flakeName(i, m.Flakes[i]), m.Flakes[i])...)
			}
		})
	}
	wg.Wait()
	for _, p := range perFlake {
		probs = append(probs, p...)
	}
	return probs
}

func flakeName(i int, f *pb.Flake) string {
	if f.Name == "" {
		return fmt.Sprintf("#%d", i)
	}
	return f.Name
}

// shareFlakes deals flake indexes out to n workers, balanced by versions.
func shareFlakes(flakes []*pb.Flake, n int) [][]int {
	n = max(1, min(n, len(flakes)))
	shares := make([][]int, n)
	load := make([]int, n)
	for i, f := range flakes {
		w := 0
		for k := range load {
			if load[k] < load[w] {
				w = k
			}
		}
		shares[w] = append(shares[w], i)
		load[w] += 1 + len(f.Versions)
	}
	return shares
}

// namedTree is a ref head or a pinned rev, with its field in the index.
type namedTree struct {
	field string
	ref   *pb.Ref
}

// namedTrees lists a flake's ref heads and pinned revs, which the index
// records alike.
func namedTrees(f *pb.Flake) []namedTree {
	var out []namedTree
	for _, r := range slices.Sorted(maps.Keys(f.Refs)) {
		out = append(out, namedTree{"refs." + r, f.Refs[r]})
	}
	for _, rev := range slices.Sorted(maps.Keys(f.Revs)) {
		out = append(out, namedTree{"revs." + rev, f.Revs[rev]})
	}
	return out
}

// validateFlake checks one flake's source, versions, refs and revs.
func validateFlake(reqs *loadCache, fname string, f *pb.Flake) []Problem {
	var probs []Problem
	add := func(field, format string, args ...any) {
		probs = append(probs, Problem{Flake: fname, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if f.Source == nil {
		add("source", "missing, expected where the flake lives (type, owner, repo, ...)")
	} else {
		checkSource(flakeref.AtLocation(f.Source), false, true, func(field, format string, args ...any) {
			add("source."+field, format, args...)
		})
	}
	probs = append(probs, validateVersions(reqs, fname, f)...)
	probs = append(probs, validateLockFiles(fname, f)...)
	for _, nt := range namedTrees(f) {
		ref := nt.ref
		if f.Source != nil {
			checkSource(pinTo(f.Source, refPin(ref)), true, false, func(field, format string, args ...any) {
				add(nt.field+"."+field, format, args...)
			})
		}
		for _, name := range slices.Sorted(maps.Keys(ref.Inputs)) {
			checkInput(reqs, ref.Inputs, ref.Inputs[name], "inputs."+name, func(field, format string, args ...any) {
				add(nt.field+"."+field, format, args...)
			})
		}
	}
	for _, rev := range slices.Sorted(maps.Keys(f.Revs)) {
		if f.Revs[rev].Rev != rev {
			add("revs."+rev+".rev", "%q, expected the rev it is keyed by", f.Revs[rev].Rev)
		}
	}
	if f.DefaultRef != "" && f.Refs[f.DefaultRef] == nil {
		add("defaultRef", "%q is not one of the flake's refs", f.DefaultRef)
	}
	return probs
}

func validateVersions(reqs *loadCache, fname string, f *pb.Flake) []Problem {
	var probs []Problem
	add := func(version, field, format string, args ...any) {
		probs = append(probs, Problem{Flake: fname, Version: version, Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	byPrecedence := map[string]string{} // version without build metadata -> as written
	for i, v := range f.Versions {
		vname := v.Version
		_, err := semver.StrictNewVersion(v.Version)
		switch {
		case v.Version == "":
			vname = fmt.Sprintf("#%d", i)
			add(vname, "version", "missing, expected a SemVer 2.0.0 version such as 1.2.0")
		case err != nil:
			add(vname, "version", "%q is not strict SemVer 2.0.0 (MAJOR.MINOR.PATCH[-PRE][+BUILD], no \"v\", no leading zeros)", v.Version)
		default:
			key, _, _ := strings.Cut(v.Version, "+") // strict SemVer: canonical but for build metadata
			if prev, dup := byPrecedence[key]; dup {
				if prev == v.Version {
					add(vname, "version", "duplicate version")
				} else {
					add(vname, "version", "equal to version %s but for build metadata; one version per precedence is allowed", prev)
				}
			} else {
				byPrecedence[key] = v.Version
			}
		}
		if v.Locked == nil {
			add(vname, "locked", "missing, expected the exact tree of this version (type, rev, narHash, ...)")
		} else {
			checkSource(pinTo(f.Source, v.Locked), true, v.Locked.Type != "", func(field, format string, args ...any) {
				add(vname, "locked."+field, format, args...)
			})
		}
		for _, name := range slices.Sorted(maps.Keys(v.Inputs)) {
			checkInput(reqs, v.Inputs, v.Inputs[name], "inputs."+name, func(field, format string, args ...any) {
				add(vname, field, format, args...)
			})
		}
	}
	return probs
}

// checkInput validates one declared input. top are the inputs of the
// declaring flake: follows paths start there.
func checkInput(reqs *loadCache, top map[string]*pb.Input, in *pb.Input, field string, add func(field, format string, args ...any)) {
	if in == nil {
		add(field, "empty input")
		return
	}
	if in.Follows != nil {
		if in.Url != "" {
			add(field+".url", "set together with follows; an input either has a reference or follows another")
		}
		if in.Version != "" {
			add(field+".version", "set together with follows; a followed input takes its version from where it leads")
		}
		if first, _, _ := strings.Cut(*in.Follows, "/"); *in.Follows != "" && top[first] == nil {
			add(field+".follows", "%q names no input of this flake (inputs: %s)", *in.Follows, strings.Join(slices.Sorted(maps.Keys(top)), ", "))
		}
	} else if in.Url == "" && len(in.Inputs) == 0 {
		add(field, "has neither url nor follows")
	}
	if in.Version != "" {
		if _, err := reqs.parse(in.Version); err != nil {
			add(field+".version", "%v", err)
		}
	}
	for _, sub := range slices.Sorted(maps.Keys(in.Inputs)) {
		checkInput(reqs, top, in.Inputs[sub], field+".inputs."+sub, add)
	}
}

// pinTo is a locked source with its location filled in from the flake's
// source when it names none (index files need not repeat the location in
// every version, and refs never do): the source, with every field the pin
// sets merged over it.
func pinTo(source *pb.FlakeLocation, pin *pb.FlakeRef) *pb.FlakeRef {
	if source == nil || pin.Type != "" {
		return pin
	}
	c := flakeref.AtLocation(source)
	proto.Merge(c, pin)
	return c
}

// refPin is the pin a ref records, as a locked source without location.
func refPin(r *pb.Ref) *pb.FlakeRef {
	return &pb.FlakeRef{Rev: r.Rev, NarHash: r.NarHash, LastModified: r.LastModified, RevCount: r.RevCount}
}

// checkSource validates a source's fields for its type, as flakeref.Types
// describes it. A locked source must carry what Nix needs to fetch and
// verify the tree without network lookups. ownLocation is false when the
// location was inherited from the flake's source, whose problems are
// reported there once.
func checkSource(s *pb.FlakeRef, locked, ownLocation bool, add func(field, format string, args ...any)) {
	t := sourceType(s, add)
	if t == nil {
		return
	}
	if ownLocation {
		checkLocation(t, s, add)
	}
	if locked && len(t.Pin) == 0 {
		add("type", "%s references cannot be locked; expected the reference they resolve to", t.Name)
	}
	if !locked {
		return
	}
	checkPinFormat(s, add)
	for _, a := range t.Pin {
		// The ref is how a tree was reached (the version's tag, the ref
		// head's name), which the lock writer supplies; the rest
		// describes the tree itself.
		if a != "ref" && !flakeref.Has(s, a) {
			add(a, "missing, %s sources need %s", t.Name, pinNeeds[a])
		}
	}
}

// sourceType is the table's entry for a source's type; nil, with the
// problem reported, when the type is missing or unknown.
func sourceType(s *pb.FlakeRef, add func(field, format string, args ...any)) *flakeref.Type {
	t, known := flakeref.LookupType(s.Type)
	switch {
	case s.Type == "":
		add("type", "missing, expected one of %s", flakeref.TypeNames())
	case !known:
		add("type", "%q is not a flake reference type Nix knows (%s)", s.Type, flakeref.TypeNames())
	}
	return t
}

func checkLocation(t *flakeref.Type, s *pb.FlakeRef, add func(field, format string, args ...any)) {
	for _, a := range t.Location {
		if !flakeref.Has(s, a) {
			add(a, "missing, %s sources need %s", t.Name, strings.Join(t.Location, " and "))
		}
	}
}

// pinNeeds says what each attribute of a pin is, for messages.
var pinNeeds = map[string]string{
	"rev":          "a rev",
	"lastModified": "the commit time in Unix seconds",
	"revCount":     "the commit count",
	"narHash":      "the SRI sha256 hash of their tree",
}

// checkPinFormat checks the rev and narHash a pin sets.
func checkPinFormat(s *pb.FlakeRef, add func(field, format string, args ...any)) {
	checkRev(s.Rev, add)
	checkNarHash(s.NarHash, add)
}

func checkRev(rev string, add func(field, format string, args ...any)) {
	if rev != "" && !isRev(rev) {
		add("rev", "%q is not a 40-digit lowercase hex commit", rev)
	}
}

// isRev is ^[0-9a-f]{40}$ without a regular expression: loading checks
// every rev of every lock file an index carries (over 6,000 in the
// default index).
func isRev(s string) bool {
	if len(s) != 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// checkNarHash reports a narHash that is set but not SRI SHA-256, and
// says whether it is well formed.
func checkNarHash(h string, add func(field, format string, args ...any)) bool {
	if h == "" {
		return true
	}
	if _, err := flakeref.ParseNarHash(h); err != nil {
		add("narHash", "%q is not an SRI sha256 hash (sha256- and 44 base64 characters)", h)
		return false
	}
	return true
}
