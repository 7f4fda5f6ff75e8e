// Package transcribe is the extract:speech role: it consumes the
// speech-to-text jobs ingest queues for product audio marked as speech
// (jobs.speech.live, durable consumer topology.SpeechConsumer), transcribes
// the audio with a Transcriber (package speech's PocketSphinx pool), keeps
// the transcript in KV transcripts under the product id and then asks
// ingest to sync the product again (an S3 event for its product.json:
// events are triggers, ingest re-reads the bucket and the transcript), so
// that the transcript joins the product's record and the text the text
// block encodes.
//
// Audio that cannot be transcribed (undecodable, too long, or over the
// time limit: the work per job is bounded) gets a transcript with Error,
// which stops ingest from queueing that audio again; failures of the
// object store or NATS are retried (topology.NakForRetry). A job is acked
// only after its effects; a redelivered job finds the transcript stored
// and does not transcribe again.
package transcribe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/extractors/speech"
	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/metrics"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// Stage names the role in metrics, logs and dead letters.
const Stage = "extract-speech"

// Transcriber turns audio (any format the recogniser decodes) into a
// transcript. *speech.Pool satisfies it. Its errors are classified with
// speech's sentinels: ErrBadAudio and ErrTooLong (the audio will never
// transcribe), ErrTimeout (over the time limit); anything else is retried.
type Transcriber interface {
	Transcribe(ctx context.Context, audio []byte) (speech.Transcript, error)
}

// Defaults.
const (
	// DefaultTimeout bounds one job's transcription.
	DefaultTimeout = 2 * time.Minute
	// DefaultMaxBytes is the largest audio object read (ingest rejects
	// larger audio before it queues a job; ingest.MaxAudioBytes).
	DefaultMaxBytes = 50 << 20
)

// Worker is the extract:speech role.
type Worker struct {
	js          jetstream.JetStream
	store       storage.ObjectStore
	tr          Transcriber
	products    jetstream.KeyValue
	transcripts jetstream.KeyValue
	timeout     time.Duration
	maxBytes    int64
	workers     int
	metrics     *metrics.Pipeline
	log         *slog.Logger
	now         func() time.Time
}

// Option configures a Worker.
type Option func(*Worker) error

// WithTimeout bounds the transcription of one job (default
// DefaultTimeout); a job over it gets a transcript with Error.
func WithTimeout(d time.Duration) Option {
	return func(w *Worker) error {
		if d <= 0 || d > time.Hour {
			return option.Errorf("transcribe: timeout %v out of (0, 1h]", d)
		}
		w.timeout = d
		return nil
	}
}

// WithMaxBytes sets the largest audio object read (default
// DefaultMaxBytes); a larger one gets a transcript with Error.
func WithMaxBytes(n int64) Option {
	return func(w *Worker) error {
		if n < 1 {
			return option.Errorf("transcribe: max bytes %d < 1", n)
		}
		w.maxBytes = n
		return nil
	}
}

// WithWorkers sets how many jobs are transcribed at once (default 1):
// the Transcriber's size (a speech.Pool's recognisers).
func WithWorkers(n int) Option {
	return func(w *Worker) error {
		if n < 1 || n > 256 {
			return option.Errorf("transcribe: workers %d out of 1..256", n)
		}
		w.workers = n
		return nil
	}
}

// WithLogger sets the logger.
func WithLogger(l *slog.Logger) Option {
	return func(w *Worker) error {
		if l == nil {
			return option.Errorf("transcribe: nil logger")
		}
		w.log = l
		return nil
	}
}

// WithMetrics records the role's work on m (stage "extract-speech").
func WithMetrics(m *metrics.Pipeline) Option {
	return func(w *Worker) error {
		if m == nil {
			return option.Errorf("transcribe: nil metrics")
		}
		w.metrics = m
		return nil
	}
}

// New makes the role over the buckets topology.Ensure declares.
func New(ctx context.Context, js jetstream.JetStream, store storage.ObjectStore, tr Transcriber, opts ...Option) (*Worker, error) {
	if js == nil || store == nil || tr == nil {
		return nil, option.Errorf("transcribe: nil JetStream, store or transcriber")
	}
	w := &Worker{js: js, store: store, tr: tr, timeout: DefaultTimeout, maxBytes: DefaultMaxBytes, workers: 1,
		log: slog.Default(), now: time.Now}
	if err := option.Apply(w, opts...); err != nil {
		return nil, err
	}
	var err error
	if w.products, err = js.KeyValue(ctx, topology.BucketProducts); err != nil {
		return nil, fmt.Errorf("transcribe: open products bucket: %w", err)
	}
	if w.transcripts, err = js.KeyValue(ctx, topology.BucketTranscripts); err != nil {
		return nil, fmt.Errorf("transcribe: open transcripts bucket: %w", err)
	}
	return w, nil
}

// Run consumes speech jobs until ctx ends. Jobs are fetched one at a time
// and spread over the workers by product, so no job waits in hand behind
// another's transcription for long.
func (w *Worker) Run(ctx context.Context) error {
	cons, err := topology.Consumer(ctx, w.js, topology.StreamJobs, topology.SpeechConsumer)
	if err != nil {
		return err
	}
	ackWait := cons.CachedInfo().Config.AckWait
	return topology.PullGroups(ctx, topology.PullConfig{Consumer: cons, Role: Stage, Key: jobProduct,
		Batch: 1, Workers: w.workers, Logger: w.log},
		func(g topology.Group) time.Duration { w.handleGroup(ctx, g, ackWait); return 0 })
}

// jobProduct keys a job message by its product.
func jobProduct(msg jetstream.Msg) string {
	var j struct {
		ProductID string `json:"product_id"`
	}
	_ = json.Unmarshal(msg.Data(), &j)
	return j.ProductID
}

// outcome is how a job's messages are settled.
type outcome int

const (
	ack   outcome = iota // done, or nothing left to do
	retry                // transient failure: redeliver after topology.RetryDelay
	nak                  // shutting down: redeliver now
)

// handleGroup handles the jobs of one product: each distinct job (product
// and audio hash) once, however many copies of it were delivered, and
// settles every message.
func (w *Worker) handleGroup(ctx context.Context, g topology.Group, ackWait time.Duration) {
	type distinct struct {
		job  topology.Job
		msgs []jetstream.Msg
	}
	var jobs []*distinct
	byHash := map[string]*distinct{}
	for _, msg := range g.Msgs {
		var job topology.Job
		if err := json.Unmarshal(msg.Data(), &job); err != nil || job.ProductID == "" || job.ContentHash == "" || job.Key == "" {
			reason := "malformed speech job"
			if err != nil {
				reason += ": " + err.Error()
			}
			w.deadLetter(ctx, msg, job.ProductID, reason)
			continue
		}
		d := byHash[job.ContentHash]
		if d == nil {
			d = &distinct{job: job}
			byHash[job.ContentHash] = d
			jobs = append(jobs, d)
		}
		d.msgs = append(d.msgs, msg)
	}
	for _, d := range jobs {
		start := time.Now()
		stop := keepAlive(d.msgs, ackWait)
		out := w.process(ctx, d.job, topology.Attempts(d.msgs[0]))
		stop()
		w.metrics.Observe(Stage, start)
		for _, m := range d.msgs {
			switch out {
			case ack:
				if err := m.DoubleAck(context.WithoutCancel(ctx)); err != nil {
					w.log.Warn("extract-speech: ack", "product", d.job.ProductID, "err", err)
				}
			case retry:
				topology.NakForRetry(m)
			case nak:
				_ = m.Nak()
			}
		}
	}
}

// keepAlive tells JetStream the messages are being worked on every third
// of the ack wait, so a long transcription is not redelivered meanwhile;
// the returned function stops it.
func keepAlive(msgs []jetstream.Msg, ackWait time.Duration) (stop func()) {
	if ackWait <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(max(ackWait/3, 10*time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	}()
	return func() { close(done); <-finished }
}

// errStale says the job's audio is no longer the product's speech audio.
var errStale = errors.New("stale")

// process handles one job and says how to settle its messages.
func (w *Worker) process(ctx context.Context, job topology.Job, attempts int) outcome {
	log := w.log.With("product", job.ProductID, "audio", job.ContentHash)
	// Is the job still current? Ingest queues the job before it writes the
	// record naming the audio, so a record older than the job is waited for.
	switch err := w.awaitCurrent(ctx, job); {
	case errors.Is(err, errStale):
		log.Debug("extract-speech: audio replaced or product deleted; job dropped")
		w.metrics.Done(Stage, "stale", 1)
		return ack
	case errors.Is(err, errNotYet):
		if attempts >= topology.MaxDeliver {
			log.Warn("extract-speech: the product's record never named this audio; job dropped", "attempts", attempts)
			w.metrics.Done(Stage, "stale", 1)
			return ack
		}
		return retry
	case err != nil:
		return w.transient(ctx, log, attempts, err)
	}
	prev, have, err := w.stored(ctx, job.ProductID)
	if err != nil {
		return w.transient(ctx, log, attempts, err)
	}
	if have != nil && have.AudioHash == job.ContentHash {
		// Transcribed already (a redelivered or duplicate job): only make
		// sure ingest has seen it.
		if have.Error == "" {
			if err := w.trigger(ctx, job, prev.Revision()); err != nil {
				return w.transient(ctx, log, attempts, err)
			}
		}
		w.metrics.Done(Stage, "duplicate", 1)
		return ack
	}
	tr, out := w.transcribe(ctx, log, job, attempts)
	if tr == nil {
		return out
	}
	// Re-check: the audio may have been replaced, or the product deleted,
	// while it was transcribed; its transcript is then not stored.
	switch err := w.current(ctx, job); {
	case errors.Is(err, errStale), errors.Is(err, errNotYet):
		w.metrics.Done(Stage, "stale", 1)
		return ack
	case err != nil:
		return w.transient(ctx, log, attempts, err)
	}
	rev, err := w.save(ctx, job.ProductID, *tr, prev)
	if err != nil {
		return w.transient(ctx, log, attempts, err)
	}
	if tr.Error != "" {
		// Nothing changes for ingest: the record has no transcript either
		// way; the entry only stops this audio being queued again.
		log.Warn("extract-speech: audio not transcribed", "reason", tr.Error)
		w.metrics.Done(Stage, "rejected", 1)
		return ack
	}
	if err := w.trigger(ctx, job, rev); err != nil {
		return w.transient(ctx, log, attempts, err)
	}
	log.Info("transcribed", "words", len(strings.Fields(tr.Text)), "confidence", tr.Confidence, "language_model", tr.LanguageModel)
	w.metrics.Done(Stage, "done", 1)
	return ack
}

// transcribe reads the audio and transcribes it. It returns the transcript
// to store (with Error when the audio cannot be transcribed), or nil and
// how to settle the job.
func (w *Worker) transcribe(ctx context.Context, log *slog.Logger, job topology.Job, attempts int) (*topology.Transcript, outcome) {
	failed := func(reason string) (*topology.Transcript, outcome) {
		return &topology.Transcript{AudioHash: job.ContentHash, Error: reason, Time: w.now()}, ack
	}
	audio, err := w.store.GetObject(ctx, job.Key, w.maxBytes)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		// Deleted since ingest queued it: its event syncs the product.
		w.metrics.Done(Stage, "stale", 1)
		return nil, ack
	case errors.Is(err, storage.ErrTooLarge):
		return failed(fmt.Sprintf("audio %s is over %d bytes", job.Key, w.maxBytes))
	case err != nil:
		return nil, w.transient(ctx, log, attempts, fmt.Errorf("read %s: %w", job.Key, err))
	}
	tctx, cancel := context.WithTimeout(ctx, w.timeout)
	got, err := w.tr.Transcribe(tctx, audio)
	cancel()
	switch {
	case err == nil:
		return &topology.Transcript{AudioHash: job.ContentHash, Text: got.Text, Confidence: got.Confidence,
			Model: got.Model, LanguageModel: got.LanguageModel, Time: w.now()}, ack
	case ctx.Err() != nil:
		return nil, nak // shutting down: another worker takes it
	case errors.Is(err, speech.ErrBadAudio), errors.Is(err, speech.ErrTooLong):
		return failed(err.Error())
	case errors.Is(err, speech.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		// The work per job is bounded: audio that takes longer than the
		// timeout once will take as long again.
		return failed(fmt.Sprintf("transcription over its %v time limit: %v", w.timeout, err))
	case errors.Is(err, speech.ErrUnavailable):
		// The role does not start without a recogniser; a pool that lost
		// it is the machine's fault, not the audio's.
		return nil, w.transient(ctx, log, attempts, err)
	default:
		if attempts >= topology.MaxDeliver {
			return failed(fmt.Sprintf("transcription failed %d times: %v", attempts, err))
		}
		log.Warn("extract-speech: transcription failed, will retry", "attempt", attempts, "err", err)
		w.metrics.Failed(Stage, "retry")
		return nil, retry
	}
}

// transient handles a failure of the object store or NATS: retried with
// backoff through an outage (topology.MaxTransientDeliver attempts), then
// dropped with an error log: ingest queues the audio again when the
// product changes or is reconciled while pending.
func (w *Worker) transient(ctx context.Context, log *slog.Logger, attempts int, err error) outcome {
	if ctx.Err() != nil {
		return nak
	}
	w.metrics.Failed(Stage, "transient")
	if attempts >= topology.MaxTransientDeliver {
		log.Error("extract-speech: giving up after repeated failures", "attempts", attempts, "err", err)
		return ack
	}
	log.Warn("extract-speech: failed, will retry", "attempt", attempts, "err", err)
	return retry
}

// errNotYet says the product's record is older than the job: ingest has
// queued the job but not yet written the record.
var errNotYet = errors.New("record not written yet")

// awaitCurrent is current, waiting up to about 1.5 s for a record older
// than the job: ingest writes it right after it queued the job.
func (w *Worker) awaitCurrent(ctx context.Context, job topology.Job) error {
	err := w.current(ctx, job)
	for wait := 25 * time.Millisecond; errors.Is(err, errNotYet) && wait <= 800*time.Millisecond; wait *= 2 {
		if topology.Sleep(ctx, wait) != nil {
			return err
		}
		err = w.current(ctx, job)
	}
	return err
}

// current checks that the job's audio is still the product's speech audio:
// errStale when it no longer is (or the product is gone), errNotYet when
// the record is older than the job.
func (w *Worker) current(ctx context.Context, job topology.Job) error {
	e, err := w.products.Get(ctx, job.ProductID)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return errNotYet
	}
	if err != nil {
		return fmt.Errorf("read record %s: %w", job.ProductID, err)
	}
	var rec topology.ProductRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return fmt.Errorf("decode record %s: %w", job.ProductID, err)
	}
	switch {
	case rec.SpeechHash == job.ContentHash:
		return nil
	case rec.Revision < job.Revision:
		return errNotYet
	default:
		return errStale
	}
}

// stored reads the product's transcript entry, if any.
func (w *Worker) stored(ctx context.Context, id string) (jetstream.KeyValueEntry, *topology.Transcript, error) {
	e, err := w.transcripts.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("read transcript of %s: %w", id, err)
	}
	var tr topology.Transcript
	if json.Unmarshal(e.Value(), &tr) != nil {
		return e, nil, nil // unreadable: replaced
	}
	return e, &tr, nil
}

// save writes the transcript with compare-and-swap against the entry read
// before transcribing: a transcript another worker stored meanwhile (of
// newer audio) is never overwritten; the job is then retried and finds it.
func (w *Worker) save(ctx context.Context, id string, tr topology.Transcript, prev jetstream.KeyValueEntry) (rev uint64, err error) {
	data, err := json.Marshal(tr)
	if err != nil {
		return 0, fmt.Errorf("encode transcript of %s: %w", id, err)
	}
	if prev == nil {
		rev, err = w.transcripts.Create(ctx, id, data)
	} else {
		rev, err = w.transcripts.Update(ctx, id, data, prev.Revision())
	}
	if err != nil {
		return 0, fmt.Errorf("store transcript of %s (concurrent update?): %w", id, err)
	}
	return rev, nil
}

// trigger asks ingest to sync the product again (see
// storage.TriggerEvent), dated at the audio's upload so freshness counts
// from there. The Msg-Id (the transcript's KV revision) drops a second
// trigger for the same stored transcript.
func (w *Worker) trigger(ctx context.Context, job topology.Job, rev uint64) error {
	data, err := storage.TriggerEvent(w.store.Bucket(), storage.ProductKey(job.ProductID), job.UploadedAt)
	if err != nil {
		return err
	}
	msgID := fmt.Sprintf("transcript/%s/%s/%d", job.ProductID, job.ContentHash, rev)
	if _, err := w.js.Publish(ctx, topology.S3EventsSubject, data, jetstream.WithMsgID(msgID)); err != nil {
		return fmt.Errorf("trigger ingest of %s: %w", job.ProductID, err)
	}
	return nil
}

// deadLetter sets aside a job that can never be handled.
func (w *Worker) deadLetter(ctx context.Context, msg jetstream.Msg, id, reason string) {
	w.metrics.Failed(Stage, "dead_letter")
	ie := topology.IngestError{ProductID: id, Stage: Stage, Reason: reason, Attempts: topology.Attempts(msg), Time: w.now()}
	if err := topology.PublishDeadLetter(ctx, w.js, ie, msg); err != nil {
		w.log.Error("extract-speech: dead letter not stored; leaving the job for redelivery", "err", err)
		topology.NakForRetry(msg)
		return
	}
	_ = msg.Term()
}
