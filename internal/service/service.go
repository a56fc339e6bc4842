// Package service is flakeresolve's application layer: the operations of
// flakeresolve.v1.ResolverService (ListVersions, ResolveInputs,
// ExplainInputs) as Go methods over loaded indexes, taking and returning
// the API's messages.
//
// It is shaped so that every face of the API behaves alike: the gRPC
// server (internal/server) adapts it to statuses, and the command line
// calls it directly for local indexes, so neither carries policy of its
// own. What differs between them is configuration: a server passes its
// caps (Config), the command line the user's flags, with no cap hidden
// behind them. Errors come out typed, for each face to render once:
//
//   - *FieldError: a malformed request, naming the field;
//   - *index.NotFoundError: no index has the flake, with the closest names;
//   - *solver.ConflictError: no answer, with typed causes and hints;
//   - *solver.LimitError: a resolution hit a limit (time, size, work).
//
// The service holds its indexes behind an atomic pointer: a call reads the
// indexes current when it starts and keeps them to its end, and Swap
// replaces them for later calls without locks.
package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/solver"
)

// Config is what the caller of the service decides, not the request.
type Config struct {
	// MaxSolveTime caps the time of every call that resolves, its wait for
	// a place to solve included; a request's timeout may ask for less.
	// Zero is no cap: the request's timeout (or the caller's context) is
	// the only bound.
	MaxSolveTime time.Duration
	// Limits bound every resolution (zero fields: the solver's defaults).
	// Effort and Work, when set, also cap what a request may ask for: a
	// request's effort or work_limit above them is lowered to them, and
	// a request without one gets them.
	Limits solver.Limits
	// MaxConcurrentSolves bounds the calls that resolve at once (0: no
	// bound); MaxQueuedSolves bounds the calls waiting for a place, which
	// are refused with LimitConcurrency beyond it.
	MaxConcurrentSolves, MaxQueuedSolves int
	// Access decides which layers each caller sees (see WithCaller).
	Access Access
	// Observer is told of solves and of the queue (nil: no one).
	Observer Observer
	// Indirect resolves indirect inputs (nixpkgs, flake:foo/ref) through
	// flake registries before the index names do (--registry); nil: the
	// index names alone.
	Indirect solver.Registries
}

// Service answers the API's calls against the current indexes.
type Service struct {
	served atomic.Pointer[served]
	cfg    Config
	admit  *admission
	obs    Observer
}

// New serves the given layered indexes.
func New(l *index.Layers, cfg Config) *Service {
	obs := cfg.Observer
	if obs == nil {
		obs = nopObserver{}
	}
	s := &Service{cfg: cfg, obs: obs, admit: newAdmission(cfg.MaxConcurrentSolves, cfg.MaxQueuedSolves, obs)}
	s.served.Store(newServed(l, "", cfg.Access))
	return s
}

// LayersOf returns the indexes the caller of ctx (WithCaller) sees: those
// Bind bound the call to, or else the current ones.
func (s *Service) LayersOf(ctx context.Context) *index.Layers {
	return s.bound(ctx).view(CallerOf(ctx))
}

// Swap replaces the served indexes, read from bytes of the given index
// digest (see IndexDigest; "" when unknown); calls already running keep
// the ones they started with.
func (s *Service) Swap(l *index.Layers, digest string) {
	s.served.Store(newServed(l, digest, s.cfg.Access))
}

// FieldError is a malformed request: the field at fault, as a path of the
// request's field names and map keys ("inputs.hyprland.version",
// "context.strategy", "single_flakes[0]"), and what is wrong with it.
type FieldError struct {
	Field string
	Msg   string
	// Requirement says the field holds a version requirement that is not
	// Cargo's syntax.
	Requirement bool
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// fieldError reads the solver's complaint about a request as one about the
// field of the API's request, under prefix ("context." for the context of
// ListVersions). The solver names input fields by the request's paths;
// the fields it names otherwise are the lists of single flakes and of
// update paths.
func fieldError(err error, prefix string) error {
	var re *solver.RequestError
	if !errors.As(err, &re) {
		return err
	}
	field := re.Field
	if rest, ok := strings.CutPrefix(field, "single["); ok {
		field = "single_flakes[" + rest
	}
	if rest, ok := strings.CutPrefix(field, "update["); ok {
		field = "update_paths[" + rest
	}
	// An input's version is its requirement; the solver complains of one
	// only when it does not parse.
	return &FieldError{Field: prefix + field, Msg: re.Msg, Requirement: strings.HasSuffix(field, ".version")}
}

// LoadLayers loads index files in order; with no files it returns fallback.
// Every file is loaded and validated before any is used, so the result is
// all or nothing.
func LoadLayers(files []string, fallback func() (*index.Index, error)) (*index.Layers, error) {
	if len(files) == 0 {
		ix, err := fallback()
		if err != nil {
			return nil, err
		}
		return index.NewLayers(ix), nil
	}
	var read []Layer
	var errs []error
	for _, f := range files {
		data, err := boundedfile.Read(f, boundedfile.MaxIndex)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		read = append(read, Layer{Origin: f, Data: data})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	snap, err := ParseLayers(read)
	if err != nil {
		return nil, err
	}
	return snap.Layers, nil
}

// LoadIndex reads and validates one index file, of at most
// boundedfile.MaxIndex bytes and nothing but a regular file.
//
// A binary index cut short is not always detected: protobuf's wire format
// has no end marker, so a file cut between two fields decodes as a smaller
// valid index (a cut inside a field fails). An index that must be known
// whole is distributed as a snapshot, whose digest covers every byte.
func LoadIndex(path string) (*index.Index, error) {
	data, err := boundedfile.Read(path, boundedfile.MaxIndex)
	if err != nil {
		return nil, err
	}
	return index.Parse(path, data)
}

// checkEnums rejects enum values the API does not define, anywhere in a
// request: protojson and the wire both carry unknown numbers through, and
// a number the service does not know must not be read as a default.
func checkEnums(m proto.Message) error {
	return checkEnumsIn(m.ProtoReflect(), "")
}

func checkEnumsIn(m protoreflect.Message, prefix string) error {
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) {
			continue
		}
		name := prefix + string(fd.Name())
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() == nil && fd.MapValue().Enum() == nil {
				continue
			}
			mp := v.Map()
			var keys []string
			byKey := map[string]protoreflect.Value{}
			mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
				keys = append(keys, k.String())
				byKey[k.String()] = v
				return true
			})
			slices.Sort(keys)
			for _, k := range keys {
				if err := checkValue(fd.MapValue(), byKey[k], name+"."+k); err != nil {
					return err
				}
			}
		case fd.IsList():
			l := v.List()
			for j := range l.Len() {
				if err := checkValue(fd, l.Get(j), fmt.Sprintf("%s[%d]", name, j)); err != nil {
					return err
				}
			}
		default:
			if err := checkValue(fd, v, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkValue(fd protoreflect.FieldDescriptor, v protoreflect.Value, name string) error {
	switch fd.Kind() {
	case protoreflect.EnumKind:
		values := fd.Enum().Values()
		if values.ByNumber(v.Enum()) == nil {
			names := make([]string, values.Len())
			for i := range values.Len() {
				names[i] = string(values.Get(i).Name())
			}
			return &FieldError{Field: name, Msg: fmt.Sprintf("unknown value %d; expected one of %s", v.Enum(), strings.Join(names, ", "))}
		}
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return checkEnumsIn(v.Message(), name+".")
	}
	return nil
}

// solveSlot is what a call that resolves runs under: its deadline (the
// request's timeout, capped by MaxSolveTime) and then one of the
// admission's places, waited for within that deadline. done gives the
// place back and ends the deadline.
func (s *Service) solveSlot(ctx context.Context, timeout *durationpb.Duration, field string) (_ context.Context, done func(), _ error) {
	ctx, cancel, err := s.deadline(ctx, timeout, field)
	if err != nil {
		return nil, nil, err
	}
	release, err := s.admit.acquire(ctx)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return ctx, func() { release(); cancel() }, nil
}

// deadline bounds one call that resolves: by the request's timeout
// (checked, under field), capped by the configuration.
func (s *Service) deadline(ctx context.Context, timeout *durationpb.Duration, field string) (context.Context, context.CancelFunc, error) {
	limit := s.cfg.MaxSolveTime
	if timeout != nil {
		if err := timeout.CheckValid(); err != nil || timeout.AsDuration() <= 0 {
			return nil, nil, &FieldError{Field: field, Msg: "expected a positive duration"}
		}
		if limit <= 0 || timeout.AsDuration() < limit {
			limit = timeout.AsDuration()
		}
	}
	if limit <= 0 {
		ctx, cancel := context.WithCancel(ctx)
		return ctx, cancel, nil
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	return ctx, cancel, nil
}

// checkLengths refuses a string field longer than the configuration's
// MaxFieldLength, before the field is read: a flake name is looked up and
// compared with every known name, a path split.
func (s *Service) checkLengths(fields map[string]string) error {
	max := s.cfg.Limits.MaxFieldLength
	if max <= 0 {
		max = solver.DefaultLimits.MaxFieldLength
	}
	for _, f := range sortedKeys(fields) {
		if n := len(fields[f]); n > max {
			return &solver.LimitError{Limit: solver.LimitFieldLength, Field: f, Value: n, Max: max}
		}
	}
	return nil
}

// sortedKeys is for reading maps in a fixed order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
