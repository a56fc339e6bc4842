package telemetry

import (
	"context"
	"encoding/hex"
	"net"
	"sync"
	"testing"
	"time"

	collectorpb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
)

// collector is an OTLP trace collector on loopback: it keeps the names
// of the spans it is sent, with their trace IDs.
type collector struct {
	collectorpb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans map[string][]byte // name → trace ID
}

func (c *collector) Export(_ context.Context, req *collectorpb.ExportTraceServiceRequest) (*collectorpb.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans[s.Name] = s.TraceId
			}
		}
	}
	return &collectorpb.ExportTraceServiceResponse{}, nil
}

// TestTracing: with tracing on, a call to a server is exported over OTLP
// as a span named by its method, in the trace of the caller's
// traceparent.
func TestTracing(t *testing.T) {
	col := &collector{spans: map[string][]byte{}}
	cs := grpc.NewServer()
	collectorpb.RegisterTraceServiceServer(cs, col)
	clis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go cs.Serve(clis)
	defer cs.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, shutdown, err := Tracing(ctx, clis.Addr().String(), true)
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.StatsHandler(h))
	healthpb.RegisterHealthServer(gs, health.NewServer())
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go gs.Serve(lis)
	defer gs.Stop()
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	call := metadata.AppendToOutgoingContext(ctx, "traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if _, err := healthpb.NewHealthClient(conn).Check(call, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if err := shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	id, ok := col.spans["grpc.health.v1.Health/Check"]
	if !ok || hex.EncodeToString(id) != traceID {
		t.Errorf("spans exported: %x; want grpc.health.v1.Health/Check in trace %s", col.spans, traceID)
	}
}
