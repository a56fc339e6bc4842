// Package telemetry is what an operator of `flakeresolve serve` watches:
// Prometheus metrics of the calls, the solves, the admission queue and
// the indexes, and the admin HTTP handler that serves them with pprof.
//
// The metrics live in a registry of their own, not the process's global
// one, so that two servers in one process (tests) count apart. Metrics
// implements service.Observer, so every face of the API (gRPC, HTTP)
// reports the same solves and queue; a face reports its own calls through
// RPC.
package telemetry

import (
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/flakeresolve/flakeresolve/solver"
)

// Metrics are one server's metrics.
type Metrics struct {
	reg *prometheus.Registry

	rpcs        *prometheus.CounterVec
	rpcLatency  *prometheus.HistogramVec
	inFlight    *prometheus.GaugeVec
	solves      *prometheus.CounterVec
	solveTime   *prometheus.HistogramVec
	solveSize   *prometheus.HistogramVec
	objective   *prometheus.HistogramVec
	memory      prometheus.Histogram
	queueWait   *prometheus.HistogramVec
	running     prometheus.Gauge
	waiting     prometheus.Gauge
	indexInfo   *prometheus.GaugeVec
	indexDigest *prometheus.GaugeVec
	reloads     *prometheus.CounterVec
	indexLoad   prometheus.Gauge
	indexLoaded prometheus.Gauge
	logDropped  *prometheus.CounterVec
}

// latency buckets span a cached ListVersions (under a millisecond) to a
// solve at the default cap (10 s).
var latency = prometheus.ExponentialBuckets(0.0005, 2.5, 14)

// New registers a server's metrics, with Go's runtime and process
// collectors (heap, goroutines, RSS).
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) { m.reg.MustRegister(c) }
	f(collectors.NewGoCollector())
	f(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.rpcs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flakeresolve_rpcs_total", Help: "Calls answered, by face (grpc, http), method and status code; a call whose caller went away or whose deadline passed counts as Canceled or DeadlineExceeded even when the handler finished."}, []string{"face", "method", "code"})
	m.rpcLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flakeresolve_rpc_duration_seconds", Help: "Time to answer a call, by face and method.", Buckets: latency}, []string{"face", "method"})
	m.inFlight = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "flakeresolve_rpcs_in_flight", Help: "Calls being answered, by face and method."}, []string{"face", "method"})
	m.solves = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flakeresolve_solves_total", Help: "Resolutions, by outcome (ok, conflict, invalid, not_found, deadline, canceled, limit_*)."}, []string{"outcome"})
	m.solveTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flakeresolve_solve_duration_seconds", Help: "Time of one resolution, by outcome.", Buckets: latency}, []string{"outcome"})
	m.solveSize = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flakeresolve_solve_problem_size", Help: "Size of a resolution's problem, by measure (reachable versions, candidates, variables, constraints).", Buckets: prometheus.ExponentialBuckets(1, 4, 12)}, []string{"measure"})
	m.objective = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flakeresolve_solve_objective_gap", Help: "Per criterion of an answer's objective, its value less the lower bound proven (0: proven optimal).", Buckets: []float64{0, 1, 2, 4, 8, 16, 64, 256}}, []string{"criterion"})
	m.memory = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "flakeresolve_solve_memory_bytes", Help: "Estimated memory of a resolution's problem (ResolveStats.memory_bytes).", Buckets: prometheus.ExponentialBuckets(1<<10, 4, 12)})
	m.queueWait = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "flakeresolve_admission_wait_seconds", Help: "Time a call that resolves waited for a place to solve, by whether it got one.", Buckets: latency}, []string{"admitted"})
	m.running = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flakeresolve_admission_running", Help: "Resolving calls holding a place to solve."})
	m.waiting = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flakeresolve_admission_queue_length", Help: "Resolving calls waiting for a place to solve."})
	m.indexInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "flakeresolve_index_info", Help: "The indexes served (1 each), by origin and SHA-256 digest of the file (\"embedded\" for the built-in index)."}, []string{"origin", "digest"})
	m.indexDigest = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "flakeresolve_index_digest_info", Help: "The index snapshot served (1): its digest, the SHA-256 of the index files' bytes in layer order, which every response carries in its flakeresolve-index-digest header."}, []string{"digest"})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flakeresolve_index_reloads_total", Help: "Reloads of the indexes (SIGHUP or --index-poll), by outcome: swapped, unchanged (same digest, or 304 Not Modified), failed (the indexes in service kept)."}, []string{"outcome"})
	m.indexLoad = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flakeresolve_index_load_duration_seconds", Help: "Time the indexes in service took to load and validate."})
	m.indexLoaded = prometheus.NewGauge(prometheus.GaugeOpts{Name: "flakeresolve_index_loaded_timestamp_seconds", Help: "When the indexes in service were loaded (Unix time)."})
	m.logDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "flakeresolve_access_log_suppressed_total", Help: "Access log lines not written (their calls are summarised per interval), by method and code."}, []string{"method", "code"})
	for _, c := range []prometheus.Collector{m.rpcs, m.rpcLatency, m.inFlight, m.solves, m.solveTime, m.solveSize, m.objective, m.memory, m.queueWait, m.running, m.waiting, m.indexInfo, m.indexDigest, m.reloads, m.indexLoad, m.indexLoaded, m.logDropped} {
		f(c)
	}
	return m
}

// Registry is where the metrics are registered, for the admin handler and
// for tests that read them.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RPCStarted counts a call in flight; the function it returns ends it with
// its status code.
func (m *Metrics) RPCStarted(face, method string) func(code string) {
	start := time.Now()
	g := m.inFlight.WithLabelValues(face, method)
	g.Inc()
	return func(code string) {
		g.Dec()
		m.rpcs.WithLabelValues(face, method, code).Inc()
		m.rpcLatency.WithLabelValues(face, method).Observe(time.Since(start).Seconds())
	}
}

// LogSuppressed counts access log lines not written.
func (m *Metrics) LogSuppressed(method, code string, n int) {
	m.logDropped.WithLabelValues(method, code).Add(float64(n))
}

// Solved implements service.Observer.
func (m *Metrics) Solved(outcome string, s solver.Stats) {
	m.solves.WithLabelValues(outcome).Inc()
	m.solveTime.WithLabelValues(outcome).Observe(s.Duration.Seconds())
	if s.Reachable == 0 {
		return // refused before it was measured
	}
	for _, x := range []struct {
		name string
		v    int
	}{{"reachable_versions", s.Reachable}, {"candidates", s.Candidates}, {"variables", s.Variables}, {"constraints", s.Clauses}} {
		m.solveSize.WithLabelValues(x.name).Observe(float64(x.v))
	}
	m.memory.Observe(float64(s.Memory))
	for _, b := range s.Objective {
		m.objective.WithLabelValues(b.Criterion.String()).Observe(float64(b.Value - b.Lower))
	}
}

// AdmissionWait implements service.Observer.
func (m *Metrics) AdmissionWait(wait time.Duration, admitted bool) {
	label := "false"
	if admitted {
		label = "true"
	}
	m.queueWait.WithLabelValues(label).Observe(wait.Seconds())
}

// AdmissionState implements service.Observer.
func (m *Metrics) AdmissionState(running, waiting int) {
	m.running.Set(float64(running))
	m.waiting.Set(float64(waiting))
}

// IndexLoaded records the indexes put in service: the snapshot's digest,
// each origin with its file's digest, and how long loading took.
func (m *Metrics) IndexLoaded(digest string, files map[string]string, took time.Duration) {
	m.indexDigest.Reset()
	m.indexDigest.WithLabelValues(digest).Set(1)
	m.indexInfo.Reset()
	for origin, d := range files {
		m.indexInfo.WithLabelValues(origin, d).Set(1)
	}
	m.indexLoad.Set(took.Seconds())
	m.indexLoaded.Set(float64(time.Now().Unix()))
}

// Reloaded counts a reload by its outcome: "swapped", "unchanged" or
// "failed".
func (m *Metrics) Reloaded(outcome string) { m.reloads.WithLabelValues(outcome).Inc() }

// AdminHandler serves /metrics (Prometheus text format) and
// /debug/pprof/ (Go's profiler). It belongs on a listener of its own,
// reachable by operators only: profiles show the program's internals and
// cost CPU to take.
func (m *Metrics) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg}))
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
