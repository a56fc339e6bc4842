package service

import (
	"errors"
	"strings"
	"time"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/solver"
)

// Observer is told what the service does, for an operator's metrics. The
// service calls it from every call concurrently; it must not block. It is
// an interface so that the service depends on no metrics library, and
// every face of the API (gRPC, HTTP, the command line) reports the same
// solves and the same queue.
type Observer interface {
	// Solved reports one resolution: its outcome (see Outcome) and the
	// problem's size and objective, as far as it got.
	Solved(outcome string, stats solver.Stats)
	// AdmissionWait reports how long a call waited for a place to solve,
	// and whether it got one.
	AdmissionWait(wait time.Duration, admitted bool)
	// AdmissionState reports the solves running and the calls waiting.
	AdmissionState(running, waiting int)
}

type nopObserver struct{}

func (nopObserver) Solved(string, solver.Stats)       {}
func (nopObserver) AdmissionWait(time.Duration, bool) {}
func (nopObserver) AdmissionState(int, int)           {}

// Outcome names what a call's error says, as a short stable label for
// metrics and logs: ok, invalid, not_found, conflict, deadline, canceled,
// limit_<limit> (limit_candidates, limit_concurrency, ...), or error.
func Outcome(err error) string {
	var (
		fe *FieldError
		nf *index.NotFoundError
		ce *solver.ConflictError
		le *solver.LimitError
	)
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &fe):
		return "invalid"
	case errors.As(err, &nf):
		return "not_found"
	case errors.As(err, &ce):
		return "conflict"
	case errors.As(err, &le) && le.Limit == solver.LimitDeadline && le.Canceled:
		return "canceled"
	case errors.As(err, &le) && le.Limit == solver.LimitDeadline:
		return "deadline"
	case errors.As(err, &le):
		return strings.ToLower(LimitProto(le).Limit.String())
	}
	return "error"
}

// statsOf is the size a failed resolution reached, when its error says.
func statsOf(err error) solver.Stats {
	var le *solver.LimitError
	if errors.As(err, &le) {
		return le.Stats
	}
	return solver.Stats{}
}
