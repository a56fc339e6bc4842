package cli

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/flakeresolve/flakeresolve/index/defaultindex"
	"github.com/flakeresolve/flakeresolve/internal/indexfetch"
	"github.com/flakeresolve/flakeresolve/internal/server"
	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/telemetry"
)

// fetchTimeout bounds one fetch of an index URL, body included: an index
// may be large, but a stalled server must not hold reloads forever.
const fetchTimeout = 2 * time.Minute

// reloader puts the indexes of --index in service, first at start and
// then at every SIGHUP and --index-poll tick, one reload at a time. A
// reload whose indexes cannot be read whole or do not validate keeps the
// ones in service.
type reloader struct {
	mu      sync.Mutex
	sources []*indexfetch.Source // none: the embedded index
	svc     *service.Service
	metrics *telemetry.Metrics
	log     *slog.Logger
	// failed is the digest of the bytes that last failed to parse, so a
	// poll that reads them again neither parses nor logs them again.
	failed string
}

func newReloader(indexes []string, metrics *telemetry.Metrics, log *slog.Logger) *reloader {
	return &reloader{sources: indexfetch.Sources(indexes, &http.Client{Timeout: fetchTimeout}), metrics: metrics, log: log}
}

// polls says whether any index is a URL, which --index-poll watches.
func (r *reloader) polls() bool {
	return slices.ContainsFunc(r.sources, func(s *indexfetch.Source) bool { return indexfetch.IsURL(s.Origin) })
}

func (r *reloader) read(ctx context.Context) ([]service.Layer, error) {
	if len(r.sources) == 0 {
		return []service.Layer{{Origin: defaultindex.Origin, Data: defaultindex.Bytes()}}, nil
	}
	return indexfetch.ReadAll(ctx, r.sources)
}

// first loads the indexes the server starts with.
func (r *reloader) first(ctx context.Context) (*service.Snapshot, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	layers, err := r.read(ctx)
	if err != nil {
		return nil, err
	}
	snap, err := service.ParseLayers(layers)
	if err != nil {
		return nil, err
	}
	r.metrics.IndexLoaded(snap.Digest, snap.Files, time.Since(start))
	return snap, nil
}

// reload reads the indexes again and swaps them in when their digest
// differs from the one served.
func (r *reloader) reload(ctx context.Context, why string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	start := time.Now()
	layers, err := r.read(ctx)
	if err != nil {
		r.metrics.Reloaded("failed")
		r.log.Error("reload failed, keeping the indexes in service", "trigger", why, "digest", r.svc.Digest(), "error", err.Error())
		return
	}
	digest := service.IndexDigest(layers)
	switch digest {
	case r.svc.Digest():
		r.metrics.Reloaded("unchanged")
		return
	case r.failed:
		r.metrics.Reloaded("failed")
		return
	}
	snap, err := service.ParseLayers(layers)
	if err != nil {
		r.failed = digest
		r.metrics.Reloaded("failed")
		r.log.Error("reload failed, keeping the indexes in service", "trigger", why, "digest", r.svc.Digest(), "rejected_digest", digest, "error", err.Error())
		return
	}
	r.svc.Swap(snap.Layers, snap.Digest)
	r.metrics.IndexLoaded(snap.Digest, snap.Files, time.Since(start))
	r.metrics.Reloaded("swapped")
	r.log.Info("reloaded", "trigger", why, "digest", snap.Digest, "indexes", describe(snap.Layers), "load_time", time.Since(start))
}

// poll reloads every interval until ctx ends.
func (r *reloader) poll(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reload(ctx, "poll")
		}
	}
}

// withDigest puts the digest served in the header of every HTTP response,
// as the gRPC face does in its metadata.
func withDigest(svc *service.Service, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		w.Header().Set(server.IndexDigestKey, svc.Digest())
		h.ServeHTTP(w, req)
	})
}
