package s3gw

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/internal/redact"
)

// eventPublisher publishes S3 event notifications for the gateway's object
// writes and deletes.
//
// It replaces versitygw's own NATS sender, which builds the event from
// strings that alias fasthttp's request buffer and marshals it on another
// goroutine after the request returns: the buffer is reused by the next
// request, a data race that can garble the key (the race detector reports
// it). This middleware copies what it needs and publishes synchronously,
// after the handler succeeded and before the client gets its response, as a
// JetStream publish when a stream captures the subject (so the event is
// stored before the write is acknowledged) and a plain publish otherwise.
type eventPublisher struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	subject string
	region  string
	log     *slog.Logger
	seq     atomic.Uint64
	// timeout bounds how long a write waits for its event to be stored.
	timeout time.Duration
	// instance makes event ids unique across gateway restarts.
	instance string

	// checked is when streamCaptures last asked JetStream (unix ns);
	// captured is its answer.
	checked  atomic.Int64
	captured atomic.Bool
}

func newEventPublisher(natsURL, subject, region string, timeout time.Duration, extra []nats.Option, log *slog.Logger) (*eventPublisher, error) {
	opts := append(slices.Clone(extra), nats.Name("omnirank-s3gw-events"), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	nc, err := nats.Connect(natsURL, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3gw: connect to NATS at %s for events: %w", redact.URL(natsURL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("s3gw: jetstream: %w", err)
	}
	return &eventPublisher{nc: nc, js: js, subject: subject, region: region, log: log,
		timeout: timeout, instance: strconv.FormatInt(time.Now().UnixNano(), 36)}, nil
}

func (p *eventPublisher) close() {
	_ = p.nc.Drain()
	p.nc.Close()
}

type eventRecord struct {
	EventVersion string    `json:"eventVersion"`
	EventSource  string    `json:"eventSource"`
	AwsRegion    string    `json:"awsRegion"`
	EventTime    string    `json:"eventTime"`
	EventName    string    `json:"eventName"`
	S3           eventS3   `json:"s3"`
	Source       eventFrom `json:"requestParameters"`
}

type eventFrom struct {
	SourceIP string `json:"sourceIPAddress"`
}

type eventS3 struct {
	SchemaVersion string      `json:"s3SchemaVersion"`
	Bucket        eventBucket `json:"bucket"`
	Object        eventObject `json:"object"`
}

type eventBucket struct {
	Name string `json:"name"`
	ARN  string `json:"arn"`
}

type eventObject struct {
	// Key is URL-encoded, as AWS and MinIO send it.
	Key       string `json:"key"`
	Size      int64  `json:"size,omitempty"`
	ETag      string `json:"eTag,omitempty"`
	Sequencer string `json:"sequencer"`
}

// middleware runs around every S3 request (mounted before versitygw decodes
// the URL, so the path is still escaped).
func (p *eventPublisher) middleware(c fiber.Ctx) error {
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil || status < 200 || status >= 300 {
		return err
	}
	method := c.Method()
	if method != http.MethodPut && method != http.MethodPost && method != http.MethodDelete {
		return nil
	}
	bucket, rawKey := splitPath(string(c.Request().URI().PathOriginal()))
	if bucket == "" {
		return nil
	}
	args := c.Request().URI().QueryArgs()
	var names, keys []string
	switch {
	case method == http.MethodPost && rawKey == "" && args.Has("delete"):
		for _, k := range deletedKeys(c.Response().Body()) {
			names, keys = append(names, "ObjectRemoved:Delete"), append(keys, k)
		}
	case rawKey == "" || isSubresource(args):
	case method == http.MethodPut && args.Has("partNumber"):
	case method == http.MethodPut:
		name := "ObjectCreated:Put"
		if len(c.Request().Header.Peek("X-Amz-Copy-Source")) > 0 {
			name = "ObjectCreated:Copy"
		}
		names, keys = append(names, name), append(keys, unescape(rawKey))
	case method == http.MethodPost && args.Has("uploadId"):
		names, keys = append(names, "ObjectCreated:CompleteMultipartUpload"), append(keys, unescape(rawKey))
	case method == http.MethodDelete && !args.Has("uploadId"):
		names, keys = append(names, "ObjectRemoved:Delete"), append(keys, unescape(rawKey))
	}
	if len(keys) == 0 {
		return nil
	}
	size := int64(0)
	if method == http.MethodPut {
		size = contentLength(c)
	}
	etag := strings.Trim(string(c.Response().Header.Peek("ETag")), `"`)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	msg := struct {
		Records []eventRecord `json:"Records"`
	}{}
	for i, k := range keys {
		rec := eventRecord{EventVersion: "2.2", EventSource: "omnirank:s3gw", AwsRegion: p.region, EventTime: now,
			EventName: names[i], Source: eventFrom{SourceIP: c.IP()},
			S3: eventS3{SchemaVersion: "1.0", Bucket: eventBucket{Name: bucket, ARN: "arn:aws:s3:::" + bucket},
				Object: eventObject{Key: url.QueryEscape(k), Sequencer: fmt.Sprintf("%016X", p.seq.Add(1))}}}
		if strings.HasPrefix(names[i], "ObjectCreated:") {
			rec.S3.Object.Size, rec.S3.Object.ETag = size, etag
		}
		msg.Records = append(msg.Records, rec)
	}
	data, merr := json.Marshal(msg)
	if merr != nil {
		p.log.Error("s3gw: encode event", "err", merr)
		return nil
	}
	if perr := p.publish(data, traceHeaders(c), bucket, keys); perr != nil {
		// The write is done but nothing will hear of it: fail the request
		// so the client retries it (S3 clients retry 503s) instead of
		// trusting a write the pipeline will not see until a reconcile.
		p.log.Warn("s3gw: event not stored; answering 503 so the client retries", "bucket", bucket, "keys", keys, "err", perr)
		c.Response().Reset()
		c.Status(http.StatusServiceUnavailable)
		c.Set("Content-Type", "application/xml")
		return c.SendString(xml.Header + "<Error><Code>ServiceUnavailable</Code><Message>" +
			"the object was written but its event notification could not be stored; retry the request</Message>" +
			"<Resource>/" + bucket + "</Resource></Error>")
	}
	return nil
}

// traceHeaders copies the W3C trace context the S3 request carried
// (traceparent, tracestate: omnirank's object store client sends its
// caller's span) into the event's NATS headers, so the ingest role
// continues the writer's trace. Nil when the request carried none.
func traceHeaders(c fiber.Ctx) nats.Header {
	var h nats.Header
	for _, k := range []string{"traceparent", "tracestate"} {
		if v := c.Request().Header.Peek(k); len(v) > 0 {
			if h == nil {
				h = nats.Header{}
			}
			h.Set(k, string(v)) // string() copies out of fasthttp's buffer
		}
	}
	return h
}

// publish stores the event through JetStream when a stream captures the
// subject, retrying for p.timeout (a NATS node failing over takes a few
// seconds: reconnect elsewhere, elect a stream leader), and returns an error when it could
// not: the caller then fails the S3 request. Without a capturing stream the
// event is published plainly (core NATS, at most once; the ingest role's
// reconcile repairs what is missed).
func (p *eventPublisher) publish(data []byte, header nats.Header, bucket string, keys []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
	defer cancel()
	if !p.streamCaptures(ctx) {
		if err := p.nc.PublishMsg(&nats.Msg{Subject: p.subject, Data: data, Header: header}); err != nil {
			p.log.Warn("s3gw: event not published", "bucket", bucket, "keys", keys, "err", err)
		}
		return nil
	}
	if header == nil {
		header = nats.Header{}
	}
	// One id for every attempt: an attempt whose ack was lost but which
	// was stored is not stored twice.
	header.Set(jetstream.MsgIDHeader, fmt.Sprintf("s3gw-%s-%d", p.instance, p.seq.Add(1)))
	msg := &nats.Msg{Subject: p.subject, Data: data, Header: header}
	wait := 100 * time.Millisecond
	for attempt := 1; ; attempt++ {
		actx, acancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := p.js.PublishMsg(actx, msg)
		acancel()
		if err == nil {
			if attempt > 1 {
				p.log.Info("s3gw: event stored after retries", "bucket", bucket, "keys", keys, "attempts", attempt)
			}
			return nil
		}
		if errors.Is(err, jetstream.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
			// The stream may have been deleted: look again next time.
			p.checked.Store(0)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("store event for %s/%s after %d attempts: %w", bucket, strings.Join(keys, ","), attempt, err)
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// streamCaptures reports, re-checking every few seconds, whether a
// JetStream stream captures the event subject. Only JetStream's answer
// "no such stream" makes it false: while NATS is unreachable it keeps its
// last answer, so an outage does not downgrade events to plain publishes.
func (p *eventPublisher) streamCaptures(ctx context.Context) bool {
	const recheck = 5 * time.Second
	now := time.Now().UnixNano()
	if last := p.checked.Load(); last != 0 && now-last < int64(recheck) {
		return p.captured.Load()
	}
	_, err := p.js.StreamNameBySubject(ctx, p.subject)
	switch {
	case err == nil:
		p.captured.Store(true)
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		p.captured.Store(false)
	case errors.Is(err, nats.ErrNoResponders) && !p.captured.Load():
		// No JetStream on this server (or not yet). Once a stream was
		// seen, no-responders is taken for a fail-over in progress.
		p.captured.Store(false)
	default:
		// Unknown (NATS down, no JetStream leader): keep the last answer
		// and ask again on the next event; before any answer, assume a
		// stream, so a write made during an outage is refused, not lost.
		return p.captured.Load() || p.checked.Load() == 0
	}
	p.checked.Store(now)
	return p.captured.Load()
}

// splitPath splits a path-style request path into bucket and escaped key.
func splitPath(path string) (bucket, key string) {
	path = strings.TrimPrefix(path, "/")
	bucket, key, _ = strings.Cut(path, "/")
	return strings.Clone(bucket), strings.Clone(key)
}

func unescape(raw string) string {
	if k, err := url.PathUnescape(raw); err == nil {
		return k
	}
	return raw
}

// isSubresource reports requests on an object's tagging, ACL, retention…
// which change no content.
func isSubresource(args interface{ Has(string) bool }) bool {
	for _, s := range []string{"tagging", "acl", "retention", "legal-hold", "attributes", "restore", "torrent", "uploads"} {
		if args.Has(s) {
			return true
		}
	}
	return false
}

func contentLength(c fiber.Ctx) int64 {
	if v := c.Request().Header.Peek("X-Amz-Decoded-Content-Length"); len(v) > 0 {
		if n, err := strconv.ParseInt(string(v), 10, 64); err == nil {
			return n
		}
	}
	return max(int64(c.Request().Header.ContentLength()), 0)
}

// deletedKeys reads the keys a DeleteObjects call removed from its response.
func deletedKeys(body []byte) []string {
	var res struct {
		Deleted []struct {
			Key string `xml:"Key"`
		} `xml:"Deleted"`
	}
	if err := xml.Unmarshal(body, &res); err != nil {
		return nil
	}
	out := make([]string, 0, len(res.Deleted))
	for _, d := range res.Deleted {
		out = append(out, d.Key)
	}
	return out
}
