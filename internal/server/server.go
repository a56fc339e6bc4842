// Package server serves the application layer (internal/service) over
// gRPC, and calls it there: the server registers the service with health
// checking, optional reflection, TLS and callers' identities (a client
// certificate's subject or a bearer token, which the service's access
// policy maps to the index layers each caller sees), a request size
// limit, metrics and a bounded access log; its
// every response's header carries the digest of the index snapshot that
// answered it, and a call pinned to another snapshot is refused
// (snapshot.go);
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
	"crypto/tls"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/stats"

	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/telemetry"
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

// MaxMessageBytes is the largest answer a server sends and a Client
// accepts. gRPC's default receive limit of 4 MiB is less than the
// explanation of a large resolution; the server's request limit is its
// own (Options.MaxRecvBytes), far smaller.
const MaxMessageBytes = 256 << 20

// Options configure the gRPC server.
type Options struct {
	// MaxRecvBytes caps the size of one request message.
	MaxRecvBytes int
	Logger       *slog.Logger
	// TLS, when set, serves over TLS with it (with ClientCAs and
	// RequireAndVerifyClientCert for mutual TLS); nil serves plaintext.
	TLS *tls.Config
	// Tokens are the bearer tokens accepted; RequireCaller refuses calls
	// with neither a token nor a client certificate.
	Tokens        Tokens
	RequireCaller bool
	// Reflection registers gRPC server reflection, which lists the API to
	// anyone who asks.
	Reflection bool
	// Metrics, when set, count every call.
	Metrics *telemetry.Metrics
	// Stats, when set, is told of every call (telemetry.Tracing's spans).
	Stats stats.Handler
	// LogBurst is how many access log lines each method and status code
	// gets per LogInterval (defaults 20 and 10s); the rest are summarised.
	LogBurst    int
	LogInterval time.Duration
}

// Server is a gRPC server of the service.
type Server struct {
	*grpc.Server
	// Health lets the caller mark the service as not serving during
	// shutdown.
	Health *health.Server
	log    *accessLog
	// httpLog is the HTTP face's: its requests' lines, and its calls'.
	httpLog *accessLog
	svc     *service.Service
	opts    Options
}

// FlushLog writes the access log's pending summaries, at shutdown.
func (s *Server) FlushLog() {
	s.log.flush()
	s.httpLog.flush()
}

// NewGRPCServer serves svc with health checking, and reflection when
// asked for.
func NewGRPCServer(svc *service.Service, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.LogBurst <= 0 {
		opts.LogBurst = 20
	}
	if opts.LogInterval <= 0 {
		opts.LogInterval = 10 * time.Second
	}
	al := newAccessLog("grpc", opts.Logger, opts.Metrics, opts.LogBurst, opts.LogInterval)
	var creds []grpc.ServerOption
	if opts.TLS != nil {
		creds = append(creds, grpc.Creds(credentials.NewTLS(opts.TLS)))
	}
	gs := newServer(svc, opts, al, authenticate(opts.Tokens, opts.RequireCaller), creds...)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(pb.ResolverService_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)
	if opts.Reflection {
		reflection.Register(gs)
	}
	return &Server{Server: gs, Health: hs, log: al, svc: svc, opts: opts,
		httpLog: newAccessLog("http", opts.Logger, opts.Metrics, opts.LogBurst, opts.LogInterval)}
}

// newServer is a gRPC server of the service: the request size limit,
// the access log around the interceptor that names callers, and
// malformed requests as INVALID_ARGUMENT.
func newServer(svc *service.Service, opts Options, al *accessLog, callers grpc.UnaryServerInterceptor, extra ...grpc.ServerOption) *grpc.Server {
	sopts := append([]grpc.ServerOption{
		grpc.MaxRecvMsgSize(opts.MaxRecvBytes),
		grpc.MaxSendMsgSize(MaxMessageBytes),
		grpc.ChainUnaryInterceptor(al.observe, unaryDigest(svc), callers),
		grpc.ChainStreamInterceptor(streamDigest(svc)),
	}, extra...)
	codec := &requestCodec{CodecV2: encoding.GetCodecV2(protoenc.Name)}
	sopts = append(sopts, grpc.ForceServerCodecV2(codec))
	if opts.Stats != nil {
		sopts = append(sopts, grpc.StatsHandler(opts.Stats))
	}
	gs := grpc.NewServer(sopts...)
	desc := decodeErrors(pb.ResolverService_ServiceDesc, codec)
	gs.RegisterService(&desc, rpcService{svc: svc})
	return gs
}
