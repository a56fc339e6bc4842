package server

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/flakeresolve/flakeresolve/internal/service"
	"github.com/flakeresolve/flakeresolve/internal/telemetry"
)

// maxLoggedMessage bounds the error text of a log line: a message may
// quote what the request said, and a request may be megabytes.
const maxLoggedMessage = 256

// accessLog writes one line per call, up to burst lines per method and
// code in each interval; the calls past that are counted, and a summary
// line per method and code says how many there were when the interval
// ends. Errors that are the server's fault (INTERNAL, UNKNOWN) are always
// written. So a quiet server logs every call, and one under load writes
// a bounded number of lines per interval, however many calls it answers.
type accessLog struct {
	face     string // "grpc" or "http", for the metrics
	log      *slog.Logger
	metrics  *telemetry.Metrics
	burst    int
	interval time.Duration

	mu     sync.Mutex
	window time.Time // when the current interval ends
	counts map[logKey]*logCount
}

type logKey struct{ method, code string }

type logCount struct {
	calls, written int
	took           time.Duration
}

func newAccessLog(face string, log *slog.Logger, m *telemetry.Metrics, burst int, interval time.Duration) *accessLog {
	return &accessLog{face: face, log: log, metrics: m, burst: burst, interval: interval, counts: map[logKey]*logCount{}}
}

// outcome is the call's real code: a handler that finished after its
// caller went away, or past its deadline, answered no one.
func outcome(ctx context.Context, err error) codes.Code {
	code := status.Code(err)
	if code == codes.OK && ctx.Err() != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return codes.DeadlineExceeded
		}
		return codes.Canceled
	}
	return code
}

// observe is the interceptor that counts, times and logs every call.
func (a *accessLog) observe(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	start := time.Now()
	done := func(string) {}
	if a.metrics != nil {
		done = a.metrics.RPCStarted(a.face, info.FullMethod)
	}
	var slot callSlot
	resp, err := handler(context.WithValue(ctx, callSlotKey{}, &slot), req)
	code := outcome(ctx, err)
	done(code.String())
	if slot.peer == "" {
		if p, ok := peer.FromContext(ctx); ok {
			slot.peer = p.Addr.String()
		}
	}
	var attrs []any
	if err != nil {
		attrs = []any{"error", truncate(status.Convert(err).Message())}
	}
	a.record(ctx, "rpc", info.FullMethod, code.String(), code == codes.Internal || code == codes.Unknown, slot, time.Since(start), attrs...)
	return resp, err
}

// truncate cuts a text that may quote a request to maxLoggedMessage.
func truncate(s string) string {
	if len(s) > maxLoggedMessage {
		return s[:maxLoggedMessage] + "…"
	}
	return s
}

// record writes the line of one call or request, msg, when its method and
// code have lines left in the interval; a server's fault always has.
// method and code must come from small sets (they key the counts).
func (a *accessLog) record(ctx context.Context, msg, method, code string, serverFault bool, slot callSlot, took time.Duration, more ...any) {
	now := time.Now()
	k := logKey{method, code}
	a.mu.Lock()
	if now.After(a.window) {
		a.flushLocked(ctx)
		a.window = now.Add(a.interval)
	}
	c := a.counts[k]
	if c == nil {
		c = &logCount{}
		a.counts[k] = c
	}
	c.calls++
	c.took += took
	write := c.written < a.burst || serverFault
	if write {
		c.written++
	}
	a.mu.Unlock()
	if !write {
		return
	}
	level := slog.LevelInfo
	if serverFault {
		level = slog.LevelError
	}
	attrs := []any{"method", method, "code", code, "duration", took, "face", a.face}
	if slot.caller != "" {
		attrs = append(attrs, "caller", slot.caller)
	}
	if slot.peer != "" {
		attrs = append(attrs, "peer", slot.peer)
	}
	a.log.Log(ctx, level, msg, append(attrs, more...)...)
}

// flushLocked writes a summary of each method and code whose calls were
// not all written, and starts a new interval.
func (a *accessLog) flushLocked(ctx context.Context) {
	for _, k := range slices.SortedFunc(maps.Keys(a.counts), func(x, y logKey) int {
		if x.method != y.method {
			return cmp.Compare(x.method, y.method)
		}
		return cmp.Compare(x.code, y.code)
	}) {
		c := a.counts[k]
		if dropped := c.calls - c.written; dropped > 0 {
			a.log.Log(ctx, slog.LevelInfo, "rpc summary", "method", k.method, "code", k.code, "calls", c.calls, "not_logged", dropped,
				"mean_duration", c.took/time.Duration(c.calls), "interval", a.interval, "face", a.face)
			if a.metrics != nil {
				a.metrics.LogSuppressed(k.method, k.code, dropped)
			}
		}
	}
	clear(a.counts)
}

// flush writes what the current interval holds, at shutdown.
func (a *accessLog) flush() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.flushLocked(context.Background())
}

// LogHTTP writes the line of one request of the HTTP face (msg "http"):
// its route (the pattern that matched, so the counts stay few), status,
// duration, path, caller and client, bounded as the call lines are and
// counted with the HTTP face's calls. The gRPC calls a request makes log
// their own lines.
func (s *Server) LogHTTP(r *http.Request, route string, code int, took time.Duration) {
	slot := callSlot{caller: service.CallerOf(r.Context()), peer: r.RemoteAddr}
	s.httpLog.record(r.Context(), "http", route, strconv.Itoa(code), code >= 500, slot, took, "request", truncate(r.Method+" "+r.URL.EscapedPath()))
}
