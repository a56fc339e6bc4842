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
// Every route calls the gRPC server through a connection to it
// (server.Server.InProcess makes one in memory), not the service
// directly: an HTTP call then passes the server's size limit, call logs,
// limits and admission like any gRPC call, and fails with the same
// statuses (RESOURCE_EXHAUSTED, with its LimitExceeded detail, is 429).
// Each request's caller is named before any route runs (Options.Caller):
// its bearer token or client certificate decides the index layers it
// sees, as over gRPC, so a private layer's names appear in no answer or
// error of another caller's, requirement URLs included.
package httpapi

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	pb "github.com/flakeresolve/flakeresolve/proto/flakeresolve/v1"
)

// Options configure the HTTP face.
type Options struct {
	// Layers returns the indexes the caller of ctx sees now, in which
	// requirement URLs find flakes by their project names.
	Layers func(ctx context.Context) *index.Layers
	// Caller names the caller of a request into its context, or refuses
	// it with a status (server.Server.HTTPContext); nil: every request is
	// anonymous.
	Caller func(*http.Request) (context.Context, error)
	// MinNix is the oldest Nix that must read the locks Nix writes from a
	// Link header: the header's URL carries the attributes flakeref.Types
	// says every Nix from it on reads (the lock writer's table).
	MinNix flakeref.NixVersion
	// MaxBodyBytes caps a request's body.
	MaxBodyBytes int64
	// Log writes the line of each request, named by its route (the
	// pattern that matched it): server.Server.LogHTTP, bounded as the
	// call log is; nil writes every line to Logger.
	Log    func(r *http.Request, route string, code int, took time.Duration)
	Logger *slog.Logger
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
	log := opts.Log
	if log == nil {
		log = func(r *http.Request, route string, code int, took time.Duration) {
			level := slog.LevelInfo
			if code >= 500 {
				level = slog.LevelError
			}
			opts.Logger.Log(r.Context(), level, "http", "method", route, "code", code, "duration", took, "request", r.Method+" "+r.URL.EscapedPath())
		}
	}
	return front(opts.Caller, log, mux), nil
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

// front names each request's caller before its route runs, and logs a
// line per request (the gRPC calls it makes log their own), so that
// requests answered without one, such as an unknown project or a refused
// token, are seen too. The line names the route by the pattern of mux
// that matches it (never by what the client sent, so routes are few).
func front(caller func(*http.Request) (context.Context, error), log func(*http.Request, string, int, time.Duration), mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, route := mux.Handler(r)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		if ctx, err := callerOf(caller, r); err != nil {
			writeStatus(rec, status.Convert(err))
		} else {
			r = r.WithContext(ctx)
			mux.ServeHTTP(rec, r)
		}
		log(r, cmp.Or(route, "(no route)"), rec.code, time.Since(start))
	})
}

func callerOf(caller func(*http.Request) (context.Context, error), r *http.Request) (context.Context, error) {
	if caller == nil {
		return r.Context(), nil
	}
	return caller(r)
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.code = code
	r.ResponseWriter.WriteHeader(code)
}
