// Package tracing owns omnirank's OpenTelemetry traces: the tracer
// provider built from `serve`'s flags (Config, Start; exporter none,
// stdout, otlp-grpc or otlp-http; ratio sampling that follows the parent's
// decision), W3C trace-context propagation (Propagator) into and out of
// NATS message headers (HeaderCarrier, Inject, Extract, Publish) and HTTP
// requests (Transport: the object store's requests, so an upload's trace
// reaches the S3 event), and a slog.Handler that adds trace_id and span_id
// to every record logged with a context carrying a span (LogHandler).
//
// Nothing here sets OpenTelemetry's global provider or propagator: the
// provider is passed down through server.Config to every role, and the
// propagator is the stateless W3C TraceContext value below.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/omnirank/omnirank/internal/option"
)

// Exporters: where spans go.
const (
	ExporterNone     = "none" // no provider: spans are not recorded (the default)
	ExporterStdout   = "stdout"
	ExporterOTLPGRPC = "otlp-grpc"
	ExporterOTLPHTTP = "otlp-http"
)

// Exporters lists the accepted Config.Exporter values.
var Exporters = []string{ExporterNone, ExporterStdout, ExporterOTLPGRPC, ExporterOTLPHTTP}

// InstrumentationName names omnirank's tracer.
const InstrumentationName = "github.com/omnirank/omnirank"

// Propagator is the W3C Trace Context propagator (traceparent,
// tracestate) every hop uses. It is a stateless value, not a global
// setting.
var Propagator propagation.TextMapPropagator = propagation.TraceContext{}

// Config is the tracing part of `omnirank serve`'s flags.
type Config struct {
	// Exporter is one of Exporters; "" means none.
	Exporter string
	// Endpoint of the OTLP collector: host:port (TLS), or an http:// or
	// https:// URL. Empty: the OTEL_EXPORTER_OTLP_* environment variables,
	// else the exporter's default (localhost:4317 / localhost:4318).
	Endpoint string
	// SampleRatio is the share of new traces recorded (0..1); a span with a
	// parent follows the parent's decision.
	SampleRatio float64
	// Service is the service.name resource attribute (default "omnirank").
	Service string
	// Attributes are added to the resource (e.g. the process's roles).
	Attributes []attribute.KeyValue
	// Writer receives the stdout exporter's spans (default os.Stdout).
	Writer io.Writer
	// Synchronous exports each span when it ends instead of in batches:
	// for short-lived clients (the CLI), which then need no Shutdown.
	Synchronous bool
}

// Validate reports the first invalid field, wrapping option.ErrInvalid.
func (c Config) Validate() error {
	if c.Exporter != "" && !slices.Contains(Exporters, c.Exporter) {
		return option.Errorf("tracing: exporter %q (want one of %s)", c.Exporter, strings.Join(Exporters, ", "))
	}
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return option.Errorf("tracing: sample ratio %v out of 0..1", c.SampleRatio)
	}
	if c.Endpoint != "" && c.Exporter != ExporterOTLPGRPC && c.Exporter != ExporterOTLPHTTP {
		return option.Errorf("tracing: an endpoint needs an otlp exporter (have %q)", c.Exporter)
	}
	return nil
}

// Enabled reports whether c records spans.
func (c Config) Enabled() bool { return c.Exporter != "" && c.Exporter != ExporterNone }

// Provider is a started tracer provider.
type Provider struct {
	tp  trace.TracerProvider
	sdk *sdktrace.TracerProvider // nil when disabled
}

// Disabled is a provider that records nothing (OpenTelemetry's no-op).
func Disabled() *Provider { return &Provider{tp: noop.NewTracerProvider()} }

// Start builds the tracer provider c describes. Shut it down to flush.
func Start(ctx context.Context, c Config) (*Provider, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return Disabled(), nil
	}
	exp, err := newExporter(ctx, c)
	if err != nil {
		return nil, err
	}
	service := c.Service
	if service == "" {
		service = "omnirank"
	}
	res, err := resource.New(ctx, resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost(),
		resource.WithAttributes(append([]attribute.KeyValue{attribute.String("service.name", service)}, c.Attributes...)...))
	if err != nil && res == nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	export := sdktrace.WithBatcher(exp)
	if c.Synchronous {
		export = sdktrace.WithSyncer(exp)
	}
	sdk := sdktrace.NewTracerProvider(
		export,
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.SampleRatio))),
	)
	return &Provider{tp: sdk, sdk: sdk}, nil
}

func newExporter(ctx context.Context, c Config) (sdktrace.SpanExporter, error) {
	hasScheme := strings.Contains(c.Endpoint, "://")
	switch c.Exporter {
	case ExporterStdout:
		w := c.Writer
		if w == nil {
			w = os.Stdout
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(w))
		if err != nil {
			return nil, fmt.Errorf("tracing: stdout exporter: %w", err)
		}
		return exp, nil
	case ExporterOTLPGRPC:
		var opts []otlptracegrpc.Option
		switch {
		case hasScheme:
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
		case c.Endpoint != "":
			opts = append(opts, otlptracegrpc.WithEndpoint(c.Endpoint))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP/gRPC exporter: %w", err)
		}
		return exp, nil
	default: // ExporterOTLPHTTP
		var opts []otlptracehttp.Option
		switch {
		case hasScheme:
			opts = append(opts, otlptracehttp.WithEndpointURL(c.Endpoint))
		case c.Endpoint != "":
			opts = append(opts, otlptracehttp.WithEndpoint(c.Endpoint))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP/HTTP exporter: %w", err)
		}
		return exp, nil
	}
}

// TracerProvider is the provider to hand to roles and otelgrpc.
func (p *Provider) TracerProvider() trace.TracerProvider { return p.tp }

// Enabled reports whether spans are recorded and exported.
func (p *Provider) Enabled() bool { return p.sdk != nil }

// ShutdownTimeout bounds Shutdown when the caller's context has no
// deadline.
const ShutdownTimeout = 5 * time.Second

// Shutdown flushes the spans still buffered to the exporter and stops it,
// waiting at most until ctx ends (or ShutdownTimeout without a deadline).
func (p *Provider) Shutdown(ctx context.Context) error {
	if p == nil || p.sdk == nil {
		return nil
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ShutdownTimeout)
		defer cancel()
	}
	if err := p.sdk.Shutdown(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tracing: flush spans: %w", err)
	}
	return nil
}

// Tracer returns omnirank's tracer from tp, or a no-op one for nil.
func Tracer(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer(InstrumentationName)
}

// GRPCOptions configures otelgrpc's stats handlers (server and client)
// with tp and Propagator, and a no-op meter provider: otelgrpc's own
// metrics are not exported (the ranker's latency histogram is in
// Prometheus), and nothing falls back to OpenTelemetry's globals.
func GRPCOptions(tp trace.TracerProvider) []otelgrpc.Option {
	return []otelgrpc.Option{otelgrpc.WithTracerProvider(tp), otelgrpc.WithPropagators(Propagator),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider())}
}
