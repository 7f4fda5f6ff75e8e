package server

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omnirank/omnirank/extractors/speech"
	"github.com/omnirank/omnirank/internal/speechtest"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// TestVoiceQueries: a shopper says a product's title in a voice the
// catalogue never used and the ranker finds the product through the
// transcript — real PocketSphinx, the catalogue language model built by
// the ingest side from the products bucket, stored in the object store and
// loaded by the ranker through KV. Also: sound-only requests are not
// transcribed, silence gives an empty transcript and no results, and bad
// clips get InvalidArgument within bounded time.
func TestVoiceQueries(t *testing.T) {
	speechtest.NeedRecognizer(t, speech.Available)
	cfg := testConfig(t.TempDir())
	cfg.Speech.Off = false
	e := startWith(t, cfg)
	ctx := context.Background()
	for _, tp := range catalogue {
		if _, err := e.cat.Upsert(ctx, tp.upsert(t)); err != nil {
			t.Fatalf("upsert %s: %v", tp.id, err)
		}
	}
	e.waitVectors(t, int64(len(catalogue)), 90*time.Second)

	spoken := speechtest.Say(t, "leather hiking boots", "en-gb", 140)
	ask := func(audio []byte, mode pb.AudioMode) (*pb.RecommendResponse, error) {
		return e.rank.Recommend(ctx, &pb.RecommendRequest{QueryAudio: audio, AudioMode: mode, K: 3})
	}
	// The language model follows the catalogue: wait until the ranker
	// transcribes with one built from these products.
	var resp *pb.RecommendResponse
	waitFor(t, 90*time.Second, "a transcript made with the catalogue language model", func() bool {
		r, err := ask(spoken, pb.AudioMode_AUDIO_MODE_SPEECH)
		if err != nil {
			t.Fatalf("spoken query: %v", err)
		}
		resp = r
		return r.GetTranscript().GetLanguageModel() != ""
	})
	t.Logf("heard %q (confidence %.2f, lm %s): %v", resp.GetTranscript().GetText(), resp.GetTranscript().GetConfidence(), resp.GetTranscript().GetLanguageModel(), ids(resp))
	if got := ids(resp); len(got) == 0 || got[0] != "boots" {
		t.Fatalf("spoken %q heard as %q ranked %v; want boots first", "leather hiking boots", resp.GetTranscript().GetText(), got)
	}

	// Sound only: no transcript.
	r, err := ask(spoken, pb.AudioMode_AUDIO_MODE_SOUND)
	if err != nil {
		t.Fatalf("sound query: %v", err)
	}
	if r.GetTranscript() != nil {
		t.Fatalf("sound-only query transcribed: %v", r.GetTranscript())
	}
	// Both (the default): a transcript, and the product still first.
	r, err = ask(spoken, pb.AudioMode_AUDIO_MODE_UNSPECIFIED)
	if err != nil {
		t.Fatalf("default-mode query: %v", err)
	}
	if r.GetTranscript().GetText() == "" {
		t.Fatalf("default mode did not transcribe: %v", r.GetTranscript())
	}

	// Silence: an empty transcript and no results (not the cold-start list).
	r, err = ask(speechtest.Silence(2), pb.AudioMode_AUDIO_MODE_SPEECH)
	if err != nil {
		t.Fatalf("silent query: %v", err)
	}
	if r.GetTranscript() == nil || r.GetTranscript().GetText() != "" || len(r.GetResults()) != 0 {
		t.Fatalf("silence: transcript %v, %d results; want an empty transcript and none", r.GetTranscript(), len(r.GetResults()))
	}

	// Bad clips: a clear InvalidArgument, and the server keeps serving.
	for _, c := range []struct {
		name string
		clip []byte
	}{
		{"truncated", spoken[:30]},
		{"ten minutes", speechtest.LongWAVHeader(600)},
		{"not audio", []byte("this is not a sound file at all")},
	} {
		_, err := ask(c.clip, pb.AudioMode_AUDIO_MODE_SPEECH)
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%s clip: %v; want InvalidArgument", c.name, err)
		}
	}
	if _, err := ask(spoken, pb.AudioMode(42)); status.Code(err) != codes.InvalidArgument {
		t.Errorf("unknown audio mode: %v; want InvalidArgument", err)
	}
	if _, err := ask(spoken, pb.AudioMode_AUDIO_MODE_SPEECH); err != nil {
		t.Fatalf("after bad clips: %v", err)
	}

	// The language model follows the catalogue: a new product's words
	// are recognised once its record is in, under a new version.
	first := resp.GetTranscript().GetLanguageModel()
	sofa := testProduct{"sofa", "Velvet sofa with cushions", "home/furniture", 9, false}
	if _, err := e.cat.Upsert(ctx, sofa.upsert(t)); err != nil {
		t.Fatal(err)
	}
	e.waitVectors(t, int64(len(catalogue)+1), 90*time.Second)
	said := speechtest.Say(t, "velvet sofa", "en-us+f3", 130)
	waitFor(t, 90*time.Second, "the new product found by voice under a new language model", func() bool {
		r, err := ask(said, pb.AudioMode_AUDIO_MODE_SPEECH)
		if err != nil {
			t.Fatalf("spoken query: %v", err)
		}
		resp = r
		got := ids(r)
		return r.GetTranscript().GetLanguageModel() != first && len(got) > 0 && got[0] == "sofa"
	})
	t.Logf("heard %q with lm %s (was %s)", resp.GetTranscript().GetText(), resp.GetTranscript().GetLanguageModel(), first)
}

// TestVoiceQueriesWithoutRecognizer: with speech off, query audio is
// matched by sound and a request that asks for speech is refused clearly.
func TestVoiceQueriesWithoutRecognizer(t *testing.T) {
	e := start(t) // testConfig: speech off
	ctx := context.Background()
	_, err := e.rank.Recommend(ctx, &pb.RecommendRequest{QueryAudio: testWAV(t, 3, 1.5), AudioMode: pb.AudioMode_AUDIO_MODE_SPEECH})
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("speech without a recogniser: %v; want FailedPrecondition", err)
	}
}
