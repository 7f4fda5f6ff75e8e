package transcribe_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/extractors/speech"
	"github.com/omnirank/omnirank/extractors/transcribe"
	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/storage/s3gw"
	"github.com/omnirank/omnirank/topology"
)

// behaviour is what the stand-in transcriber does with one audio: the
// audio bytes name it ("audio:<name>").
type behaviour struct {
	text string
	errs []error // returned by the first calls, in order
	hang bool    // wait for the context to end
}

// standIn is a deterministic transcriber for testing how the role handles
// each kind of outcome (plumbing, not recognition: the recogniser is
// tested with PocketSphinx in package server's TestSpokenWordsFindProduct).
type standIn struct {
	mu    sync.Mutex
	by    map[string]behaviour
	calls map[string]int
}

func (s *standIn) Transcribe(ctx context.Context, audio []byte) (speech.Transcript, error) {
	name := strings.TrimPrefix(string(audio), "audio:")
	s.mu.Lock()
	b := s.by[name]
	n := s.calls[name]
	s.calls[name]++
	s.mu.Unlock()
	if b.hang {
		<-ctx.Done()
		return speech.Transcript{}, ctx.Err()
	}
	if n < len(b.errs) {
		return speech.Transcript{}, b.errs[n]
	}
	return speech.Transcript{Text: b.text, Confidence: 0.5, Model: "stand-in", LanguageModel: "lm-1"}, nil
}

func (s *standIn) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[name]
}

// TestWorkerOutcomes: each outcome of a job, through real NATS and S3 —
// stored transcript and an ingest trigger; a stored error without a
// trigger for audio that will never transcribe (bad, too long, over the
// time limit, too large); a retry after a transient failure; nothing for a
// job whose audio was replaced; one transcription for a job delivered
// twice.
func TestWorkerOutcomes(t *testing.T) {
	ctx := context.Background()
	js := natstest.JetStream(t)
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), topology.Modalities); err != nil {
		t.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := s3gw.Start(ctx, s3gw.Config{Dir: filepath.Join(t.TempDir(), "objects"), Addr: "127.0.0.1:0",
		AccessKey: "testaccess", SecretKey: "testsecrettestsecret", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	store, err := storage.NewS3Store(ctx, storage.S3Config{Endpoint: gw.Endpoint(), AccessKey: "testaccess",
		SecretKey: "testsecrettestsecret", Bucket: "omnirank", Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	products, err := js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		t.Fatal(err)
	}
	transcripts, err := js.KeyValue(ctx, topology.BucketTranscripts)
	if err != nil {
		t.Fatal(err)
	}
	tr := &standIn{calls: map[string]int{}, by: map[string]behaviour{
		"ok":        {text: "solid brass"},
		"bad":       {errs: []error{speech.ErrBadAudio}},
		"long":      {errs: []error{speech.ErrTooLong}},
		"slow":      {errs: []error{speech.ErrTimeout}},
		"hang":      {hang: true},
		"transient": {text: "second time lucky", errs: []error{errors.New("recogniser hiccup")}},
		"replaced":  {text: "never heard"},
		"twice":     {text: "only once"},
		"huge":      {text: "never read"},
	}}
	w, err := transcribe.New(ctx, js, store, tr, transcribe.WithWorkers(2), transcribe.WithTimeout(300*time.Millisecond),
		transcribe.WithMaxBytes(64), transcribe.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- w.Run(runCtx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	// queue writes the audio and the record naming it (hash "h-<name>",
	// or another for "replaced") and publishes copies of its job.
	queue := func(name string, copies int) {
		t.Helper()
		audio := []byte("audio:" + name)
		if name == "huge" {
			audio = append(audio, make([]byte, 100)...)
		}
		key := storage.MediaKey(name, "voice.wav")
		if err := store.PutObject(ctx, key, audio, "audio/wav"); err != nil {
			t.Fatal(err)
		}
		rec := topology.ProductRecord{Product: storage.Product{ID: name, Title: name}, Revision: 3, SpeechHash: "h-" + name,
			State: topology.StateIndexed}
		if name == "replaced" {
			rec.SpeechHash = "h-newer"
		}
		data, _ := json.Marshal(rec)
		if _, err := products.Put(ctx, name, data); err != nil {
			t.Fatal(err)
		}
		job, _ := json.Marshal(topology.Job{ProductID: name, Modality: topology.SpeechModality, Revision: 3,
			ContentHash: "h-" + name, Key: key, UploadedAt: time.Unix(1700000000, 0)})
		for range copies {
			if _, err := js.Publish(ctx, topology.JobSubject(topology.SpeechModality, topology.LaneLive), job); err != nil {
				t.Fatal(err)
			}
		}
	}
	for name := range tr.by {
		copies := 1
		if name == "twice" {
			copies = 2
		}
		queue(name, copies)
	}
	cons, err := js.Consumer(ctx, topology.StreamJobs, topology.SpeechConsumer)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		info, err := cons.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending+uint64(info.NumAckPending) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("jobs left after 30 s: %d pending, %d in hand", info.NumPending, info.NumAckPending)
		}
		time.Sleep(50 * time.Millisecond)
	}

	triggers := readTriggers(t, js)
	tests := []struct {
		name      string
		text      string // the stored transcript's text
		errPart   string // part of its Error; "" for none
		none      bool   // nothing stored
		calls     int
		triggered bool
	}{
		{name: "ok", text: "solid brass", calls: 1, triggered: true},
		{name: "bad", errPart: "bad audio", calls: 1},
		{name: "long", errPart: "too long", calls: 1},
		{name: "slow", errPart: "time limit", calls: 1},
		{name: "hang", errPart: "time limit", calls: 1},
		{name: "huge", errPart: "over 64 bytes", calls: 0},
		{name: "transient", text: "second time lucky", calls: 2, triggered: true},
		{name: "replaced", none: true, calls: 0},
		{name: "twice", text: "only once", calls: 1, triggered: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tr.count(tc.name); got != tc.calls {
				t.Errorf("transcribed %d times, want %d", got, tc.calls)
			}
			if got := triggers[tc.name]; got != tc.triggered {
				t.Errorf("ingest triggered: %v, want %v", got, tc.triggered)
			}
			e, err := transcripts.Get(ctx, tc.name)
			if tc.none {
				if !errors.Is(err, jetstream.ErrKeyNotFound) {
					t.Errorf("stored %v, %v; want nothing", e, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got topology.Transcript
			if err := json.Unmarshal(e.Value(), &got); err != nil {
				t.Fatal(err)
			}
			if got.AudioHash != "h-"+tc.name || got.Text != tc.text || !strings.Contains(got.Error, tc.errPart) || (tc.errPart == "") != (got.Error == "") {
				t.Errorf("stored %+v, want audio h-%s, text %q, error containing %q", got, tc.name, tc.text, tc.errPart)
			}
			if tc.text != "" && (got.Model != "stand-in" || got.LanguageModel != "lm-1") {
				t.Errorf("stored model %q, language model %q", got.Model, got.LanguageModel)
			}
		})
	}
}

// readTriggers reads the S3 events published so far and reports, per
// product, whether one named its product.json at the audio's upload time.
func readTriggers(t *testing.T, js jetstream.JetStream) map[string]bool {
	t.Helper()
	ctx := context.Background()
	out := map[string]bool{}
	c, err := js.OrderedConsumer(ctx, topology.StreamS3Events, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		msgs, err := c.Fetch(100, jetstream.FetchMaxWait(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range msgs.Messages() {
			n++
			evs, err := storage.ParseEvents(m.Data())
			if err != nil {
				t.Fatal(err)
			}
			for _, ev := range evs {
				id, file, ok := storage.ProductIDFromKey(ev.Key)
				if ok && file == storage.ProductFile && ev.Time.Equal(time.Unix(1700000000, 0)) {
					out[id] = true
				}
			}
		}
		if n == 0 {
			return out
		}
	}
}
