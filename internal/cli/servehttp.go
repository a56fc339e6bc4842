package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/flakeresolve/flakeresolve/internal/flakeref"
	"github.com/flakeresolve/flakeresolve/internal/httpapi"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
)

// httpFace is serve's HTTP face (internal/httpapi): its flags, and the
// server once started.
type httpFace struct {
	listen string
	minNix string
	srv    *http.Server
	stop   func()
}

func (f *httpFace) flags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.listen, "http-listen", "", "also serve HTTP on `ADDR` (host:port): the API as JSON (/v1/...), FlakeHub's requirement URLs (/f/OWNER/PROJECT/REQ.tar.gz) and listings")
	cmd.Flags().StringVar(&f.minNix, "min-nix", flakeref.NixEvery.String(), "the oldest Nix `VERSION` that must read the locks Nix writes from a requirement URL's Link header: which attributes the header carries (the default is the first from which Nix reads them all)")
}

// start serves HTTP when --http-listen is given, calling gs in memory
// (server.Server.InProcess): the same limits, admission and callers as
// gRPC. With the server's TLS configuration it serves HTTPS, with the
// same certificate and client certificates; bearer tokens never travel
// in plaintext over either face.
func (f *httpFace) start(gs *server.Server, svc *service.Service, maxRequestBytes int, tlsConf *tls.Config, log *slog.Logger) error {
	if f.listen == "" {
		return nil
	}
	nix, err := flakeref.ParseNixVersion(f.minNix)
	if err != nil {
		return usageErr("--min-nix: %v", err)
	}
	conn, stop, err := gs.InProcess()
	if err != nil {
		return &exitErr{exitError, err}
	}
	h, err := httpapi.Handler(context.Background(), conn, httpapi.Options{Layers: svc.LayersOf, Caller: gs.HTTPContext, Log: gs.LogHTTP, MinNix: nix, MaxBodyBytes: int64(maxRequestBytes), Logger: log})
	if err != nil {
		stop()
		return &exitErr{exitError, err}
	}
	lis, err := net.Listen("tcp", f.listen)
	if err != nil {
		stop()
		return &exitErr{exitError, fmt.Errorf("listening on %s: %w", f.listen, err)}
	}
	f.srv = &http.Server{Handler: withDigest(svc, h), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	serve := func() error { return f.srv.Serve(lis) }
	if tlsConf != nil {
		f.srv.TLSConfig = tlsConf.Clone()
		serve = func() error { return f.srv.ServeTLS(lis, "", "") }
	}
	f.stop = stop
	log.Info("serving HTTP", "addr", lis.Addr().String(), "tls", tlsConf != nil, "min_nix", nix.String())
	go func() {
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("HTTP server stopped", "error", err.Error())
		}
	}()
	return nil
}

// shutdown stops accepting HTTP requests and waits for those running, up
// to the deadline of ctx, before the gRPC server they call stops.
func (f *httpFace) shutdown(ctx context.Context) {
	if f.srv == nil {
		return
	}
	if err := f.srv.Shutdown(ctx); err != nil {
		f.srv.Close()
	}
	f.stop()
}
