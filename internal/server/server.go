// Package server implements flakeresolve.v1.ResolverService over loaded
// indexes, and the gRPC server around it: health checking, reflection,
// request limits, structured logs and index reloads.
//
// The service holds its indexes behind an atomic pointer: requests read
// whatever index is current without locks, and a reload builds a complete new
// index before swapping it in, so a bad file never replaces a good index.
// The CLI answers local queries through the same Service value, so the
// command line and the RPC cannot drift apart.
package server

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/versionreq"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Service answers queries against the current layered indexes.
type Service struct {
	pb.UnimplementedResolverServiceServer
	layers atomic.Pointer[index.Layers]
	// MaxSolveTime caps every resolution (DefaultMaxSolveTime when 0);
	// a request may ask for less.
	MaxSolveTime time.Duration
}

// NewService serves the given layered indexes.
func NewService(l *index.Layers) *Service {
	s := &Service{}
	s.layers.Store(l)
	return s
}

// Layers returns the indexes currently served.
func (s *Service) Layers() *index.Layers { return s.layers.Load() }

// Swap replaces the served indexes; requests already running keep the ones
// they started with.
func (s *Service) Swap(l *index.Layers) { s.layers.Store(l) }

// Query implements ResolverService.Query.
func (s *Service) Query(ctx context.Context, req *pb.QueryRequest) (*pb.QueryResponse, error) {
	if req.Name == "" {
		return nil, badRequest("name", "empty; expected a flake name such as hyprutils")
	}
	r, err := versionreq.Parse(req.Requirement)
	if err != nil {
		return nil, badRequest("requirement", err.Error())
	}
	f, err := s.layers.Load().Lookup(req.Name)
	if err != nil {
		return nil, status.Error(codes.NotFound, err.Error())
	}
	matches := f.Select(r)
	resp := &pb.QueryResponse{
		Name:          f.Name,
		Requirement:   r.String(),
		TotalVersions: uint32(len(f.Versions)),
		Versions:      make([]*pb.MatchingVersion, 0, len(matches)),
	}
	for _, v := range slices.Backward(matches) {
		resp.Versions = append(resp.Versions, &pb.MatchingVersion{Version: v.String(), Locked: v.Locked()})
	}
	return resp, nil
}

// badRequest is INVALID_ARGUMENT with the field named both in the message
// and as a BadRequest detail that clients can read programmatically.
func badRequest(field, desc string) error {
	st := status.New(codes.InvalidArgument, field+": "+desc)
	if d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}}); err == nil {
		return d.Err()
	}
	return st.Err()
}

// Options configure the gRPC server.
type Options struct {
	// MaxRecvBytes caps the size of one request message.
	MaxRecvBytes int
	Logger       *slog.Logger
}

// NewGRPCServer wraps a Service in a gRPC server with health checking and
// reflection registered. The returned health server lets the caller mark the
// service as not serving during shutdown.
func NewGRPCServer(svc *Service, opts Options) (*grpc.Server, *health.Server) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(opts.MaxRecvBytes),
		grpc.ChainUnaryInterceptor(logCalls(log)),
	)
	pb.RegisterResolverServiceServer(gs, svc)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(pb.ResolverService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	reflection.Register(gs)
	return gs, hs
}

func logCalls(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := handler(ctx, req)
		code := status.Code(err)
		level := slog.LevelInfo
		if code == codes.Internal || code == codes.Unknown {
			level = slog.LevelError
		}
		attrs := []any{"method", info.FullMethod, "code", code.String(), "duration", time.Since(start)}
		if err != nil {
			attrs = append(attrs, "error", status.Convert(err).Message())
		}
		log.Log(ctx, level, "rpc", attrs...)
		return resp, err
	}
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
	var ixs []*index.Index
	var errs []error
	for _, f := range files {
		ix, err := index.Load(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		ixs = append(ixs, ix)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return index.NewLayers(ixs...), nil
}
