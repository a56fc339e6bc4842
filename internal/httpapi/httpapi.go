// Package httpapi is flakeresolve's HTTP face, for clients that speak
// neither gRPC nor protobuf, and for today's Nix:
//
//   - /v1/...: the API's HTTP/JSON routes, the methods' google.api.http
//     options, answered by grpc-gateway (protojson in and out, errors as
//     google.rpc.Status JSON with the gateway's HTTP codes and the
//     status's details);
//   - /f/{owner}/{project}/{requirement}[.tar.gz]: FlakeHub's requirement
//     URLs, which a flake.nix writes as a tarball input; the answer is a
//     redirect to the pinned tarball of the newest matching version, with
//     the Link header of Nix's lockable tarball protocol (flakehub.go);
//   - /f/{owner}/{project}/releases and
//     /version/resolve/{owner}/{project}/{requirement}: the read-only
//     listings fh, FlakeHub's client, reads, in FlakeHub's JSON shapes.
//
// Every route calls the gRPC server through a connection to it (Dial
// makes one in memory), not the service directly: an HTTP call then
// passes the server's size limit, interceptors and call logs like any
// gRPC call, and fails with the same statuses.
package httpapi

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Options configure the HTTP face.
type Options struct {
	// Layers returns the indexes served now, in which requirement URLs
	// find flakes by their project names.
	Layers func() *index.Layers
	// MinNix is the oldest Nix that must read the locks Nix writes from a
	// Link header: the header's URL carries the attributes flakeref.Types
	// says every Nix from it on reads (the lock writer's table).
	MinNix flakeref.NixVersion
	// MaxBodyBytes caps a request's body.
	MaxBodyBytes int64
	Logger       *slog.Logger
}

// marshaler is the JSON of every route: protojson as the command line's
// --json and grpcurl write it, and unknown fields refused, so that a
// misspelt field is an error rather than a default.
var marshaler = &runtime.JSONPb{
	MarshalOptions:   protojson.MarshalOptions{},
	UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
}

// Handler serves the HTTP face over conn, a connection to the gRPC server.
func Handler(ctx context.Context, conn grpc.ClientConnInterface, opts Options) (http.Handler, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	gw := runtime.NewServeMux(runtime.WithMarshalerOption(runtime.MIMEWildcard, marshaler))
	rpc := pb.NewResolverServiceClient(conn)
	if err := pb.RegisterResolverServiceHandlerClient(ctx, gw, rpc); err != nil {
		return nil, err
	}
	h := &hub{rpc: rpc, layers: opts.Layers, minNix: opts.MinNix}
	mux := http.NewServeMux()
	mux.Handle("/v1/", http.MaxBytesHandler(gw, opts.MaxBodyBytes))
	mux.HandleFunc("GET /f/{owner}/{project}/releases", h.releases)
	mux.HandleFunc("GET /f/{owner}/{project}/{requirement}", h.redirect)
	mux.HandleFunc("GET /version/resolve/{owner}/{project}/{requirement}", h.resolve)
	return logRequests(opts.Logger, mux), nil
}

// writeStatus writes an error status as the gateway writes one: the HTTP
// code for its gRPC code, and the google.rpc.Status as JSON.
func writeStatus(w http.ResponseWriter, st *status.Status) {
	data, err := marshaler.Marshal(st.Proto())
	if err != nil {
		http.Error(w, st.Message(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(runtime.HTTPStatusFromCode(st.Code()))
	w.Write(data)
}

// logRequests logs a line per request (the gRPC calls it makes log their
// own), so that requests answered without one, such as an unknown
// project, are seen too.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		level := slog.LevelInfo
		if rec.code >= 500 {
			level = slog.LevelError
		}
		log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.EscapedPath(), "status", rec.code, "duration", time.Since(start))
	})
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}

// Dial serves gs on a listener in memory too, and connects to it: the
// connection through which the HTTP face calls the same server in the
// same process. stop closes the connection; gs.Stop or GracefulStop ends
// the serving.
func Dial(gs *grpc.Server) (conn *grpc.ClientConn, stop func(), err error) {
	lis := bufconn.Listen(1 << 20)
	go gs.Serve(lis)
	conn, err = grpc.NewClient("passthrough:///in-process",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		lis.Close()
		return nil, nil, err
	}
	return conn, func() { conn.Close() }, nil
}
