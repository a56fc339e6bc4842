package service

import (
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// ConflictProto is a conflict as the API's Conflict detail.
func ConflictProto(e *solver.ConflictError) *pb.Conflict {
	c := &pb.Conflict{Minimal: true}
	for _, text := range e.Causes {
		c.Causes = append(c.Causes, &pb.ConflictCause{Detail: text})
	}
	return c
}

// ConflictFromProto is the inverse of ConflictProto.
func ConflictFromProto(c *pb.Conflict) *solver.ConflictError {
	e := &solver.ConflictError{}
	for _, cause := range c.GetCauses() {
		e.Causes = append(e.Causes, cause.Detail)
	}
	return e
}

// limits is the one table of the solver's limits and the API's.
var limits = []struct {
	solver string
	proto  pb.Limit
}{
	{"deadline", pb.Limit_LIMIT_DEADLINE},
	{"reachable versions", pb.Limit_LIMIT_REACHABLE_VERSIONS},
	{"candidates", pb.Limit_LIMIT_CANDIDATES},
	{"clauses", pb.Limit_LIMIT_CONSTRAINTS},
	{"paths", pb.Limit_LIMIT_PATHS},
	{"work", pb.Limit_LIMIT_WORK},
}

// LimitProto is a limit error as the API's LimitExceeded detail.
func LimitProto(e *solver.LimitError) *pb.LimitExceeded {
	l := &pb.LimitExceeded{Value: int64(e.Value), MaxValue: int64(e.Max), Stats: statsProto(e.Stats)}
	for _, row := range limits {
		if row.solver == e.Limit {
			l.Limit = row.proto
		}
	}
	return l
}

// LimitFromProto is the inverse of LimitProto; canceled says the status
// was CANCELLED (the caller went away) rather than a deadline.
func LimitFromProto(l *pb.LimitExceeded, canceled bool) *solver.LimitError {
	e := &solver.LimitError{Value: int(l.GetValue()), Max: int(l.GetMaxValue()), Stats: statsFromProto(l.GetStats()), Canceled: canceled}
	for _, row := range limits {
		if row.proto == l.GetLimit() {
			e.Limit = row.solver
		}
	}
	return e
}
