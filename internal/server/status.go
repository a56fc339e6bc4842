package server

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/protoadapt"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
	"github.com/flakeresolve/flakeresolve/solver"
)

// Domain is the ErrorInfo domain of every error the service returns.
const Domain = "flakeresolve.dev"

// Status is an error of the service as the API's status (AIP-193): the
// code, the error's text as the message, a google.rpc.ErrorInfo with the
// reason (an ErrorReason name) and metadata, and the reason's typed detail.
// errorOf reads it back.
func Status(err error) *status.Status {
	var (
		fe *service.FieldError
		nf *index.NotFoundError
		ce *solver.ConflictError
		le *solver.LimitError
		ic *service.IndexChangedError
		re *RemoteError
	)
	switch {
	case errors.As(err, &re):
		return re.Status
	case errors.As(err, &fe):
		reason := pb.ErrorReason_INVALID_REQUEST
		if fe.Requirement {
			reason = pb.ErrorReason_INVALID_REQUIREMENT
		}
		return withDetails(codes.InvalidArgument, err, reason, map[string]string{"field": fe.Field},
			&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: fe.Field, Description: fe.Msg}}})
	case errors.As(err, &nf):
		return withDetails(codes.NotFound, err, pb.ErrorReason_FLAKE_NOT_FOUND, map[string]string{"flake": nf.Name, "closest": strings.Join(nf.Suggestions, ",")},
			&errdetails.ResourceInfo{ResourceType: Domain + "/Flake", ResourceName: "flakes/" + nf.Name, Description: err.Error()})
	case errors.As(err, &ce):
		c := service.ConflictProto(ce)
		return withDetails(codes.FailedPrecondition, err, pb.ErrorReason_NO_ANSWER, map[string]string{"causes": strconv.Itoa(len(c.Causes)), "hints": strconv.Itoa(len(c.Hints))}, c)
	case errors.As(err, &ic):
		return withDetails(codes.FailedPrecondition, err, pb.ErrorReason_INDEX_CHANGED, map[string]string{"wanted": ic.Wanted, "served": ic.Served})
	case errors.As(err, &le):
		l := service.LimitProto(le)
		code := codes.ResourceExhausted
		switch {
		case l.Limit == pb.Limit_LIMIT_DEADLINE && le.Canceled:
			code = codes.Canceled
		case l.Limit == pb.Limit_LIMIT_DEADLINE:
			code = codes.DeadlineExceeded
		}
		return withDetails(code, err, pb.ErrorReason_LIMIT_EXCEEDED, map[string]string{"limit": l.Limit.String()}, l)
	}
	return withDetails(codes.Internal, err, pb.ErrorReason_INTERNAL_ERROR, nil)
}

func withDetails(code codes.Code, err error, reason pb.ErrorReason, metadata map[string]string, details ...protoadapt.MessageV1) *status.Status {
	st := status.New(code, err.Error())
	all := append([]protoadapt.MessageV1{&errdetails.ErrorInfo{Reason: reason.String(), Domain: Domain, Metadata: metadata}}, details...)
	d, derr := st.WithDetails(all...)
	if derr != nil {
		// Only a detail that cannot be marshalled fails, which the
		// messages above never are.
		panic(fmt.Sprintf("status details of %v: %v", err, derr))
	}
	return d
}

// RemoteError is a status that carries none of the service's reasons: the
// server could not be reached, or something other than the service
// answered.
type RemoteError struct {
	Addr   string
	Status *status.Status
}

func (e *RemoteError) Error() string {
	switch e.Status.Code() {
	case codes.Unavailable, codes.DeadlineExceeded:
		return fmt.Sprintf("server unreachable at %s: %s", e.Addr, e.Status.Message())
	}
	return fmt.Sprintf("server at %s: %s: %s", e.Addr, e.Status.Code(), e.Status.Message())
}

// errorOf reads a status from the server at addr back into the error the
// service returned, by the ErrorInfo's reason; the inverse of Status.
func errorOf(addr string, err error) error {
	st := status.Convert(err)
	var info *errdetails.ErrorInfo
	var br *errdetails.BadRequest
	var conflict *pb.Conflict
	var limit *pb.LimitExceeded
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			if d.Domain == Domain {
				info = d
			}
		case *errdetails.BadRequest:
			br = d
		case *pb.Conflict:
			conflict = d
		case *pb.LimitExceeded:
			limit = d
		}
	}
	remote := &RemoteError{Addr: addr, Status: st}
	if info == nil {
		return remote
	}
	switch reason := pb.ErrorReason(pb.ErrorReason_value[info.Reason]); reason {
	case pb.ErrorReason_INVALID_REQUEST, pb.ErrorReason_INVALID_REQUIREMENT:
		if len(br.GetFieldViolations()) == 1 {
			v := br.FieldViolations[0]
			return &service.FieldError{Field: v.Field, Msg: v.Description, Requirement: reason == pb.ErrorReason_INVALID_REQUIREMENT}
		}
	case pb.ErrorReason_FLAKE_NOT_FOUND:
		nf := &index.NotFoundError{Name: info.Metadata["flake"]}
		if c := info.Metadata["closest"]; c != "" {
			nf.Suggestions = strings.Split(c, ",")
		}
		return nf
	case pb.ErrorReason_NO_ANSWER:
		if conflict != nil {
			return service.ConflictFromProto(conflict)
		}
	case pb.ErrorReason_INDEX_CHANGED:
		return &service.IndexChangedError{Wanted: info.Metadata["wanted"], Served: info.Metadata["served"]}
	case pb.ErrorReason_LIMIT_EXCEEDED:
		if limit != nil {
			return service.LimitFromProto(limit, st.Code() == codes.Canceled)
		}
	}
	return remote
}
