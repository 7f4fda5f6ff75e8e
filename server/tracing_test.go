package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"

	"github.com/omnirank/omnirank/internal/tracing"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

func spanAttr(s sdktrace.ReadOnlySpan, key string) string {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value.String()
		}
	}
	return ""
}

// TestTraceFollowsProductThroughPipeline uploads one product through
// CatalogService with a recording tracer provider and checks that its one
// trace holds the upload, the ingest sync, one extraction per modality,
// fusion and the ranker's index apply, each the child of (or linked from)
// the stage before; that a log line of its processing carries the trace
// id; and that /metrics has the Recommend latency histogram by kind and
// code.
func TestTraceFollowsProductThroughPipeline(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var logs syncBuffer
	cfg := testConfig(t.TempDir())
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.TracerProvider = tp
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	e := startWith(t, cfg)
	srv := e.srv
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	p := catalogue[0] // text, image and audio
	if !p.audio {
		t.Fatal("want a product with audio")
	}
	if _, err := e.cat.Upsert(ctx, p.upsert(t)); err != nil {
		t.Fatal(err)
	}
	var upload sdktrace.ReadOnlySpan
	var inTrace []sdktrace.ReadOnlySpan
	waitFor(t, 60*time.Second, "the product's trace to reach the ranker's index", func() bool {
		upload, inTrace = nil, nil
		ended := rec.Ended()
		for _, s := range ended {
			if s.Name() == "omnirank.v1.CatalogService/Upsert" {
				upload = s
			}
		}
		if upload == nil {
			return false
		}
		searchable := false
		for _, s := range ended {
			if s.SpanContext().TraceID() == upload.SpanContext().TraceID() {
				inTrace = append(inTrace, s)
				searchable = searchable || s.Name() == "ranker.index"
			}
		}
		return searchable
	})
	byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range inTrace {
		byID[s.SpanContext().SpanID()] = s
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	parentName := func(s sdktrace.ReadOnlySpan) string {
		if p, ok := byID[s.Parent().SpanID()]; ok && s.Parent().IsValid() {
			return p.Name()
		}
		return "(none)"
	}
	if upload.Parent().IsValid() {
		t.Errorf("the upload span has a parent: %v", upload.Parent())
	}
	if len(byName["ingest.sync"]) == 0 {
		t.Fatalf("no ingest.sync span in the upload's trace; spans: %v", names(inTrace))
	}
	for _, s := range byName["ingest.sync"] {
		if s.Parent().SpanID() != upload.SpanContext().SpanID() {
			t.Errorf("ingest.sync's parent is %s, want the upload", parentName(s))
		}
		if got := spanAttr(s, "omnirank.product"); got != p.id {
			t.Errorf("ingest.sync names product %q", got)
		}
	}
	extracts := map[trace.SpanID]bool{}
	for _, m := range []string{"text", "image", "audio"} {
		spans := byName["extract."+m]
		if len(spans) == 0 {
			t.Errorf("no extract.%s span in the trace; spans: %v", m, names(inTrace))
		}
		for _, s := range spans {
			extracts[s.SpanContext().SpanID()] = true
			if parentName(s) != "ingest.sync" {
				t.Errorf("extract.%s's parent is %s, want ingest.sync", m, parentName(s))
			}
		}
	}
	// Every extraction feeds a fusion span: as its parent or a link.
	fed := map[trace.SpanID]bool{}
	for _, s := range byName["fusion"] {
		if !extracts[s.Parent().SpanID()] {
			t.Errorf("fusion's parent is %s, want an extract span", parentName(s))
		}
		fed[s.Parent().SpanID()] = true
		for _, l := range s.Links() {
			fed[l.SpanContext.SpanID()] = true
		}
	}
	for id := range extracts {
		if !fed[id] {
			t.Errorf("extract span %s (%s) is neither parent nor link of a fusion span", id, byID[id].Name())
		}
	}
	for _, s := range byName["ranker.index"] {
		if parentName(s) != "fusion" {
			t.Errorf("ranker.index's parent is %s, want fusion", parentName(s))
		}
		if got := spanAttr(s, "omnirank.product"); got != p.id {
			t.Errorf("ranker.index names product %q", got)
		}
	}

	// A log line of the product's processing carries its trace id.
	traceID := upload.SpanContext().TraceID().String()
	found := false
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec[tracing.LogTraceID] == traceID && rec["product"] == p.id {
			found = true
			break
		}
	}
	if !found {
		t.Errorf("no log line with product %s carries trace_id %s", p.id, traceID)
	}

	// Recommend latency by kind and code.
	if _, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryText: "running shoes", K: 3}); err != nil {
		t.Fatal(err)
	}
	_, err := e.rank.Recommend(ctx, &pb.RecommendRequest{K: 3})
	wantCode(t, "empty Recommend", err, codes.InvalidArgument)
	metrics := httpGetBody(t, "http://"+srv.HTTPAddr()+"/metrics")
	for _, want := range []string{
		`omnirank_recommend_duration_seconds_count{code="OK",kind="text"} 1`,
		`omnirank_recommend_duration_seconds_count{code="InvalidArgument",kind="browse"} 1`,
		`omnirank_recommend_duration_seconds_bucket{code="OK",kind="text",le="0.0005"}`,
		`omnirank_recommend_duration_seconds_bucket{code="OK",kind="text",le="2"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, grepLines(metrics, "omnirank_recommend_duration_seconds_count"))
		}
	}
	// The Recommend calls are traced too, by otelgrpc.
	waitFor(t, 10*time.Second, "a Recommend server span", func() bool {
		for _, s := range rec.Ended() {
			if s.Name() == "omnirank.v1.RankerService/Recommend" {
				return true
			}
		}
		return false
	})
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name()
	}
	return out
}

func httpGetBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}
