package ranker

import (
	"context"
	"errors"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/omnirank/omnirank/extractors/speech"
	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// SpeechRecognizer turns a spoken query clip into words (issue 16);
// *speech.Pool is one.
type SpeechRecognizer interface {
	Transcribe(ctx context.Context, audio []byte) (speech.Transcript, error)
}

// WithSpeech makes the ranker transcribe query audio with rec and run the
// transcript as a text query (issue 16). def is the audio mode of requests
// that set none: AUDIO_MODE_UNSPECIFIED means BOTH. Without this option
// query audio is matched by sound only and AUDIO_MODE_SPEECH/BOTH requests
// fail with FailedPrecondition.
func WithSpeech(rec SpeechRecognizer, def omnirankv1.AudioMode) Option {
	return func(c *config) error {
		if rec == nil {
			return optErr("nil speech recognizer")
		}
		if _, ok := omnirankv1.AudioMode_name[int32(def)]; !ok {
			return optErr("unknown audio mode %d", def)
		}
		if def == omnirankv1.AudioMode_AUDIO_MODE_UNSPECIFIED {
			def = omnirankv1.AudioMode_AUDIO_MODE_BOTH
		}
		c.speech, c.audioMode = rec, def
		return nil
	}
}

// audioMode is the request's audio mode with the ranker's default filled
// in: SOUND without a recogniser.
func (r *Ranker) audioMode(req *omnirankv1.RecommendRequest) omnirankv1.AudioMode {
	if m := req.GetAudioMode(); m != omnirankv1.AudioMode_AUDIO_MODE_UNSPECIFIED {
		return m
	}
	if r.cfg.speech == nil {
		return omnirankv1.AudioMode_AUDIO_MODE_SOUND
	}
	return r.cfg.audioMode
}

// validateAudioMode refuses unknown modes, and speech without a
// recogniser.
func (r *Ranker) validateAudioMode(req *omnirankv1.RecommendRequest) error {
	m := req.GetAudioMode()
	if _, ok := omnirankv1.AudioMode_name[int32(m)]; !ok {
		return status.Errorf(codes.InvalidArgument, "unknown audio_mode %d", m)
	}
	if r.cfg.speech == nil && (m == omnirankv1.AudioMode_AUDIO_MODE_SPEECH || m == omnirankv1.AudioMode_AUDIO_MODE_BOTH) {
		return status.Errorf(codes.FailedPrecondition, "audio_mode %s: this ranker has no speech recogniser (built without PocketSphinx, or its model files are missing)", m)
	}
	return nil
}

// transcribeQuery runs the request's audio through the recogniser when its
// mode asks for speech. It returns the request to rank with — a copy whose
// query text carries the transcript (after any typed text) and, in SPEECH
// mode, without the audio — and the transcript; req itself when the audio
// is not used as speech.
func (r *Ranker) transcribeQuery(ctx context.Context, req *omnirankv1.RecommendRequest) (*omnirankv1.RecommendRequest, *omnirankv1.Transcript, error) {
	mode := r.audioMode(req)
	if len(req.GetQueryAudio()) == 0 || mode == omnirankv1.AudioMode_AUDIO_MODE_SOUND {
		return req, nil, nil
	}
	t, err := r.cfg.speech.Transcribe(ctx, req.GetQueryAudio())
	if err != nil {
		return nil, nil, speechStatus(ctx, err)
	}
	tr := &omnirankv1.Transcript{Text: t.Text, Confidence: float32(t.Confidence), Model: t.Model, LanguageModel: t.LanguageModel}
	c := proto.Clone(req).(*omnirankv1.RecommendRequest)
	if t.Text != "" {
		c.QueryText = strings.TrimSpace(c.GetQueryText() + " " + t.Text)
	}
	if mode == omnirankv1.AudioMode_AUDIO_MODE_SPEECH {
		c.QueryAudio = nil
	}
	r.voice.transcribed(t)
	return c, tr, nil
}

// speechStatus maps a recogniser error to a gRPC status.
func speechStatus(ctx context.Context, err error) error {
	if s := ctxStatus(ctx); s != nil {
		return s
	}
	switch {
	case errors.Is(err, speech.ErrBadAudio), errors.Is(err, speech.ErrTooLong):
		return status.Errorf(codes.InvalidArgument, "query audio: %v", err)
	case errors.Is(err, speech.ErrTimeout):
		return status.Errorf(codes.DeadlineExceeded, "query audio: %v", err)
	case errors.Is(err, speech.ErrUnavailable):
		return status.Errorf(codes.FailedPrecondition, "query audio: %v", err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	default:
		return status.Errorf(codes.Internal, "query audio: %v", err)
	}
}

// voiceMetrics counts transcribed queries.
type voiceMetrics struct {
	queries *prometheus.CounterVec
	seconds prometheus.Counter
}

func newVoiceMetrics() *voiceMetrics {
	return &voiceMetrics{
		queries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omnirank_speech_queries_total",
			Help: "Query clips transcribed, by result: words (a transcript) or empty (no words recognised).",
		}, []string{"result"}),
		seconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "omnirank_speech_query_audio_seconds_total",
			Help: "Seconds of query audio transcribed.",
		}),
	}
}

func (m *voiceMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.queries, m.seconds}
}

func (m *voiceMetrics) transcribed(t speech.Transcript) {
	result := "words"
	if t.Text == "" {
		result = "empty"
	}
	m.queries.WithLabelValues(result).Inc()
	m.seconds.Add(t.Audio.Seconds())
}
