package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/omnirank/omnirank/extractors/speech"
	"github.com/omnirank/omnirank/extractors/speech/g2p"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
	"github.com/omnirank/omnirank/speechlm"
)

// SpeechConfig configures the speech recogniser (issue 16).
type SpeechConfig struct {
	// Off turns speech recognition off in this process: query audio is
	// matched by sound only, no transcripts, no language model builds.
	Off bool
	// Recognizers is the pool's size (0: one per CPU).
	Recognizers int
	// Timeout bounds one transcription (0: the package default, 30 s).
	Timeout time.Duration
	// Dictionary is the base pronunciation dictionary the catalogue
	// language model takes pronunciations from ("" : PocketSphinx's
	// en-us cmudict).
	Dictionary string
}

// DefaultDictionary is Debian pocketsphinx-en-us's pronunciation
// dictionary.
const DefaultDictionary = "/usr/share/pocketsphinx/model/en-us/cmudict-en-us.dict"

// voicePool holds the process's one recogniser pool: the ranker (voice
// queries) and the transcription worker share it.
type voicePool struct {
	mu   sync.Mutex
	pool *speech.Pool
	err  error
	done bool
}

// get opens the pool on first use; later calls return the same pool or
// the same error.
//
// The pool starts with initial's language model (nil: PocketSphinx's
// general en-us model). Starting on the general model costs seconds per
// decoder and recognises shoppers' product words poorly; the catalogue's
// model replaces it as soon as it is followed.
func (v *voicePool) get(cfg SpeechConfig, log *slog.Logger, initial func() *speech.LanguageModel) (*speech.Pool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.done {
		return v.pool, v.err
	}
	v.done = true
	if err := speech.Available(); err != nil {
		v.err = err
		return nil, err
	}
	opts := []speech.Option{speech.WithLogger(log.With("component", "speech")),
		speech.WithSize(cmp.Or(cfg.Recognizers, runtime.GOMAXPROCS(0)))}
	if cfg.Timeout > 0 {
		opts = append(opts, speech.WithTimeout(cfg.Timeout))
	}
	if lm := initial(); lm != nil {
		opts = append(opts, speech.WithLanguageModel(lm))
	}
	v.pool, v.err = speech.NewPool(opts...)
	if v.err != nil {
		v.err = fmt.Errorf("open speech recogniser: %w", v.err)
	}
	return v.pool, v.err
}

func (v *voicePool) close(log *slog.Logger) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.pool != nil {
		if err := v.pool.Close(); err != nil {
			log.Error("close speech recogniser", "err", err)
		}
		v.pool = nil
	}
}

// ParseVoiceQueries reads --voice-queries.
func ParseVoiceQueries(s string) (omnirankv1.AudioMode, error) {
	switch s {
	case "", "both":
		return omnirankv1.AudioMode_AUDIO_MODE_BOTH, nil
	case "speech":
		return omnirankv1.AudioMode_AUDIO_MODE_SPEECH, nil
	case "sound":
		return omnirankv1.AudioMode_AUDIO_MODE_SOUND, nil
	}
	return 0, fmt.Errorf("voice queries %q: want both, speech or sound", s)
}

// voiceQueryOptions gives the ranker a recogniser unless voice queries are
// "sound" or speech recognition is unavailable (logged: query audio is
// then matched by sound only), and follows the catalogue language model.
func (s *Server) voiceQueryOptions(ctx context.Context) ([]ranker.Option, error) {
	mode, err := ParseVoiceQueries(s.cfg.VoiceQueries)
	if err != nil {
		return nil, err
	}
	if mode == omnirankv1.AudioMode_AUDIO_MODE_SOUND || s.cfg.Speech.Off {
		return nil, nil
	}
	pool, err := s.voice.get(s.cfg.Speech, s.log, func() *speech.LanguageModel { return s.initialSpeechLM(ctx) })
	if errors.Is(err, speech.ErrUnavailable) {
		s.log.Warn("voice queries: speech recognition unavailable, query audio is matched by sound only", "err", err)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	s.followSpeechLM(ctx, pool)
	return []ranker.Option{ranker.WithSpeech(pool, mode)}, nil
}

// followSpeechLM keeps the pool on the catalogue's newest language model;
// the ranker and extract:speech share the pool, so it runs once.
func (s *Server) followSpeechLM(ctx context.Context, pool *speech.Pool) {
	s.lmFollow.Do(func() {
		s.goRole("speech-lm-follow", func(ctx context.Context) error {
			return speechlm.Follow(ctx, s.js, s.store, pool.SetLanguageModel, s.log.With("component", "speech-lm"))
		}, ctx)
	})
}

// initialSpeechLM is the language model a new recogniser pool starts
// with: the catalogue's current one, or — before the first is built — one
// of the query phrases alone, which starts in milliseconds where the
// general en-us model takes seconds per decoder; the catalogue's follows
// within seconds of ingest starting (speechlm.Follow swaps it in).
func (s *Server) initialSpeechLM(ctx context.Context) *speech.LanguageModel {
	lm, err := speechlm.Current(ctx, s.js, s.store)
	if err == nil {
		return lm
	}
	s.log.Debug("no catalogue speech language model yet", "err", err)
	lm, err = speech.BuildLanguageModel(nil, s.speechLMOptions()...)
	if err != nil {
		s.log.Warn("speech: starting on the general en-us language model", "err", err)
		return nil
	}
	return lm
}

// speechLMOptions are the catalogue language model's build options.
func (s *Server) speechLMOptions() []speech.LMOption {
	return []speech.LMOption{speech.WithBaseDictionary(s.speechDictionary())}
}

func (s *Server) speechDictionary() string {
	if d := s.cfg.Speech.Dictionary; d != "" {
		return d
	}
	return DefaultDictionary
}

// startSpeechLM runs the catalogue language model's builder beside ingest,
// when speech recognition is available.
func (s *Server) startSpeechLM(ctx context.Context) error {
	if s.cfg.Speech.Off || speech.Available() != nil {
		return nil
	}
	dict := s.speechDictionary()
	if _, err := os.Stat(dict); err != nil {
		s.log.Warn("speech language model off: no pronunciation dictionary", "path", dict, "err", err)
		return nil
	}
	log := s.log.With("component", "speech-lm")
	s.goRole("speech-lm", func(ctx context.Context) error {
		// Words the dictionary lacks (brands, made-up product names) get
		// pronunciations from a grapheme-to-phoneme model learnt from the
		// same dictionary (about 3 CPU-seconds); without it they are
		// spelled out letter by letter.
		opts := s.speechLMOptions()
		if m, err := g2p.Default(dict); err != nil {
			log.Warn("no grapheme-to-phoneme model: words missing from the dictionary are spelled out", "err", err)
		} else {
			opts = append(opts, speech.WithG2P(m))
		}
		b, err := speechlm.NewBuilder(s.js, s.store, speechlm.WithLogger(log), speechlm.WithLMOptions(opts...))
		if err != nil {
			return err
		}
		return b.Run(ctx)
	}, ctx)
	return nil
}
