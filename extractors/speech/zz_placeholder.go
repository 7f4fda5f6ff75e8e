// Package speech turns speech into text with PocketSphinx.
//
// PLACEHOLDER (lead's branch only): the API the speech branch implements,
// so that callers compile before it is merged. Deleted at the merge.
package speech

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"
)

type Word struct {
	Text       string
	Start, End time.Duration
	Confidence float64
}

type Transcript struct {
	Text          string
	Confidence    float64
	Words         []Word
	Audio         time.Duration
	Model         string
	LanguageModel string
}

var (
	ErrUnavailable = errors.New("speech recognition unavailable")
	ErrTimeout     = errors.New("speech recognition timed out")
	ErrTooLong     = errors.New("audio too long")
	ErrBadAudio    = errors.New("bad audio")
)

func Available() error { return ErrUnavailable }

type config struct{}
type Option func(*config) error

func WithAcousticModel(dir string) Option        { return nil }
func WithDictionary(path string) Option          { return nil }
func WithLanguageModel(lm *LanguageModel) Option { return nil }
func WithSize(n int) Option                      { return nil }
func WithTimeout(d time.Duration) Option         { return nil }
func WithMaxAudio(d time.Duration) Option        { return nil }
func WithLogger(l *slog.Logger) Option           { return nil }

type Pool struct{}

func NewPool(opts ...Option) (*Pool, error) { return nil, ErrUnavailable }
func (p *Pool) Transcribe(ctx context.Context, audio []byte) (Transcript, error) {
	return Transcript{}, ErrUnavailable
}
func (p *Pool) TranscribePCM(ctx context.Context, s []float32) (Transcript, error) {
	return Transcript{}, ErrUnavailable
}
func (p *Pool) SetLanguageModel(lm *LanguageModel) error { return nil }
func (p *Pool) LanguageModel() string                    { return "" }
func (p *Pool) Close() error                             { return nil }

type G2P interface {
	Pronounce(word string) ([]string, error)
}

type LanguageModel struct{ version string }
type lmConfig struct{}
type LMOption func(*lmConfig) error

func WithBaseDictionary(path string) LMOption { return nil }
func WithG2P(g G2P) LMOption                  { return nil }
func WithExtraPhrases(p []string) LMOption    { return nil }
func BuildLanguageModel(corpus []string, opts ...LMOption) (*LanguageModel, error) {
	return &LanguageModel{version: "x"}, nil
}
func (lm *LanguageModel) Version() string           { return lm.version }
func (lm *LanguageModel) ARPA() []byte              { return nil }
func (lm *LanguageModel) Dictionary() []byte        { return nil }
func (lm *LanguageModel) Words() int                { return 0 }
func (lm *LanguageModel) OOV() []string             { return nil }
func (lm *LanguageModel) WriteDir(dir string) error { return nil }
func LoadLanguageModel(dir string) (*LanguageModel, error) {
	return nil, ErrUnavailable
}
func Normalize(text string) []string           { return strings.Fields(strings.ToLower(text)) }
func WER(reference, hypothesis string) float64 { return 0 }
