package tracing_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/natsembed/natstest"
)

func recorder(t *testing.T) (*tracetest.SpanRecorder, trace.Tracer) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, tracing.Tracer(tp)
}

func TestHeaderCarrierRoundTrip(t *testing.T) {
	_, tr := recorder(t)
	ctx, span := tr.Start(context.Background(), "producer")
	defer span.End()
	want := span.SpanContext()

	h := nats.Header{}
	h.Set("Nats-Msg-Id", "keep-me")
	tracing.Inject(ctx, h)
	if h.Get("traceparent") == "" {
		t.Fatalf("no traceparent injected: %v", h)
	}
	if h.Get("Nats-Msg-Id") != "keep-me" {
		t.Fatalf("other headers changed: %v", h)
	}
	got := tracing.SpanContext(h)
	if got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || !got.IsRemote() || got.TraceFlags() != want.TraceFlags() {
		t.Fatalf("extracted %v, want %v (remote)", got, want)
	}

	for name, h := range map[string]nats.Header{"nil": nil, "empty": {}, "garbage": {"traceparent": {"00-zz-yy-01"}}} {
		if sc := tracing.SpanContext(h); sc.IsValid() {
			t.Errorf("%s headers gave a valid span context %v", name, sc)
		}
	}
	// No span in ctx: nothing injected.
	empty := nats.Header{}
	tracing.Inject(context.Background(), empty)
	if len(empty) != 0 {
		t.Fatalf("injected without a span: %v", empty)
	}
}

func TestPublishCarriesTraceThroughJetStream(t *testing.T) {
	js := natstest.JetStream(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}}); err != nil {
		t.Fatal(err)
	}
	_, tr := recorder(t)
	sctx, span := tr.Start(ctx, "producer")
	if _, err := tracing.Publish(sctx, js, "t.traced", []byte("a"), jetstream.WithMsgID("one")); err != nil {
		t.Fatal(err)
	}
	span.End()
	if _, err := tracing.Publish(ctx, js, "t.plain", []byte("b")); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	m, err := st.GetLastMsgForSubject(ctx, "t.traced")
	if err != nil {
		t.Fatal(err)
	}
	if got := tracing.SpanContext(m.Header); got.TraceID() != span.SpanContext().TraceID() || got.SpanID() != span.SpanContext().SpanID() {
		t.Fatalf("stored message carries %v, want %v", got, span.SpanContext())
	}
	if m.Header.Get(jetstream.MsgIDHeader) != "one" {
		t.Fatalf("publish options lost: %v", m.Header)
	}
	p, err := st.GetLastMsgForSubject(ctx, "t.plain")
	if err != nil {
		t.Fatal(err)
	}
	if p.Header.Get("traceparent") != "" {
		t.Fatalf("untraced publish carries %v", p.Header)
	}
}

func TestLogHandlerAddsTraceIDs(t *testing.T) {
	_, tr := recorder(t)
	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(tracing.LogHandler(slog.NewJSONHandler(&buf, nil)))).With("role", "test")
	ctx, span := tr.Start(context.Background(), "work")
	log.InfoContext(ctx, "with span", "product", "p1")
	span.End()
	log.Info("without span")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 lines, got %q", buf.String())
	}
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first[tracing.LogTraceID] != span.SpanContext().TraceID().String() || first[tracing.LogSpanID] != span.SpanContext().SpanID().String() || first["role"] != "test" {
		t.Fatalf("line with span: %v", first)
	}
	if _, ok := second[tracing.LogTraceID]; ok {
		t.Fatalf("line without span has a trace id: %v", second)
	}
	if strings.Count(lines[0], tracing.LogTraceID) != 1 {
		t.Fatalf("trace id added twice: %s", lines[0])
	}
}

func TestTransportSendsTraceparent(t *testing.T) {
	got := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Get("traceparent") }))
	defer srv.Close()
	client := &http.Client{Transport: tracing.Transport(nil)}
	_, tr := recorder(t)
	ctx, span := tr.Start(context.Background(), "upload")
	defer span.End()
	for _, c := range []context.Context{ctx, context.Background()} {
		req, err := http.NewRequestWithContext(c, http.MethodPut, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if req.Header.Get("traceparent") != "" {
			t.Fatal("the caller's request was changed")
		}
	}
	if tp := <-got; !strings.Contains(tp, span.SpanContext().TraceID().String()) {
		t.Fatalf("traced request sent traceparent %q", tp)
	}
	if tp := <-got; tp != "" {
		t.Fatalf("untraced request sent traceparent %q", tp)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  tracing.Config
		ok   bool
	}{
		{"zero", tracing.Config{}, true},
		{"none", tracing.Config{Exporter: "none"}, true},
		{"stdout", tracing.Config{Exporter: "stdout", SampleRatio: 1}, true},
		{"otlp endpoint", tracing.Config{Exporter: "otlp-grpc", Endpoint: "collector:4317", SampleRatio: 0.1}, true},
		{"unknown exporter", tracing.Config{Exporter: "jaeger"}, false},
		{"ratio above 1", tracing.Config{Exporter: "stdout", SampleRatio: 1.5}, false},
		{"ratio below 0", tracing.Config{Exporter: "stdout", SampleRatio: -0.1}, false},
		{"endpoint without otlp", tracing.Config{Exporter: "stdout", Endpoint: "x:1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, option.ErrInvalid)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestStdoutExporterFlushesOnShutdown: spans buffered by the batcher reach
// the writer when the provider shuts down; a disabled provider records
// nothing.
func TestStdoutExporterFlushesOnShutdown(t *testing.T) {
	var buf bytes.Buffer
	p, err := tracing.Start(context.Background(), tracing.Config{Exporter: tracing.ExporterStdout, SampleRatio: 1, Writer: &buf})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tracing.Tracer(p.TracerProvider()).Start(context.Background(), "flushed-span")
	span.End()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "flushed-span") || !strings.Contains(buf.String(), span.SpanContext().TraceID().String()) {
		t.Fatalf("stdout exporter wrote %q", buf.String())
	}

	off, err := tracing.Start(context.Background(), tracing.Config{Exporter: tracing.ExporterNone})
	if err != nil {
		t.Fatal(err)
	}
	if off.Enabled() {
		t.Fatal("exporter none is enabled")
	}
	_, s := tracing.Tracer(off.TracerProvider()).Start(context.Background(), "dropped")
	if s.IsRecording() || s.SpanContext().IsValid() {
		t.Fatal("a disabled provider records spans")
	}
	if err := off.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
