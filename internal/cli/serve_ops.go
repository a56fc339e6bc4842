package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/boundedfile"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/telemetry"
	"github.com/flakeresolve/flakeresolve/internal/tlsconf"
	"github.com/flakeresolve/flakeresolve/solver"
)

// opsFlags are serve's flags for running in front of the world: limits and
// admission, TLS and callers, metrics, profiles and logs.
type opsFlags struct {
	// Limits and admission.
	concurrent, queued int
	limits             solver.Limits
	// TLS, callers and what they see.
	tlsCert, tlsKey, clientCA string
	tokensFile                string
	requireCaller             bool
	layerAccess               []string
	reflection                bool
	// Observability.
	adminListen  string
	logBurst     int
	logInterval  time.Duration
	otlpEndpoint string
	otlpInsecure bool
}

// serverLimits are serve's defaults: tighter than the command line's own
// (solver.DefaultLimits), which answers one user who chose the request.
var serverLimits = solver.Limits{
	MaxReachable: 200_000, MaxCandidates: 50_000, MaxClauses: 1_000_000, MaxPaths: 20_000,
	Effort: 2 * time.Second, MaxDepth: 16, MaxDeclarations: 20_000, MaxFieldLength: 1024, MaxMemory: 1 << 30,
}

func (f *opsFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	procs := runtime.GOMAXPROCS(0)
	fl.IntVar(&f.concurrent, "max-concurrent-solves", procs, "calls that resolve at once (default: the cores Go uses); 0 is no bound")
	fl.IntVar(&f.queued, "max-queued-solves", 8*procs, "calls that wait for a place to resolve, each until its deadline; more are refused RESOURCE_EXHAUSTED")
	fl.DurationVar(&f.limits.Effort, "max-effort", serverLimits.Effort, "cap on the time one resolution spends improving its first answer; requests may ask for less")
	fl.Int64Var(&f.limits.Work, "max-work", 0, "cap on the solver work of one resolution (0: none); requests may ask for less")
	fl.IntVar(&f.limits.MaxReachable, "max-reachable", serverLimits.MaxReachable, "versions a request may reach")
	fl.IntVar(&f.limits.MaxCandidates, "max-candidates", serverLimits.MaxCandidates, "candidate versions of one problem, after shrinking")
	fl.IntVar(&f.limits.MaxClauses, "max-constraints", serverLimits.MaxClauses, "constraints of one encoded problem")
	fl.IntVar(&f.limits.MaxPaths, "max-paths", serverLimits.MaxPaths, "input paths of one answer")
	fl.Int64Var(&f.limits.MaxMemory, "max-solve-memory", serverLimits.MaxMemory, "estimated bytes of one problem's structures (stats memory_bytes)")
	fl.IntVar(&f.limits.MaxDepth, "max-depth", serverLimits.MaxDepth, "nesting of a request's inputs (overrides of overrides)")
	fl.IntVar(&f.limits.MaxDeclarations, "max-declarations", serverLimits.MaxDeclarations, "inputs, lock file nodes, single flakes and update paths of one request")
	fl.IntVar(&f.limits.MaxFieldLength, "max-field-length", serverLimits.MaxFieldLength, "bytes of any one string of a request (a name, a reference, a path)")

	fl.StringVar(&f.tlsCert, "tls-cert", "", "serve over TLS with this certificate `FILE` (PEM; with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "the private key `FILE` (PEM) of --tls-cert")
	fl.StringVar(&f.clientCA, "client-ca", "", "require client certificates signed by this CA `FILE` (PEM): mutual TLS; a certificate's subject common name names its caller")
	fl.StringVar(&f.tokensFile, "tokens", "", "accept the bearer tokens of this `FILE` (one \"CALLER TOKEN\" a line); a token names its caller")
	fl.BoolVar(&f.requireCaller, "require-auth", false, "refuse calls with neither a known token nor a client certificate (default: such calls see the public layers)")
	fl.StringArrayVar(&f.layerAccess, "layer-access", nil, "make an --index file private to callers: `FILE=CALLER[,CALLER...]` (repeatable); other callers never see its names")
	fl.BoolVar(&f.reflection, "reflection", false, "register gRPC server reflection (lists the API to any caller; for grpcurl without the protos)")

	fl.StringVar(&f.adminListen, "admin-listen", "", "serve /metrics (Prometheus) and /debug/pprof/ on this `ADDR` (host:port); keep it private")
	fl.IntVar(&f.logBurst, "log-burst", 20, "access log lines per method and status code in each --log-interval; the rest are summarised in one line")
	fl.DurationVar(&f.logInterval, "log-interval", 10*time.Second, "the access log's summary interval")
	fl.StringVar(&f.otlpEndpoint, "otlp-endpoint", "", "send a trace span of every call to the OpenTelemetry collector at `ADDR` (host:port, OTLP over gRPC, TLS); default: no tracing")
	fl.BoolVar(&f.otlpInsecure, "otlp-insecure", false, "with --otlp-endpoint: plaintext to the collector (one on loopback)")
}

// access reads --layer-access against the indexes served.
func (f *opsFlags) access(indexes []string) (service.Access, error) {
	a := service.Access{}
	for _, spec := range f.layerAccess {
		file, callers, ok := strings.Cut(spec, "=")
		if !ok || file == "" || callers == "" {
			return a, usageErr("--layer-access %q: expected FILE=CALLER[,CALLER...]", spec)
		}
		if a.Private == nil {
			a.Private = map[string][]string{}
		}
		a.Private[file] = append(a.Private[file], strings.Split(callers, ",")...)
	}
	if len(a.Private) > 0 && len(indexes) == 0 {
		return a, usageErr("--layer-access needs the --index files it makes private")
	}
	return a, nil
}

// serviceConfig is the service's configuration from the flags.
func (f *opsFlags) serviceConfig(maxSolveTime time.Duration, indexes []string, obs service.Observer) (service.Config, error) {
	access, err := f.access(indexes)
	if err != nil {
		return service.Config{}, err
	}
	return service.Config{
		MaxSolveTime: maxSolveTime, Limits: f.limits,
		MaxConcurrentSolves: f.concurrent, MaxQueuedSolves: f.queued,
		Access: access, Observer: obs,
	}, nil
}

// serverOptions are the gRPC server's options from the flags.
func (f *opsFlags) serverOptions(maxRequestBytes int, log *slog.Logger, m *telemetry.Metrics) (server.Options, error) {
	o := server.Options{MaxRecvBytes: maxRequestBytes, Logger: log, Metrics: m, Reflection: f.reflection,
		RequireCaller: f.requireCaller, LogBurst: f.logBurst, LogInterval: f.logInterval}
	switch {
	case f.tlsCert != "" || f.tlsKey != "":
		var err error
		if o.TLS, err = tlsconf.Server(f.tlsCert, f.tlsKey, f.clientCA); err != nil {
			return o, fmt.Errorf("TLS: %w", err)
		}
	case f.clientCA != "":
		return o, usageErr("--client-ca needs --tls-cert and --tls-key: client certificates are checked in TLS")
	}
	if f.tokensFile != "" {
		if o.TLS == nil {
			return o, usageErr("--tokens needs --tls-cert and --tls-key: a bearer token over plaintext is readable by anyone on the path")
		}
		data, err := boundedfile.Read(f.tokensFile, 1<<20)
		if err != nil {
			return o, err
		}
		if o.Tokens, err = server.ParseTokens(f.tokensFile, data); err != nil {
			return o, err
		}
	}
	if f.requireCaller && o.Tokens == nil && f.clientCA == "" {
		return o, usageErr("--require-auth needs --tokens or --client-ca: otherwise no caller can be known")
	}
	return o, nil
}

// startAdmin serves the admin handler on --admin-listen, when given; the
// function it returns stops it.
func (f *opsFlags) startAdmin(log *slog.Logger, h http.Handler) (func(), error) {
	if f.adminListen == "" {
		return func() {}, nil
	}
	lis, err := net.Listen("tcp", f.adminListen)
	if err != nil {
		return nil, fmt.Errorf("admin listener on %s: %w", f.adminListen, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(lis); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("admin listener stopped", "error", err.Error())
		}
	}()
	log.Info("admin listener: /metrics and /debug/pprof/", "addr", lis.Addr().String())
	return func() { srv.Close() }, nil
}

// checkAccess says the access policy names only indexes served.
func checkAccess(a service.Access, l *index.Layers) error {
	if err := a.Check(l); err != nil {
		return usageErr("--layer-access: %v", err)
	}
	return nil
}

// tracing sends --otlp-endpoint the spans of the calls o's server
// answers, when one is given; the function it returns sends those still
// buffered, at shutdown.
func (f *opsFlags) tracing(ctx context.Context, o *server.Options, log *slog.Logger) (func(), error) {
	if f.otlpEndpoint == "" {
		if f.otlpInsecure {
			return nil, usageErr("--otlp-insecure needs --otlp-endpoint")
		}
		return func() {}, nil
	}
	h, shutdown, err := telemetry.Tracing(ctx, f.otlpEndpoint, f.otlpInsecure)
	if err != nil {
		return nil, err
	}
	o.Stats = h
	log.Info("tracing: spans to the OTLP collector", "endpoint", f.otlpEndpoint)
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("tracing: spans not sent at shutdown", "error", err.Error())
		}
	}, nil
}
