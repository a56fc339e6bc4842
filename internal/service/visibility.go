package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/flakeresolve/flakeresolve/index"
)

// Access says which callers see which index layers. A private layer is
// visible only to the callers named for it; every other layer is public.
// A caller that cannot see a layer is served layers built without it, so
// its names appear in no answer, error or closest-name suggestion of that
// caller's, and a public flake it hides is visible again.
type Access struct {
	// Private maps an index's origin (the file as LoadLayers was given
	// it) to the callers that may see it.
	Private map[string][]string
}

// Check says every private layer is one the service serves: a policy
// for a file that is not loaded protects nothing, and is a mistake.
func (a Access) Check(l *index.Layers) error {
	served := map[string]bool{}
	for _, ix := range l.Indexes() {
		served[ix.Origin] = true
	}
	for origin := range a.Private {
		if !served[origin] {
			var names []string
			for _, ix := range l.Indexes() {
				names = append(names, ix.Origin)
			}
			return fmt.Errorf("access is given to %q, which is not an index served (served: %s)", origin, strings.Join(names, ", "))
		}
	}
	return nil
}

type callerKey struct{}

// WithCaller marks a call as made by the named caller (an mTLS subject, a
// token's owner), whose access decides the layers it sees. A call with no
// caller is anonymous and sees the public layers.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// CallerOf is the caller WithCaller named, "" for an anonymous call.
func CallerOf(ctx context.Context) string {
	c, _ := ctx.Value(callerKey{}).(string)
	return c
}

// served is what the service answers from: the layers loaded, and the
// views of them that callers see, built once per set of visible layers.
type served struct {
	all    *index.Layers
	digest string
	access Access
	mu     sync.Mutex
	views  map[string]*index.Layers
}

func newServed(l *index.Layers, digest string, a Access) *served {
	return &served{all: l, digest: digest, access: a, views: map[string]*index.Layers{}}
}

// view is the layers the caller sees.
func (s *served) view(caller string) *index.Layers {
	if len(s.access.Private) == 0 {
		return s.all
	}
	var key strings.Builder
	var visible []*index.Index
	for _, ix := range s.all.Indexes() {
		allowed, private := s.access.Private[ix.Origin]
		if !private || caller != "" && slices.Contains(allowed, caller) {
			visible = append(visible, ix)
			key.WriteByte('1')
		} else {
			key.WriteByte('0')
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	v := s.views[key.String()]
	if v == nil {
		v = index.NewLayers(visible...)
		s.views[key.String()] = v
	}
	return v
}
