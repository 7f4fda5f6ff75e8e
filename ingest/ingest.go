// Package ingest is the ingest role: it turns bucket events into catalogue
// state. Every S3 event under products/<id>/ is only a trigger: the role
// re-reads that product from the bucket (level-triggered), validates it,
// hashes its inputs, stores the record in the products KV bucket and
// publishes one extraction job per modality whose content changed. Audio
// marked as speech is transcribed once per content (a job on
// jobs.speech.live for role extract:speech); its transcript, kept in KV
// transcripts, joins the record and the text the text block encodes.
// Deleted products are removed everywhere with embedding tombstones.
// Reconcile does the same for every product in the bucket, repairing lost
// notifications.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/internal/tracing"
	"github.com/omnirank/omnirank/metrics"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// Size limits for media objects; larger ones fail the product with a clear
// reason instead of reaching an extractor.
const (
	MaxImageBytes = 20 << 20
	MaxAudioBytes = 50 << 20
	// maxProductBytes is the largest product.json read.
	maxProductBytes = 1 << 20
)

// Ingestor is the ingest role.
type Ingestor struct {
	js       jetstream.JetStream
	store    storage.ObjectStore
	products jetstream.KeyValue
	errs     jetstream.KeyValue
	// transcripts holds what the recogniser heard in speech-marked audio.
	transcripts jetstream.KeyValue
	// campaigns holds the open re-embedding campaign, if any (dual write).
	campaigns jetstream.KeyValue
	spaces    *spaces.Store
	metrics   *metrics.Pipeline
	log       *slog.Logger
	tracer    trace.Tracer
	now       func() time.Time
}

// Option configures an Ingestor.
type Option func(*Ingestor) error

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(in *Ingestor) error {
		if l == nil {
			return option.Errorf("ingest: nil logger")
		}
		in.log = l
		return nil
	}
}

// WithMetrics records the role's work on m.
func WithMetrics(m *metrics.Pipeline) Option {
	return func(in *Ingestor) error {
		if m == nil {
			return option.Errorf("ingest: nil metrics")
		}
		in.metrics = m
		return nil
	}
}

// WithTracerProvider records a span per product sync ("ingest.sync") on
// tp, continuing the trace its S3 events carry (see package tracing).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(in *Ingestor) error {
		if tp == nil {
			return option.Errorf("ingest: nil tracer provider")
		}
		in.tracer = tracing.Tracer(tp)
		return nil
	}
}

// New opens the buckets the role needs (declared by topology.Ensure).
func New(ctx context.Context, js jetstream.JetStream, store storage.ObjectStore, opts ...Option) (*Ingestor, error) {
	in := &Ingestor{js: js, store: store, log: slog.Default(), tracer: tracing.Tracer(nil), now: time.Now}
	for _, o := range opts {
		if err := o(in); err != nil {
			return nil, err
		}
	}
	var err error
	if in.products, err = js.KeyValue(ctx, topology.BucketProducts); err != nil {
		return nil, fmt.Errorf("ingest: open products bucket: %w", err)
	}
	if in.errs, err = js.KeyValue(ctx, topology.BucketErrors); err != nil {
		return nil, fmt.Errorf("ingest: open errors bucket: %w", err)
	}
	if in.transcripts, err = js.KeyValue(ctx, topology.BucketTranscripts); err != nil {
		return nil, fmt.Errorf("ingest: open transcripts bucket: %w", err)
	}
	if in.campaigns, err = js.KeyValue(ctx, topology.BucketCampaigns); err != nil {
		return nil, fmt.Errorf("ingest: open campaigns bucket: %w", err)
	}
	if in.spaces, err = spaces.NewStore(ctx, js); err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	return in, nil
}

// Debounce is how long ingest waits, after the first event of a product
// reaches its worker, for more events of the same product (the rest of an
// upload: media first, product.json last), so that one sync covers them
// all. An event for product.json ends the wait at once, so the usual
// upload is never delayed; a lone media event is delayed by at most this.
const Debounce = 25 * time.Millisecond

// Run consumes S3 events until ctx ends. Events of one product that arrive
// together (waiting for the same worker, or within Debounce) are handled
// by one sync of the product; each message is acked only once a sync that
// started after it arrived has fully handled the product, and on a
// transient failure it is left for redelivery, so a crash loses nothing.
func (in *Ingestor) Run(ctx context.Context) error {
	cons, err := topology.Consumer(ctx, in.js, topology.StreamS3Events, topology.ConsumerIngest)
	if err != nil {
		return err
	}
	return topology.PullGroups(ctx, topology.PullConfig{Consumer: cons, Role: "ingest", Key: eventProduct, Workers: 8, Logger: in.log},
		func(g topology.Group) time.Duration { return in.handleGroup(ctx, g) })
}

// eventMsg is one S3 event message of a group, parsed.
type eventMsg struct {
	msg    jetstream.Msg
	meta   *jetstream.MsgMetadata
	events []storage.ObjectEvent
	ids    []string // products it names, in order, once each
}

// handleGroup syncs every product the group's events name, once each, and
// settles every message of the group; see Run.
func (in *Ingestor) handleGroup(ctx context.Context, g topology.Group) time.Duration {
	if left := Debounce - time.Since(g.Since); left > 0 && !namesProductJSON(g.Msgs) {
		return left
	}
	defer in.metrics.Observe("ingest", time.Now())
	var msgs []*eventMsg
	for _, msg := range g.Msgs {
		if em := in.parse(ctx, msg); em != nil {
			msgs = append(msgs, em)
		}
	}
	// One sync per product, with the newest revision and upload time of the
	// events naming it.
	type syncReq struct {
		rev      uint64
		uploaded time.Time
		key      string
		done     bool
		err      error
		// traces are the span contexts of the events naming the product
		// (the writers' spans), the first one the sync's parent.
		traces []trace.SpanContext
	}
	reqs := map[string]*syncReq{}
	var order []string
	for _, em := range msgs {
		sc := tracing.SpanContext(em.msg.Headers())
		for _, ev := range em.events {
			id, _, _ := storage.ProductIDFromKey(ev.Key)
			r := reqs[id]
			if r == nil {
				r = &syncReq{}
				reqs[id] = r
				order = append(order, id)
			}
			uploaded := ev.Time
			if uploaded.IsZero() {
				uploaded = em.meta.Timestamp
			}
			if sc.IsValid() && !slices.ContainsFunc(r.traces, sc.Equal) {
				r.traces = append(r.traces, sc)
			}
			r.rev = max(r.rev, em.meta.Sequence.Stream)
			if uploaded.After(r.uploaded) {
				r.uploaded, r.key = uploaded, ev.Key
			}
		}
	}
	for _, id := range order {
		if ctx.Err() != nil {
			break
		}
		r := reqs[id]
		r.err = in.syncTraced(ctx, id, r.rev, r.uploaded, r.traces)
		for attempt := 0; errors.Is(r.err, jetstream.ErrKeyExists) && attempt < 5; attempt++ {
			// Another worker wrote the record meanwhile (a message naming
			// several products): sync again on top of it.
			r.err = in.syncTraced(ctx, id, r.rev, r.uploaded, r.traces)
		}
		r.done = true
	}
	// Settle: a message is acked only when every product it names synced.
	for _, em := range msgs {
		var failed *syncReq
		failedID, stopped := "", false
		for _, id := range em.ids {
			r := reqs[id]
			switch {
			case !r.done:
				stopped = true
			case r.err != nil && failed == nil:
				failed, failedID = r, id
			}
		}
		switch {
		case stopped || (failed != nil && ctx.Err() != nil):
			_ = em.msg.Nak()
		case failed != nil:
			in.retry(ctx, em, failedID, failed.key, failed.err)
		default:
			if err := em.msg.DoubleAck(ctx); err != nil {
				in.log.Warn("ingest: ack", "err", err)
				continue
			}
			in.metrics.Done("ingest", "done", 1)
		}
	}
	return 0
}

// parse reads an S3 event message. Messages that can never be handled
// (not an S3 event; an object under products/ that does not name a
// product) are dead-lettered and settled here, and parse returns nil.
func (in *Ingestor) parse(ctx context.Context, msg jetstream.Msg) *eventMsg {
	meta, err := msg.Metadata()
	if err != nil {
		in.log.Error("ingest: message metadata", "err", err)
		_ = msg.Term()
		return nil
	}
	events, err := storage.ParseEvents(msg.Data())
	if err != nil {
		if in.deadLetter(ctx, topology.IngestError{Stage: "ingest", Reason: "malformed S3 event: " + err.Error(),
			Attempts: int(meta.NumDelivered)}, msg) {
			_ = msg.Term()
		}
		return nil
	}
	em := &eventMsg{msg: msg, meta: meta}
	seen := map[string]bool{}
	for _, ev := range events {
		if ev.Bucket != "" && ev.Bucket != in.store.Bucket() {
			continue
		}
		id, _, ok := storage.ProductIDFromKey(ev.Key)
		if !ok {
			if strings.HasPrefix(ev.Key, storage.ProductsPrefix) {
				// Under products/ but not products/<valid id>/<file>:
				// never silently dropped, always listed.
				if !in.deadLetter(ctx, topology.IngestError{ObjectKey: ev.Key, Stage: "ingest",
					Reason: "object key is not products/<id>/<file> with a valid product id (letters, digits, '.', '_', '-'; at most 128)"}, msg) {
					return nil // left for redelivery
				}
			}
			continue
		}
		em.events = append(em.events, ev)
		if !seen[id] {
			seen[id] = true
			em.ids = append(em.ids, id)
		}
	}
	return em
}

// retry leaves a message whose product failed to sync for redelivery with
// backoff, or dead-letters it once the outage has lasted too long.
func (in *Ingestor) retry(ctx context.Context, em *eventMsg, id, key string, err error) {
	delay := topology.RetryDelay(int(em.meta.NumDelivered))
	in.log.WarnContext(ctx, "ingest: sync product failed, will retry", "product", id, "attempt", em.meta.NumDelivered, "retry_in", delay, "err", err)
	// SyncProduct fails only when the bucket or NATS does (a bad product
	// is recorded, not returned): retry through outages.
	if int(em.meta.NumDelivered) >= topology.MaxTransientDeliver {
		if in.deadLetter(ctx, topology.IngestError{ProductID: id, ObjectKey: key, Stage: "ingest",
			Reason: err.Error(), Attempts: int(em.meta.NumDelivered)}, em.msg) {
			_ = em.msg.Term()
		}
		return
	}
	in.metrics.Failed("ingest", "transient")
	_ = em.msg.NakWithDelay(delay)
}

// namesProductJSON reports whether any of msgs is an event for a
// product.json, the object an upload writes last.
func namesProductJSON(msgs []jetstream.Msg) bool {
	for _, m := range msgs {
		evs, err := storage.ParseEvents(m.Data())
		if err != nil {
			return true // nothing to wait for
		}
		for _, ev := range evs {
			if _, file, ok := storage.ProductIDFromKey(ev.Key); !ok || file == storage.ProductFile {
				return true
			}
		}
	}
	return false
}

// eventProduct keys an S3 event message by the first product it names, so
// that events of one product are handled in order by one goroutine.
func eventProduct(msg jetstream.Msg) string {
	evs, err := storage.ParseEvents(msg.Data())
	if err != nil || len(evs) == 0 {
		return ""
	}
	id, _, _ := storage.ProductIDFromKey(evs[0].Key)
	return id
}

// SyncProduct brings the product's record and jobs in line with what the
// bucket holds now. It is idempotent: calling it twice publishes nothing new
// the second time. rev orders changes (the S3 event's stream sequence, or 0
// for a reconcile); uploadedAt starts the freshness clock. It records an
// "ingest.sync" span, a child of ctx's span if any (a reconcile's syncs
// each start a trace).
func (in *Ingestor) SyncProduct(ctx context.Context, id string, rev uint64, uploadedAt time.Time) error {
	return in.syncTraced(ctx, id, rev, uploadedAt, nil)
}

// syncTraced is SyncProduct under an "ingest.sync" span whose parent is
// the first of traces (the writer's span the S3 event carried), linked to
// the others, or ctx's span when traces is empty. The jobs it publishes
// carry the span, so extraction continues the trace.
func (in *Ingestor) syncTraced(ctx context.Context, id string, rev uint64, uploadedAt time.Time, traces []trace.SpanContext) error {
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("omnirank.product", id), attribute.Int64("omnirank.revision", int64(rev)))}
	if len(traces) > 0 {
		ctx = trace.ContextWithRemoteSpanContext(ctx, traces[0])
		for _, sc := range traces[1:] {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
	}
	ctx, span := in.tracer.Start(ctx, "ingest.sync", opts...)
	defer span.End()
	err := in.syncProduct(ctx, id, rev, uploadedAt)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "sync failed")
		return err
	}
	in.log.DebugContext(ctx, "product synced", "product", id, "revision", rev)
	return nil
}

func (in *Ingestor) syncProduct(ctx context.Context, id string, rev uint64, uploadedAt time.Time) error {
	data, err := in.store.GetObject(ctx, storage.ProductKey(id), maxProductBytes)
	if errors.Is(err, storage.ErrNotFound) {
		return in.deleteProduct(ctx, id, rev)
	}
	if errors.Is(err, storage.ErrTooLarge) {
		return in.fail(ctx, id, storage.ProductKey(id), fmt.Sprintf("product.json is larger than %d bytes", maxProductBytes), rev, uploadedAt)
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", storage.ProductKey(id), err)
	}
	p, err := storage.ParseProduct(data)
	if err != nil {
		return in.fail(ctx, id, storage.ProductKey(id), err.Error(), rev, uploadedAt)
	}
	if p.ID != id {
		return in.fail(ctx, id, storage.ProductKey(id), fmt.Sprintf("product id %q does not match its folder %q", p.ID, id), rev, uploadedAt)
	}
	hashes := map[string]string{}
	keys := map[string]string{}
	var speechKey, speechHash string
	for _, m := range p.Media {
		// The first medium of each kind feeds its block; the first audio
		// marked as speech is transcribed (usually the same one).
		_, taken := hashes[m.Kind]
		isSpeech := m.Kind == storage.MediaAudio && m.Speech && speechKey == ""
		if taken && !isSpeech {
			continue
		}
		key := storage.MediaKey(id, m.Key)
		info, err := in.store.StatObject(ctx, key)
		if errors.Is(err, storage.ErrNotFound) {
			return in.fail(ctx, id, key, fmt.Sprintf("missing media %s (%s)", m.Key, m.Kind), rev, uploadedAt)
		}
		if err != nil {
			return fmt.Errorf("stat %s: %w", key, err)
		}
		limit := int64(MaxImageBytes)
		if m.Kind == "audio" {
			limit = MaxAudioBytes
		}
		if info.Size > limit {
			return in.fail(ctx, id, key, fmt.Sprintf("%s media %s is %d bytes, over the %d-byte limit", m.Kind, m.Key, info.Size, limit), rev, uploadedAt)
		}
		h := fmt.Sprintf("%s-%d", strings.Trim(info.ETag, `"`), info.Size)
		if !taken {
			hashes[m.Kind], keys[m.Kind] = h, key
		}
		if isSpeech {
			speechKey, speechHash = key, h
		}
	}

	entry, old, err := in.record(ctx, id)
	if err != nil {
		return err
	}
	// The transcript of the speech audio, if it has one already: one KV
	// read per sync, a miss for products without speech (the read also
	// finds a stale transcript to delete once the speech is gone).
	trEntry, tr, err := in.transcript(ctx, id)
	if err != nil {
		return err
	}
	var recTr *topology.Transcript
	needTranscript := false
	switch {
	case speechHash == "":
	case tr != nil && tr.AudioHash == speechHash:
		if tr.Error == "" {
			recTr = tr
		} // else: this audio cannot be transcribed; not queued again
	default:
		needTranscript = true
		if old != nil && old.Transcript != nil && old.Transcript.AudioHash == speechHash {
			// Its KV entry was deleted (to transcribe again): the record
			// keeps this audio's transcript until the new one arrives.
			recTr = old.Transcript
		}
	}
	hashes["text"] = textHash(p, recTr)
	// The speech job goes out before the record that names its audio is
	// written (the record is the commit point: a crash in between leaves
	// the old record, so the next sync queues it again; the Msg-Id drops
	// the copy), when the audio is new to the record, while the product
	// is pending (a redelivered event after a crash), or when the record's
	// transcript is gone from KV (deleted to transcribe again, say with a
	// newer language model).
	queueSpeech := needTranscript && (old == nil || old.SpeechHash != speechHash || old.State == topology.StatePending ||
		recTr != nil)
	_, ie, err := in.errorRecord(ctx, id)
	if err != nil {
		return err
	}
	poison := poisoned(ie, old, hashes)
	changed := map[string]bool{}
	newContent := 0
	for m, h := range hashes {
		switch {
		case old == nil || old.Hashes[m] != h:
			changed[m] = true
			newContent++
		case m == poison:
			// Its extractor already dead-lettered this very content:
			// queueing it again would only dead-letter it again.
		case old.State == topology.StatePending || old.State == topology.StateFailed:
			changed[m] = true
		}
	}
	sameProduct := old != nil && equalJSON(old.Product, *p) && old.SpeechHash == speechHash && equalJSON(old.Transcript, recTr)
	if old != nil && newContent == 0 && sameProduct && len(old.Hashes) == len(hashes) && old.State != topology.StateFailed {
		// The same content: a duplicate or replayed event, or a reconcile.
		// A pending product's jobs go out again in case a crash lost them
		// (their Msg-Id drops those still on their way); the record stays
		// as it is, so the fusion of the jobs already done still matches
		// its revision and marks it indexed.
		if old.State == topology.StatePending {
			if err := in.publishJobs(ctx, *old, changed); err != nil {
				return err
			}
		}
		if queueSpeech {
			if err := in.publishSpeechJob(ctx, *old, speechKey); err != nil {
				return err
			}
		}
		if err := in.clearStaleTranscript(ctx, id, trEntry, speechHash); err != nil {
			return err
		}
		return in.clearStaleError(ctx, id, old, hashes)
	}
	rec := topology.ProductRecord{Product: *p, Hashes: hashes, Keys: keys, State: topology.StatePending,
		UploadedAt: uploadedAt, UpdatedAt: in.now(), SpeechHash: speechHash, Transcript: recTr}
	rec.Revision = rev
	if old != nil {
		rec.Revision = max(rev, old.Revision+1)
		if len(changed) == 0 {
			// Metadata only (price, attributes…): the embedding, and the
			// state with its error (partial: which input was rejected),
			// stay valid.
			rec.State, rec.Error = old.State, old.Error
		}
	}
	if queueSpeech {
		if err := in.publishSpeechJob(ctx, rec, speechKey); err != nil {
			return err
		}
	}
	if err := in.putRecord(ctx, id, rec, entry); err != nil {
		return err
	}
	if err := in.publishJobs(ctx, rec, changed); err != nil {
		return err
	}
	if err := in.clearStaleTranscript(ctx, id, trEntry, speechHash); err != nil {
		return err
	}
	return in.clearStaleError(ctx, id, old, hashes)
}

// publishSpeechJob queues the transcription of the record's speech audio
// (object key) for role extract:speech. Its Msg-Id names the product, the
// audio's hash and the record's revision, so the jobs of one audio queued
// twice for a record collapse (a job queued again for a later revision
// finds the transcript stored and transcribes nothing).
func (in *Ingestor) publishSpeechJob(ctx context.Context, rec topology.ProductRecord, key string) error {
	job := topology.Job{ProductID: rec.Product.ID, Modality: topology.SpeechModality, Revision: rec.Revision,
		ContentHash: rec.SpeechHash, Key: key, UploadedAt: rec.UploadedAt,
		TraceID: fmt.Sprintf("%s-%d", rec.Product.ID, rec.Revision)}
	data, err := json.Marshal(job)
	if err != nil {
		return fmt.Errorf("encode speech job: %w", err)
	}
	msgID := fmt.Sprintf("%s/%s/%s/%d", topology.SpeechModality, rec.Product.ID, rec.SpeechHash, rec.Revision)
	if _, err := in.js.Publish(ctx, topology.JobSubject(topology.SpeechModality, topology.LaneLive), data, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("publish speech job for %s: %w", rec.Product.ID, err)
	}
	return nil
}

// transcript reads the product's transcript, if any.
func (in *Ingestor) transcript(ctx context.Context, id string) (jetstream.KeyValueEntry, *topology.Transcript, error) {
	e, err := in.transcripts.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read transcript of %s: %w", id, err)
	}
	var tr topology.Transcript
	if err := json.Unmarshal(e.Value(), &tr); err != nil {
		// Unreadable: as good as none; the next transcript replaces it.
		in.log.Warn("ingest: undecodable transcript ignored", "product", id, "err", err)
		return e, nil, nil
	}
	return e, &tr, nil
}

// clearStaleTranscript deletes the product's transcript once the product
// has no speech audio any more (e is the entry read by this sync, nil if
// none).
func (in *Ingestor) clearStaleTranscript(ctx context.Context, id string, e jetstream.KeyValueEntry, speechHash string) error {
	if e == nil || speechHash != "" {
		return nil
	}
	err := in.transcripts.Delete(ctx, id, jetstream.LastRevision(e.Revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("delete transcript of %s: %w", id, err)
	}
	return nil
}

// publishJobs sends one job per changed modality for every target space.
func (in *Ingestor) publishJobs(ctx context.Context, rec topology.ProductRecord, changed map[string]bool) error {
	if len(changed) == 0 {
		return nil
	}
	targets, err := in.targetSpaces(ctx)
	if err != nil {
		return err
	}
	mods := make([]string, 0, len(changed))
	for m := range changed {
		mods = append(mods, m)
	}
	sort.Strings(mods)
	for _, sp := range targets {
		for _, m := range mods {
			blk, _, ok := sp.Block(m)
			if !ok {
				continue
			}
			job := topology.Job{ProductID: rec.Product.ID, Space: sp.Name, Modality: m, Model: blk.Model,
				Revision: rec.Revision, ContentHash: rec.Hashes[m], Key: rec.Keys[m],
				UploadedAt: rec.UploadedAt, TraceID: fmt.Sprintf("%s-%d", rec.Product.ID, rec.Revision)}
			if m == "text" {
				job.Text = ProductText(&rec.Product, rec.Transcript)
			}
			data, err := json.Marshal(job)
			if err != nil {
				return fmt.Errorf("encode job: %w", err)
			}
			msgID := fmt.Sprintf("%s/%s/%s/%s", sp.Name, rec.Product.ID, m, rec.Hashes[m])
			if _, err := tracing.Publish(ctx, in.js, topology.JobSubject(m, topology.LaneLive), data, jetstream.WithMsgID(msgID)); err != nil {
				return fmt.Errorf("publish %s job for %s: %w", m, rec.Product.ID, err)
			}
		}
	}
	return nil
}

// targetSpaces are the spaces new content is encoded into: the active one
// and, while a re-embedding campaign is open, the campaign's space and the
// space it started from (dual write: after a promotion the old space keeps
// up too, so a rollback loses nothing).
func (in *Ingestor) targetSpaces(ctx context.Context) ([]spaces.Space, error) {
	name, _, err := in.spaces.Active(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: %w", err)
	}
	names := []string{name}
	e, err := in.campaigns.Get(ctx, topology.CampaignKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
	case err != nil:
		return nil, fmt.Errorf("ingest: read campaign: %w", err)
	default:
		var c topology.Campaign
		if err := json.Unmarshal(e.Value(), &c); err != nil {
			return nil, fmt.Errorf("ingest: decode campaign: %w", err)
		}
		for _, n := range c.DualWriteSpaces() {
			if n != "" && !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	out := make([]spaces.Space, 0, len(names))
	for _, n := range names {
		sp, err := in.spaces.Get(ctx, n)
		if errors.Is(err, spaces.ErrNotFound) && n != name {
			continue // retired meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("ingest: %w", err)
		}
		out = append(out, sp)
	}
	return out, nil
}

func (in *Ingestor) deleteProduct(ctx context.Context, id string, rev uint64) error {
	entry, old, err := in.record(ctx, id)
	if err != nil {
		return err
	}
	trEntry, _, err := in.transcript(ctx, id)
	if err != nil {
		return err
	}
	if err := in.clearStaleTranscript(ctx, id, trEntry, ""); err != nil {
		return err
	}
	if old == nil {
		return in.clearError(ctx, id)
	}
	all, err := in.spaces.List(ctx)
	if err != nil {
		return err
	}
	tomb := max(rev, old.Revision+1)
	for _, sp := range all {
		data, _ := json.Marshal(topology.Embedding{ProductID: id, Space: sp.Name, Revision: tomb, Deleted: true, UploadedAt: in.now()})
		if _, err := tracing.Publish(ctx, in.js, topology.EmbSubject(sp.Name, id), data); err != nil {
			return fmt.Errorf("publish tombstone for %s in %s: %w", id, sp.Name, err)
		}
	}
	if err := in.products.Delete(ctx, id, jetstream.LastRevision(entry.Revision())); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("delete record %s: %w", id, err)
	}
	in.log.InfoContext(ctx, "product deleted", "product", id)
	return in.clearError(ctx, id)
}

// fail records a product that cannot be ingested as it stands. Whatever was
// indexed before stays searchable; the reason is listed for operators.
func (in *Ingestor) fail(ctx context.Context, id, key, reason string, rev uint64, uploadedAt time.Time) error {
	in.log.WarnContext(ctx, "product rejected", "product", id, "object", key, "reason", reason)
	in.metrics.Failed("ingest", "rejected")
	entry, old, err := in.record(ctx, id)
	if err != nil {
		return err
	}
	rec := topology.ProductRecord{Product: storage.Product{ID: id}, State: topology.StateFailed, Error: reason,
		Revision: rev, UploadedAt: uploadedAt, UpdatedAt: in.now()}
	if old != nil {
		rec = *old
		rec.State, rec.Error, rec.UpdatedAt = topology.StateFailed, reason, in.now()
	}
	if err := in.putRecord(ctx, id, rec, entry); err != nil {
		return err
	}
	return topology.RecordError(ctx, in.errs, topology.IngestError{ProductID: id, ObjectKey: key, Stage: "ingest", Reason: reason, Time: in.now()})
}

func (in *Ingestor) record(ctx context.Context, id string) (jetstream.KeyValueEntry, *topology.ProductRecord, error) {
	e, err := in.products.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read record %s: %w", id, err)
	}
	var rec topology.ProductRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, nil, fmt.Errorf("decode record %s: %w", id, err)
	}
	return e, &rec, nil
}

// putRecord writes with compare-and-swap against the entry read, so two
// ingest workers racing on one product cannot overwrite each other.
func (in *Ingestor) putRecord(ctx context.Context, id string, rec topology.ProductRecord, prev jetstream.KeyValueEntry) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record %s: %w", id, err)
	}
	if prev == nil {
		_, err = in.products.Create(ctx, id, data)
	} else {
		_, err = in.products.Update(ctx, id, data, prev.Revision())
	}
	if err != nil {
		return fmt.Errorf("write record %s (concurrent update?): %w", id, err)
	}
	return nil
}

// clearStaleError clears the product's error once its current content no
// longer has it: an ingest error is always stale after a good sync, but an
// extractor's error (an undecodable medium, dead-lettered) stands until
// that modality's content changes. Otherwise a replayed event or a
// reconcile would hide a product that is still broken.
func (in *Ingestor) clearStaleError(ctx context.Context, id string, old *topology.ProductRecord, hashes map[string]string) error {
	e, ie, err := in.errorRecord(ctx, id)
	if err != nil || e == nil || poisoned(ie, old, hashes) != "" {
		return err
	}
	err = in.errs.Delete(ctx, id, jetstream.LastRevision(e.Revision()))
	if err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyExists) {
		return fmt.Errorf("clear error of %s: %w", id, err)
	}
	return nil
}

// errorRecord reads the product's error record, if any.
func (in *Ingestor) errorRecord(ctx context.Context, id string) (jetstream.KeyValueEntry, *topology.IngestError, error) {
	e, err := in.errs.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read error of %s: %w", id, err)
	}
	var ie topology.IngestError
	if json.Unmarshal(e.Value(), &ie) != nil {
		return e, nil, nil
	}
	return e, &ie, nil
}

// poisoned returns the modality whose current content an extractor
// rejected as bad input ("" if none): that error stands until the content
// of that modality changes.
func poisoned(ie *topology.IngestError, old *topology.ProductRecord, hashes map[string]string) string {
	if ie == nil || old == nil {
		return ""
	}
	if m, ok := strings.CutPrefix(ie.Stage, "extract-"); ok && hashes[m] != "" && old.Hashes[m] == hashes[m] {
		return m
	}
	return ""
}

// clearError deletes the product's error record, if it has one (reading
// first: a delete of a missing key would still write a marker, and media
// events before a product.json come here for every new product).
func (in *Ingestor) clearError(ctx context.Context, id string) error {
	e, _, err := in.errorRecord(ctx, id)
	if err != nil || e == nil {
		return err
	}
	if err := in.errs.Delete(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("clear error of %s: %w", id, err)
	}
	return nil
}

// deadLetter sets msg aside with its reason and records the error for
// operators. It reports whether the dead letter was stored; if not, the
// caller must leave msg for redelivery.
func (in *Ingestor) deadLetter(ctx context.Context, ie topology.IngestError, msg jetstream.Msg) bool {
	ie.Time = in.now()
	in.metrics.Failed(ie.Stage, "dead_letter")
	if err := topology.PublishDeadLetter(ctx, in.js, ie, msg); err != nil {
		in.log.Error("ingest: dead letter not stored; leaving the event for redelivery", "err", err)
		topology.NakForRetry(msg)
		return false
	}
	if ie.ProductID != "" {
		if err := topology.RecordError(ctx, in.errs, ie); err != nil {
			in.log.ErrorContext(ctx, "ingest: record error", "product", ie.ProductID, "err", err)
		}
	}
	return true
}

// Reconcile lists the bucket and syncs every product found, and deletes the
// records of products no longer there. It repairs whatever lost
// notifications missed; run it at start and on a schedule.
func (in *Ingestor) Reconcile(ctx context.Context) (int, error) {
	keys, err := in.store.List(ctx, storage.ProductsPrefix)
	if err != nil {
		return 0, fmt.Errorf("reconcile: %w", err)
	}
	ids := map[string]bool{}
	for _, k := range keys {
		if id, _, ok := storage.ProductIDFromKey(k); ok {
			ids[id] = true
		}
	}
	known, err := in.products.ListKeys(ctx)
	if err == nil {
		for k := range known.Keys() {
			ids[k] = true
		}
	} else if !errors.Is(err, jetstream.ErrNoKeysFound) {
		return 0, fmt.Errorf("reconcile: list records: %w", err)
	}
	n := 0
	for id := range ids {
		if err := in.SyncProduct(ctx, id, 0, in.now()); err != nil {
			return n, fmt.Errorf("reconcile %s: %w", id, err)
		}
		n++
	}
	return n, nil
}

// ProductText is the text the text block encodes: the product's title,
// brand, category path and description, then the transcript of its speech
// audio when it has one (tr may be nil).
func ProductText(p *storage.Product, tr *topology.Transcript) string {
	var b strings.Builder
	b.WriteString(p.Title)
	if p.Brand != "" {
		b.WriteString(". " + p.Brand)
	}
	if len(p.Category) > 0 {
		b.WriteString(". " + strings.Join(p.Category, " > "))
	}
	if p.Description != "" {
		b.WriteString(". " + p.Description)
	}
	if tr != nil && tr.Error == "" && tr.Text != "" {
		b.WriteString(". " + tr.Text)
	}
	return b.String()
}

func textHash(p *storage.Product, tr *topology.Transcript) string {
	s := sha256.Sum256([]byte(ProductText(p, tr)))
	return hex.EncodeToString(s[:12])
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
