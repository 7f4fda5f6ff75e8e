package server

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/extractors/speech"
	"github.com/omnirank/omnirank/internal/speechtest"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/speechlm"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// scriptedTranscriber is a deterministic stand-in for the recogniser, for
// the pipeline-plumbing test only (what ingest, the extract:speech role,
// KV, the text block and the lexical index do with a transcript): it
// "hears" the text the test scripted for the exact audio bytes, reports
// speech.ErrBadAudio for audio scripted as bad and for audio it does not
// know, and counts its calls per audio. Recognition itself is tested with
// the real PocketSphinx pool in TestSpokenWordsFindProduct.
type scriptedTranscriber struct {
	mu     sync.Mutex
	script map[[32]byte]string // "" scripts bad audio
	calls  map[[32]byte]int
}

func newScripted() *scriptedTranscriber {
	return &scriptedTranscriber{script: map[[32]byte]string{}, calls: map[[32]byte]int{}}
}

func (s *scriptedTranscriber) say(audio []byte, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.script[sha256.Sum256(audio)] = text
}

func (s *scriptedTranscriber) count(audio []byte) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[sha256.Sum256(audio)]
}

func (s *scriptedTranscriber) Transcribe(ctx context.Context, audio []byte) (speech.Transcript, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := sha256.Sum256(audio)
	s.calls[h]++
	text, ok := s.script[h]
	if !ok || text == "" {
		return speech.Transcript{}, speech.ErrBadAudio
	}
	return speech.Transcript{Text: text, Confidence: 0.9, Model: "scripted", LanguageModel: "test-lm"}, nil
}

// speechProductObjects are a product's objects with its audio marked as
// speech, in upload order.
func speechProductObjects(t *testing.T, id, title, description string, audio []byte) []object {
	t.Helper()
	p := storage.Product{ID: id, Title: title, Description: description, Category: []string{"office", "desk"}, Price: 20, Currency: "EUR",
		Media: []storage.Media{{Key: "image.png", Kind: "image", ContentType: "image/png"},
			{Key: "voice.wav", Kind: "audio", ContentType: "audio/wav", Speech: true}}}
	data, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return []object{{storage.MediaKey(id, "image.png"), "image/png", testImage(t, len(id))},
		{storage.MediaKey(id, "voice.wav"), "audio/wav", audio},
		{storage.ProductKey(id), "application/json", data}}
}

// speechJobsLeft is how many speech jobs are queued or in hand.
func speechJobsLeft(t *testing.T, js jetstream.JetStream) uint64 {
	t.Helper()
	c, err := js.Consumer(context.Background(), topology.StreamJobs, topology.SpeechConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info.NumPending + uint64(info.NumAckPending)
}

// speechJobsDone is how many speech jobs extract:speech settled, by
// outcome (each acked job counts once).
func speechJobsDone(t *testing.T, srv *Server) float64 {
	t.Helper()
	n := 0.0
	for _, o := range []string{"done", "rejected", "duplicate", "stale"} {
		n += stageCount(t, srv, "extract-speech", o)
	}
	return n
}

func transcriptEntry(t *testing.T, kv jetstream.KeyValue, id string) *topology.Transcript {
	t.Helper()
	e, err := kv.Get(context.Background(), id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var tr topology.Transcript
	if err := json.Unmarshal(e.Value(), &tr); err != nil {
		t.Fatal(err)
	}
	return &tr
}

// lexicalIDs are the ids a lexical-only text query returns.
func lexicalIDs(t *testing.T, e *env, q string) []string {
	t.Helper()
	one := float32(1)
	r, err := e.rank.Recommend(context.Background(), &pb.RecommendRequest{QueryText: q, K: 5, LexicalWeight: &one})
	if err != nil {
		t.Fatalf("recommend %q: %v", q, err)
	}
	return ids(r)
}

// TestTranscriptsJoinProductText is the plumbing of spoken product media
// (issue 16), with a scripted transcriber: audio marked as speech is
// transcribed once, its transcript lands in KV transcripts, the product
// record, CatalogService.Get and the text block (the text model runs
// exactly once more), and a word only the voice-over says finds the
// product through the lexical index. A replayed event and a redelivered
// job add nothing; bad audio stores an error and is not queued again;
// deleting the product deletes its transcript.
func TestTranscriptsJoinProductText(t *testing.T) {
	tr := newScripted()
	cfg := testConfig(t.TempDir())
	cfg.SpeechTranscriber = tr
	e := startWith(t, cfg)
	ctx := context.Background()
	js, store := e.srv.JetStream(), e.srv.Store()
	products, err := js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		t.Fatal(err)
	}
	transcripts, err := js.KeyValue(ctx, topology.BucketTranscripts)
	if err != nil {
		t.Fatal(err)
	}

	good, bad := testWAV(t, 31, 1), testWAV(t, 32, 1)
	tr.say(good, "handcrafted from reclaimed zebrawood")
	tr.say(bad, "") // undecodable, as far as the recogniser can tell
	organiser := speechProductObjects(t, "organiser", "Walnut desk organiser", "Holds pens and cards.", good)
	tray := speechProductObjects(t, "tray", "Oak letter tray", "Keeps paper flat.", bad)
	if err := putObjects(ctx, store, append(slices.Clone(organiser), tray...)); err != nil {
		t.Fatal(err)
	}

	waitFor(t, 60*time.Second, "organiser transcribed and indexed with its transcript", func() bool {
		rec := productRecord(t, products, "organiser")
		return rec.Transcript != nil && rec.State == topology.StateIndexed && extractIdle(ctx, js) && speechJobsLeft(t, js) == 0
	})
	waitFor(t, 30*time.Second, "tray's transcript error stored, tray indexed", func() bool {
		tt := transcriptEntry(t, transcripts, "tray")
		return tt != nil && tt.Error != "" && productRecord(t, products, "tray").State == topology.StateIndexed
	})
	rec := productRecord(t, products, "organiser")
	if rec.Transcript.Text != "handcrafted from reclaimed zebrawood" || rec.Transcript.AudioHash != rec.SpeechHash || rec.SpeechHash != rec.Hashes["audio"] {
		t.Fatalf("record transcript %+v, speech hash %q, audio hash %q", rec.Transcript, rec.SpeechHash, rec.Hashes["audio"])
	}
	if got := productRecord(t, products, "tray").Transcript; got != nil {
		t.Errorf("tray's record has transcript %+v, want none (its audio is bad)", got)
	}
	// Text model: once without the transcript and once with it, per product
	// with a transcript; the tray's never changed.
	if n := stageCount(t, e.srv, "extract-text", "done"); n != 3 {
		t.Errorf("text model ran %g times, want 3 (organiser twice, tray once)", n)
	}
	if n := stageCount(t, e.srv, "extract-audio", "done"); n != 2 {
		t.Errorf("audio model ran %g times, want 2", n)
	}
	if tr.count(good) != 1 || tr.count(bad) != 1 {
		t.Errorf("transcribed good audio %d times, bad %d times; want once each", tr.count(good), tr.count(bad))
	}
	if n := speechJobsDone(t, e.srv); n != 2 {
		t.Errorf("%g speech jobs handled, want 2", n)
	}

	t.Run("searchable and shown", func(t *testing.T) {
		waitFor(t, 10*time.Second, "zebrawood finds the organiser", func() bool {
			got := lexicalIDs(t, e, "zebrawood")
			return len(got) == 1 && got[0] == "organiser"
		})
		if got := lexicalIDs(t, e, "reclaimed zebrawood"); len(got) == 0 || got[0] != "organiser" {
			t.Errorf("'reclaimed zebrawood' finds %v, want organiser first", got)
		}
		g, err := e.cat.Get(ctx, &pb.GetRequest{Id: "organiser"})
		if err != nil {
			t.Fatal(err)
		}
		if g.GetTranscript().GetText() != "handcrafted from reclaimed zebrawood" || g.GetTranscript().GetLanguageModel() != "test-lm" {
			t.Errorf("Get transcript = %v", g.GetTranscript())
		}
		if !g.GetProduct().GetMedia()[1].GetSpeech() {
			t.Errorf("Get media %v: voice.wav not marked as speech", g.GetProduct().GetMedia())
		}
		if g, err := e.cat.Get(ctx, &pb.GetRequest{Id: "tray"}); err != nil || g.GetTranscript() != nil {
			t.Errorf("tray: Get transcript %v, %v; want none", g.GetTranscript(), err)
		}
	})

	t.Run("replay and redelivery add nothing", func(t *testing.T) {
		acked := stageCount(t, e.srv, "ingest", "done")
		// Replayed events: both product.json written again, unchanged.
		if err := putObjects(ctx, store, []object{organiser[2], tray[2]}); err != nil {
			t.Fatal(err)
		}
		// A redelivered job: a copy of the organiser's speech job.
		job := topology.Job{ProductID: "organiser", Modality: topology.SpeechModality, Revision: rec.Revision,
			ContentHash: rec.SpeechHash, Key: storage.MediaKey("organiser", "voice.wav")}
		data, _ := json.Marshal(job)
		if _, err := js.Publish(ctx, topology.JobSubject(topology.SpeechModality, topology.LaneLive), data); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "replays and the copy handled", func() bool {
			return stageCount(t, e.srv, "ingest", "done") >= acked+2 && stageCount(t, e.srv, "extract-speech", "duplicate") == 1 &&
				speechJobsLeft(t, js) == 0 && extractIdle(ctx, js)
		})
		time.Sleep(500 * time.Millisecond) // let a re-sync the copy triggered settle
		if tr.count(good) != 1 || tr.count(bad) != 1 {
			t.Errorf("transcribed good audio %d times, bad %d times; want once each", tr.count(good), tr.count(bad))
		}
		if n := stageCount(t, e.srv, "extract-text", "done"); n != 3 {
			t.Errorf("text model ran %g times, want still 3", n)
		}
		if n := speechJobsDone(t, e.srv); n != 3 {
			t.Errorf("%g speech jobs handled, want 3 (the test's copy only added)", n)
		}
		if got := productRecord(t, products, "organiser"); got.Revision != rec.Revision {
			t.Errorf("organiser's record went from revision %d to %d", rec.Revision, got.Revision)
		}
	})

	t.Run("a deleted transcript is made again", func(t *testing.T) {
		if err := transcripts.Delete(ctx, "organiser"); err != nil {
			t.Fatal(err)
		}
		if err := putObjects(ctx, store, []object{organiser[2]}); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			rec := productRecord(t, products, "organiser")
			if tr.count(good) == 2 && rec.Transcript != nil && rec.State == topology.StateIndexed && speechJobsLeft(t, js) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("not transcribed again: calls %d, record rev %d state %s transcript %+v, jobs left %d, outcomes done %g dup %g stale %g",
					tr.count(good), rec.Revision, rec.State, rec.Transcript, speechJobsLeft(t, js),
					stageCount(t, e.srv, "extract-speech", "done"), stageCount(t, e.srv, "extract-speech", "duplicate"), stageCount(t, e.srv, "extract-speech", "stale"))
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("delete removes the transcript", func(t *testing.T) {
		if _, err := e.cat.Delete(ctx, &pb.DeleteRequest{Id: "organiser"}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, "organiser's record and transcript deleted", func() bool {
			return productRecord(t, products, "organiser").Product.ID == "" && transcriptEntry(t, transcripts, "organiser") == nil
		})
		waitFor(t, 10*time.Second, "zebrawood finds nothing", func() bool { return len(lexicalIDs(t, e, "zebrawood")) == 0 })
	})
}

// TestSpokenWordsFindProduct: with the real recogniser (PocketSphinx; the
// test is skipped where it is unavailable), a product whose voice-over
// says words that are not in its title, description, brand or category is
// found by those words once transcribed. The catalogue language model
// recognises only catalogue words, so the words are another product's
// title; the voice-over is uploaded once the model knows them.
func TestSpokenWordsFindProduct(t *testing.T) {
	speechtest.NeedRecognizer(t, speech.Available)
	spoken := []string{"leather", "carrying", "case"}
	audio := speechtest.Say(t, "Comes with a leather carrying case.", "en-us", 150)
	cfg := testConfig(t.TempDir())
	cfg.Speech.Off = false
	cfg.Speech.Recognizers = 2
	e := startWith(t, cfg)
	ctx := context.Background()
	js, store := e.srv.JetStream(), e.srv.Store()
	products, err := js.KeyValue(ctx, topology.BucketProducts)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []testProduct{
		{id: "case", title: "Leather carrying case", category: "bags/cases", seed: 41},
		{id: "mug", title: "Blue ceramic coffee mug", category: "kitchen/cups", seed: 42},
	} {
		putProduct(t, store, tp)
	}
	pool, err := e.srv.voice.get(cfg.Speech, e.srv.log, nil) // opened already by extract:speech
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 90*time.Second, "the recogniser's language model knows the catalogue's words", func() bool {
		v := pool.LanguageModel()
		if v == "" {
			return false
		}
		lm, err := speechlm.Load(ctx, store, v)
		return err == nil && strings.Contains("\n"+string(lm.Dictionary()), "\nleather ")
	})
	if err := putObjects(ctx, store, speechProductObjects(t, "flask", "Steel travel flask", "Keeps drinks hot.", audio)); err != nil {
		t.Fatal(err)
	}
	var rec topology.ProductRecord
	waitFor(t, 90*time.Second, "flask transcribed and indexed", func() bool {
		rec = productRecord(t, products, "flask")
		return rec.Transcript != nil && rec.State == topology.StateIndexed
	})
	t.Logf("heard %q (confidence %.2f, %s, language model %s)", rec.Transcript.Text, rec.Transcript.Confidence, rec.Transcript.Model, rec.Transcript.LanguageModel)
	heard := strings.Fields(rec.Transcript.Text)
	var found []string
	for _, w := range spoken {
		if slices.Contains(heard, w) {
			found = append(found, w)
		}
	}
	if len(found) < 2 {
		t.Fatalf("transcript %q holds %v of the spoken words %v, want at least two", rec.Transcript.Text, found, spoken)
	}
	for _, w := range found {
		waitFor(t, 10*time.Second, w+" finds the flask", func() bool { return slices.Contains(lexicalIDs(t, e, w), "flask") })
	}
}

// TestSpeechRoleNeedsRecogniser: named alone, extract:speech refuses to
// start without speech recognition (here: turned off, as testConfig
// does); "extract" skips it and starts.
func TestSpeechRoleNeedsRecogniser(t *testing.T) {
	roles, err := ParseRoles("ingest," + RoleSpeech)
	if err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t.TempDir())
	cfg.Roles = roles
	cfg.Logger = quietLogger()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if srv, err := Start(ctx, cfg); err == nil {
		_ = srv.Close(ctx)
		t.Fatal("started extract:speech without a recogniser")
	} else if !errors.Is(err, speech.ErrUnavailable) || !strings.Contains(err.Error(), RoleSpeech) {
		t.Fatalf("error %q: want extract:speech and speech.ErrUnavailable", err)
	}
	cfg = testConfig(t.TempDir())
	cfg.Roles = []string{RoleExtract}
	cfg.Logger = quietLogger()
	srv, err := Start(ctx, cfg)
	if err != nil {
		t.Fatalf("extract without a recogniser: %v", err)
	}
	if err := srv.Close(ctx); err != nil {
		t.Error(err)
	}
}
