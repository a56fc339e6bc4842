package telemetry

import (
	"context"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"google.golang.org/grpc/stats"
)

// Tracing sends a span of every call the server answers, over either
// face, to the OpenTelemetry collector at endpoint (host:port, OTLP over
// gRPC; TLS with the system's roots unless insecure). A caller's W3C
// trace context (traceparent) makes the span a child of the caller's.
// The spans are the gRPC server's stats handler; shutdown sends those
// still buffered. Tracing is off unless asked for: it is one more
// connection out of the server, to a collector the operator runs.
func Tracing(ctx context.Context, endpoint string, insecure bool) (h stats.Handler, shutdown func(context.Context) error, err error) {
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(endpoint)}
	if insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	exp, err := otlptracegrpc.New(ctx, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter for %s: %w", endpoint, err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "flakeresolve"))))
	h = otelgrpc.NewServerHandler(otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(propagation.TraceContext{}))
	return h, tp.Shutdown, nil
}
