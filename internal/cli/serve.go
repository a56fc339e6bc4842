package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/telemetry"
)

func newServeCmd() *cobra.Command {
	var (
		listen          string
		indexes         []string
		maxRequestBytes int
		shutdownTimeout time.Duration
		maxSolveTime    time.Duration
		logFormat       string
		indexPoll       time.Duration
		ops             opsFlags
		web             httpFace
		registries      []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API (flakeresolve.v1.ResolverService) over gRPC",
		Long: `serve answers flakeresolve.v1.ResolverService over gRPC, with gRPC health
checking, and with --reflection server reflection (so grpcurl can list and
call it without the protos).

Every request is measured before it is expanded and refused
RESOURCE_EXHAUSTED (a LimitExceeded detail says which limit) when over a
--max-* limit; calls that resolve take one of --max-concurrent-solves
places, or wait in a queue of --max-queued-solves until their deadline.
--tls-cert/--tls-key serve TLS, --client-ca requires client certificates,
--tokens accepts bearer tokens; --layer-access makes an index visible only
to named callers. --admin-listen serves Prometheus metrics and pprof;
--otlp-endpoint sends OpenTelemetry trace spans of the calls.
--http-listen also serves the API as JSON, FlakeHub's requirement URLs and
fh's listings over HTTP (HTTPS with --tls-cert), through the same limits,
queue and callers.

Without --index it serves the embedded default index. With --index files
(repeatable; a flake in an earlier file hides the same name in later ones)
every file is loaded and validated before serving; an invalid file stops
the server from starting, with every problem listed.

An --index may be an http:// or https:// URL of a published snapshot,
fetched at start and again every --index-poll and at SIGHUP, with the
ETag of the last answer (a 304 keeps the index). A body is used only when
whole: its length is its Content-Length and its SHA-256 the one the
response declares, if it declares one (Repr-Digest, Content-Digest,
Digest or X-Checksum-Sha256).

The indexes served are named by one digest, the SHA-256 of the index
files' bytes in layer order (for one file, its sha256sum). Every gRPC
response carries it in header metadata flakeresolve-index-digest, and
every HTTP response (the HTTP face's and the admin listener's) in a
header of that name; /metrics has it too
(flakeresolve_index_digest_info). A call that sends that metadata is
answered only by a server serving that digest, and refused
FAILED_PRECONDITION (reason INDEX_CHANGED) by any other, so a client can
keep a session on one snapshot while replicas roll to the next.

SIGHUP reloads the --index files; if any is unreadable or invalid the old
indexes stay in service and the error is logged. SIGINT or SIGTERM stop
accepting calls, let running calls finish (up to --shutdown-timeout), and
exit 0.`,
		Example: `  flakeresolve serve
  flakeresolve serve --listen 127.0.0.1:50051 --index private.json --index public.json
  flakeresolve serve --index https://indexes.example.org/flakes.binpb --index-poll 30s
  flakeresolve serve --tls-cert server.pem --tls-key server.key --tokens tokens.txt \
    --index private.json --index public.json --layer-access private.json=team-a --admin-listen 127.0.0.1:9090
  grpcurl -plaintext -import-path proto -proto flakeresolve/v1/resolver.proto 127.0.0.1:50051 list
  grpcurl -plaintext -d '{"parent":"flakes/hyprutils","requirement":"^0.8"}' 127.0.0.1:50051 flakeresolve.v1.ResolverService/ListVersions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd, logFormat)
			if err != nil {
				return err
			}
			metrics := telemetry.New()
			cfg, err := ops.serviceConfig(maxSolveTime, indexes, metrics)
			if err != nil {
				return err
			}
			opts, err := ops.serverOptions(maxRequestBytes, log, metrics)
			if err != nil {
				return err
			}
			stopTracing, err := ops.tracing(cmd.Context(), &opts, log)
			if err != nil {
				return err
			}
			defer stopTracing()
			if indexPoll < 0 {
				return usageErr("--index-poll %s: expected a positive interval, or 0 for no polling", indexPoll)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			start := time.Now()
			rl := newReloader(indexes, metrics, log)
			snap, err := rl.first(ctx)
			if err != nil {
				return &exitErr{exitError, fmt.Errorf("not starting: %w", err)}
			}
			if err := checkAccess(cfg.Access, snap.Layers); err != nil {
				return err
			}
			if cfg.Indirect, err = registryLookup(registries); err != nil {
				return err
			}
			svc := service.New(snap.Layers, cfg)
			svc.Swap(snap.Layers, snap.Digest)
			rl.svc = svc
			gs := server.NewGRPCServer(svc, opts)
			defer gs.FlushLog()
			lis, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitErr{exitError, fmt.Errorf("listening on %s: %w", listen, err)}
			}
			stopAdmin, err := ops.startAdmin(log, withDigest(svc, metrics.AdminHandler()))
			if err != nil {
				return &exitErr{exitError, err}
			}
			defer stopAdmin()
			if err := web.start(gs, svc, maxRequestBytes, opts.TLS, log); err != nil {
				return err
			}
			log.Info("serving", "addr", lis.Addr().String(), "tls", opts.TLS != nil, "indexes", describe(snap.Layers), "digest", snap.Digest, "load_time", time.Since(start),
				"max_concurrent_solves", cfg.MaxConcurrentSolves, "max_queued_solves", cfg.MaxQueuedSolves)

			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					if len(indexes) == 0 {
						log.Info("reload skipped: serving the embedded index, which cannot change")
						continue
					}
					rl.reload(ctx, "SIGHUP")
				}
			}()
			if indexPoll > 0 && rl.polls() {
				go rl.poll(ctx, indexPoll)
			}

			served := make(chan error, 1)
			go func() { served <- gs.Serve(lis) }()
			select {
			case err := <-served:
				return &exitErr{exitError, err}
			case <-ctx.Done():
			}
			log.Info("shutting down: finishing calls in flight", "timeout", shutdownTimeout)
			gs.Health.Shutdown()
			webCtx, cancelWeb := context.WithTimeout(context.Background(), shutdownTimeout)
			web.shutdown(webCtx)
			cancelWeb()
			done := make(chan struct{})
			go func() { gs.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(shutdownTimeout):
				log.Warn("shutdown timeout: cancelling calls still running")
				gs.Stop()
			}
			log.Info("stopped")
			return nil
		},
	}
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:50051", "`ADDR` (host:port) to listen on; port 0 picks a free port")
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "index `FILE` or http(s):// URL to serve (JSON or binary; repeat to layer, first wins); default: the embedded index")
	cmd.Flags().DurationVar(&indexPoll, "index-poll", 30*time.Second, "how often to fetch --index URLs again (with If-None-Match) and swap in what changed; 0: only at SIGHUP")
	cmd.Flags().IntVar(&maxRequestBytes, "max-request-bytes", 1<<20, "largest request message accepted, in bytes")
	cmd.Flags().DurationVar(&shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long running calls may take to finish on shutdown")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().DurationVar(&maxSolveTime, "max-solve-time", server.DefaultMaxSolveTime, "cap on the time one call that resolves may take, its wait in the queue included; requests may ask for less")
	cmd.Flags().StringArrayVar(&registries, "registry", nil, registryUsage)
	ops.register(cmd)
	web.flags(cmd)
	return cmd
}

func newLogger(cmd *cobra.Command, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil)), nil
	}
	return nil, usageErr("--log-format %q: expected text or json", format)
}

func describe(l *index.Layers) []string {
	var out []string
	for _, ix := range l.Indexes() {
		st := ix.Stats()
		out = append(out, fmt.Sprintf("%s (%d flakes, %d versions)", ix.Origin, st.Flakes, st.Versions))
	}
	return out
}
