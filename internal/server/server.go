// Package server serves the application layer (internal/service) over
// gRPC, and calls it there: the server registers the service with health
// checking, reflection, a request size limit and structured call logs; its
// errors become statuses as AIP-193 asks (status.go), and Client, the
// other end, turns those statuses back into the service's typed errors.
// So a call answered by a remote server fails exactly as the same call
// answered in-process, and the command line handles one set of errors.
//
// Nothing here decides anything about resolving: limits are the service's
// configuration, which `flakeresolve serve` sets from its flags.
package server

import (
	"context"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/internal/service"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// DefaultMaxSolveTime is the cap a server puts on one call that resolves
// unless it is told another.
const DefaultMaxSolveTime = 10 * time.Second

// rpcService adapts the service to the generated interface: the same
// calls, with errors as statuses.
type rpcService struct {
	pb.UnimplementedResolverServiceServer
	svc *service.Service
}

func (s rpcService) ListVersions(ctx context.Context, req *pb.ListVersionsRequest) (*pb.ListVersionsResponse, error) {
	resp, err := s.svc.ListVersions(ctx, req)
	if err != nil {
		return nil, Status(err).Err()
	}
	return resp, nil
}

func (s rpcService) ResolveInputs(ctx context.Context, req *pb.ResolveInputsRequest) (*pb.ResolveInputsResponse, error) {
	resp, err := s.svc.ResolveInputs(ctx, req)
	if err != nil {
		return nil, Status(err).Err()
	}
	return resp, nil
}

func (s rpcService) ExplainInputs(ctx context.Context, req *pb.ExplainInputsRequest) (*pb.ExplainInputsResponse, error) {
	resp, err := s.svc.ExplainInputs(ctx, req)
	if err != nil {
		return nil, Status(err).Err()
	}
	return resp, nil
}

// Options configure the gRPC server.
type Options struct {
	// MaxRecvBytes caps the size of one request message.
	MaxRecvBytes int
	Logger       *slog.Logger
}

// NewGRPCServer serves svc with health checking and reflection registered.
// The returned health server lets the caller mark the service as not
// serving during shutdown.
func NewGRPCServer(svc *service.Service, opts Options) (*grpc.Server, *health.Server) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	gs := grpc.NewServer(
		grpc.MaxRecvMsgSize(opts.MaxRecvBytes),
		grpc.ChainUnaryInterceptor(logCalls(log)),
	)
	pb.RegisterResolverServiceServer(gs, rpcService{svc: svc})
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
