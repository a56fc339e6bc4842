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
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/flakeresolve/flakeresolve/index"
	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
)

func newServeCmd() *cobra.Command {
	var (
		listen          string
		indexes         []string
		maxRequestBytes int
		shutdownTimeout time.Duration
		maxSolveTime    time.Duration
		logFormat       string
		web             httpFace
		registries      []string
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the API (flakeresolve.v1.ResolverService) over gRPC",
		Long: `serve answers flakeresolve.v1.ResolverService over gRPC, with gRPC health
checking and server reflection (so grpcurl can list and call it).

Without --index it serves the embedded default index. With --index files
(repeatable; a flake in an earlier file hides the same name in later ones)
every file is loaded and validated before serving; an invalid file stops
the server from starting, with every problem listed.

SIGHUP reloads the --index files; if any is unreadable or invalid the old
indexes stay in service and the error is logged. SIGINT or SIGTERM stop
accepting calls, let running calls finish (up to --shutdown-timeout), and
exit 0.`,
		Example: `  flakeresolve serve
  flakeresolve serve --listen 127.0.0.1:50051 --index private.json --index public.json
  grpcurl -plaintext 127.0.0.1:50051 list
  grpcurl -plaintext -d '{"parent":"flakes/hyprutils","requirement":"^0.8"}' 127.0.0.1:50051 flakeresolve.v1.ResolverService/ListVersions`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := newLogger(cmd, logFormat)
			if err != nil {
				return err
			}
			load := func() (*index.Layers, error) { return service.LoadLayers(indexes, defaultindex.Load) }
			start := time.Now()
			layers, err := load()
			if err != nil {
				return &exitErr{exitError, fmt.Errorf("not starting: %w", err)}
			}
			indirect, err := registryLookup(registries)
			if err != nil {
				return err
			}
			svc := service.New(layers, service.Config{MaxSolveTime: maxSolveTime, Indirect: indirect})
			gs, hs := server.NewGRPCServer(svc, server.Options{MaxRecvBytes: maxRequestBytes, Logger: log})
			lis, err := net.Listen("tcp", listen)
			if err != nil {
				return &exitErr{exitError, fmt.Errorf("listening on %s: %w", listen, err)}
			}
			if err := web.start(gs, svc, maxRequestBytes, log); err != nil {
				return err
			}
			log.Info("serving", "addr", lis.Addr().String(), "indexes", describe(layers), "load_time", time.Since(start))

			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			hup := make(chan os.Signal, 1)
			signal.Notify(hup, syscall.SIGHUP)
			defer signal.Stop(hup)
			go func() {
				for range hup {
					if len(indexes) == 0 {
						log.Info("reload skipped: serving the embedded index, which cannot change")
						continue
					}
					fresh, err := load()
					if err != nil {
						log.Error("reload failed, keeping the indexes in service", "error", err.Error())
						continue
					}
					svc.Swap(fresh)
					log.Info("reloaded", "indexes", describe(fresh))
				}
			}()

			served := make(chan error, 1)
			go func() { served <- gs.Serve(lis) }()
			select {
			case err := <-served:
				return &exitErr{exitError, err}
			case <-ctx.Done():
			}
			log.Info("shutting down: finishing calls in flight", "timeout", shutdownTimeout)
			hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
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
	cmd.Flags().StringArrayVar(&indexes, "index", nil, "index `FILE` to serve (JSON or binary; repeat to layer, first wins); default: the embedded index")
	cmd.Flags().IntVar(&maxRequestBytes, "max-request-bytes", 1<<20, "largest request message accepted, in bytes")
	cmd.Flags().DurationVar(&shutdownTimeout, "shutdown-timeout", 10*time.Second, "how long running calls may take to finish on shutdown")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	cmd.Flags().DurationVar(&maxSolveTime, "max-solve-time", server.DefaultMaxSolveTime, "cap on the time one call that resolves may take; requests may ask for less")
	cmd.Flags().StringArrayVar(&registries, "registry", nil, registryUsage)
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
