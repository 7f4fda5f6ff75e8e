package speech

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/omnirank/omnirank/extractors/preprocess"
	"github.com/omnirank/omnirank/internal/option"
)

// decoder is one recogniser, used by one goroutine at a time.
type decoder interface {
	start() error
	process(pcm []int16) error
	end() (hypothesis, error)
	free()
}

// hypothesis is a decoder's raw answer.
type hypothesis struct {
	text  string
	prob  float64
	words []Word
}

// generation is a set of decoders on one language model. A hot swap
// retires the current generation; it is freed when its last call is done.
type generation struct {
	version string
	free    chan decoder
	all     []decoder
	refs    int  // calls holding the generation; guarded by Pool.mu
	retired bool // guarded by Pool.mu
}

func (g *generation) destroy() {
	for _, d := range g.all {
		d.free()
	}
	g.all = nil
}

// Pool is a set of PocketSphinx decoders; safe for concurrent use.
type Pool struct {
	cfg   config
	model string
	swap  sync.Mutex // serialises SetLanguageModel and Close
	mu    sync.Mutex
	cur   *generation
	live  sync.WaitGroup // generations not yet freed
}

// NewPool starts WithSize decoders on the acoustic model and the language
// model (WithLanguageModel, else the general en-us model).
func NewPool(opts ...Option) (*Pool, error) {
	cfg := defaultConfig()
	if err := option.Apply(&cfg, opts...); err != nil {
		return nil, err
	}
	if err := linked(); err != nil {
		return nil, err
	}
	if err := cfg.checkFiles(); err != nil {
		return nil, err
	}
	p := &Pool{cfg: cfg, model: cfg.modelName()}
	g, err := p.newGeneration(cfg.lm)
	if err != nil {
		return nil, err
	}
	p.cur = g
	p.live.Add(1)
	return p, nil
}

func (p *Pool) newGeneration(lm *LanguageModel) (*generation, error) {
	start := time.Now()
	dict, lmPath, version := p.cfg.dict, p.cfg.generalLM, ""
	if lm != nil {
		// PocketSphinx reads its files at start; the folder goes after.
		dir, err := os.MkdirTemp("", "omnirank-speech-lm-*")
		if err != nil {
			return nil, fmt.Errorf("speech: %w", err)
		}
		defer os.RemoveAll(dir)
		if err := lm.WriteDir(dir); err != nil {
			return nil, err
		}
		dict, lmPath, version = filepath.Join(dir, dictFile), filepath.Join(dir, arpaFile), lm.Version()
	}
	g := &generation{version: version, free: make(chan decoder, p.cfg.size)}
	for range p.cfg.size {
		d, err := newDecoder(p.cfg.hmm, dict, lmPath)
		if err != nil {
			g.destroy()
			return nil, err
		}
		g.all = append(g.all, d)
		g.free <- d
	}
	p.cfg.logger.Info("speech: decoders ready", "model", p.model, "language_model", versionName(version),
		"decoders", p.cfg.size, "took", time.Since(start))
	return g, nil
}

func versionName(v string) string {
	if v == "" {
		return "general en-us"
	}
	return v
}

// SetLanguageModel starts new decoders on lm (nil: the general en-us
// model) and swaps them in; calls in flight finish on the old decoders,
// which are freed after them. On error the pool keeps its model.
func (p *Pool) SetLanguageModel(lm *LanguageModel) error {
	p.swap.Lock()
	defer p.swap.Unlock()
	p.mu.Lock()
	closed := p.cur == nil
	p.mu.Unlock()
	if closed {
		return fmt.Errorf("speech: set language model: %w", ErrClosed)
	}
	g, err := p.newGeneration(lm)
	if err != nil {
		return err
	}
	p.live.Add(1)
	p.mu.Lock()
	old := p.cur
	p.cur = g
	p.mu.Unlock()
	p.retire(old)
	return nil
}

// LanguageModel returns the version of the language model in use ("" for
// the general en-us model).
func (p *Pool) LanguageModel() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return ""
	}
	return p.cur.version
}

// retire marks g for freeing once no call holds it.
func (p *Pool) retire(g *generation) {
	p.mu.Lock()
	g.retired = true
	now := g.refs == 0
	p.mu.Unlock()
	if now {
		g.destroy()
		p.live.Done()
	}
}

func (p *Pool) hold() (*generation, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil, fmt.Errorf("speech: %w", ErrClosed)
	}
	p.cur.refs++
	return p.cur, nil
}

func (p *Pool) release(g *generation) {
	p.mu.Lock()
	g.refs--
	now := g.retired && g.refs == 0
	p.mu.Unlock()
	if now {
		g.destroy()
		p.live.Done()
	}
}

// Close stops new calls, waits for the calls in flight and frees every
// decoder. It is safe to call more than once.
func (p *Pool) Close() error {
	p.swap.Lock()
	defer p.swap.Unlock()
	p.mu.Lock()
	g := p.cur
	p.cur = nil
	p.mu.Unlock()
	if g != nil {
		p.retire(g)
	}
	p.live.Wait()
	return nil
}

// Transcribe decodes audio bytes (WAV, FLAC or MP3: whatever
// preprocess.DecodeAudio reads), resampled to 16 kHz mono, and transcribes
// them. Audio longer than WithMaxAudio fails with ErrTooLong, from the
// header before the samples are decoded where the format declares its
// length; undecodable bytes with ErrBadAudio.
func (p *Pool) Transcribe(ctx context.Context, audio []byte) (Transcript, error) {
	samples, err := preprocess.DecodeAudio(audio, preprocess.AudioSpec{SampleRate: SampleRate, MaxSeconds: p.cfg.maxAudio.Seconds()})
	switch {
	case errors.Is(err, preprocess.ErrTooLong):
		return Transcript{}, fmt.Errorf("speech: %w: %w", ErrTooLong, err)
	case err != nil:
		return Transcript{}, fmt.Errorf("speech: %w: %w", ErrBadAudio, err)
	}
	return p.TranscribePCM(ctx, samples)
}

// TranscribePCM transcribes 16 kHz mono samples in [-1, 1]. Silence gives
// a Transcript with Text "" and no error. The call returns by its timeout
// (ErrTimeout) or ctx's end, whichever is first, even while a decoder is
// still busy: the decoder then stops at its next 0.25 s chunk and goes back
// to the pool.
func (p *Pool) TranscribePCM(ctx context.Context, samples16k []float32) (Transcript, error) {
	audio := time.Duration(len(samples16k)) * time.Second / SampleRate
	if audio > p.cfg.maxAudio {
		return Transcript{}, fmt.Errorf("speech: %w: %v of audio, over the limit of %v", ErrTooLong, audio, p.cfg.maxAudio)
	}
	pcm := make([]int16, len(samples16k))
	for i, v := range samples16k {
		switch {
		case v != v:
			return Transcript{}, fmt.Errorf("speech: %w: sample %d is NaN", ErrBadAudio, i)
		case v >= 1:
			pcm[i] = math.MaxInt16
		case v <= -1:
			pcm[i] = -math.MaxInt16
		default:
			pcm[i] = int16(math.Round(float64(v) * math.MaxInt16))
		}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, p.cfg.timeout, errCallTimeout)
	defer cancel()
	g, err := p.hold()
	if err != nil {
		return Transcript{}, err
	}
	var d decoder
	select {
	case d = <-g.free:
	case <-ctx.Done():
		p.release(g)
		return Transcript{}, p.ctxErr(ctx, "waiting for a decoder")
	}
	type result struct {
		h   hypothesis
		err error
	}
	done := make(chan result, 1)
	var abandon atomic.Bool
	go func() {
		h, err := run(d, pcm, &abandon)
		g.free <- d // back before release: a retired generation frees them all
		done <- result{h, err}
		p.release(g)
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return Transcript{}, r.err
		}
		return p.transcript(r.h, audio, g.version), nil
	case <-ctx.Done():
		abandon.Store(true)
		return Transcript{}, p.ctxErr(ctx, "decoding")
	}
}

var errCallTimeout = errors.New("speech call timeout")

func (p *Pool) ctxErr(ctx context.Context, stage string) error {
	if context.Cause(ctx) == errCallTimeout {
		return fmt.Errorf("speech: %w after %v, %s", ErrTimeout, p.cfg.timeout, stage)
	}
	return fmt.Errorf("speech: %s: %w", stage, ctx.Err())
}

// run decodes pcm in chunks, stopping early when abandon is set; the
// utterance is always ended so the decoder is ready for the next call.
func run(d decoder, pcm []int16, abandon *atomic.Bool) (hypothesis, error) {
	if err := d.start(); err != nil {
		return hypothesis{}, err
	}
	var perr error
	for lo := 0; lo < len(pcm) && !abandon.Load(); lo += chunk {
		if perr = d.process(pcm[lo:min(lo+chunk, len(pcm))]); perr != nil {
			break
		}
	}
	h, err := d.end()
	if perr != nil {
		return hypothesis{}, perr
	}
	return h, err
}

// transcript turns a hypothesis into a Transcript: fillers (<s>, <sil>,
// [NOISE]…) dropped, pronunciation variants ("word(2)") reduced to words.
func (p *Pool) transcript(h hypothesis, audio time.Duration, version string) Transcript {
	t := Transcript{Audio: audio, Model: p.model, LanguageModel: version}
	var text []string
	for _, w := range h.words {
		w.Text = baseWord(w.Text)
		if w.Text == "" {
			continue
		}
		w.Confidence = clamp01(w.Confidence)
		t.Words = append(t.Words, w)
		text = append(text, w.Text)
	}
	if len(t.Words) == 0 { // no segmentation: fall back to the hypothesis text
		for _, f := range strings.Fields(h.text) {
			if w := baseWord(f); w != "" {
				text = append(text, w)
			}
		}
	}
	t.Text = strings.Join(text, " ")
	if t.Text != "" {
		t.Confidence = clamp01(h.prob)
	}
	return t
}

// baseWord strips a variant suffix and returns "" for fillers.
func baseWord(w string) string {
	if w == "" || w[0] == '<' || w[0] == '[' || w[0] == '+' {
		return ""
	}
	if i := strings.IndexByte(w, '('); i > 0 && strings.HasSuffix(w, ")") {
		w = w[:i]
	}
	return w
}

func clamp01(v float64) float64 {
	if v != v || v < 0 {
		return 0
	}
	return min(v, 1)
}
