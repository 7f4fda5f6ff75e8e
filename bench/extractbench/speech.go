package extractbench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/omnirank/omnirank/extractors"
	"github.com/omnirank/omnirank/extractors/preprocess"
	"github.com/omnirank/omnirank/extractors/speech"
)

// Speech clips for the recogniser: product titles said by espeak-ng in a
// voice and at a rate other than the sample catalogue's voice-overs.
const (
	SpeechVoice = "en-gb"
	SpeechSpeed = 140
	// speechClips distinct titles are spoken and reused round-robin.
	speechClips = 8
)

// ErrNoSpeech: the speech measurement cannot run here (PocketSphinx, its
// model or espeak-ng missing).
var ErrNoSpeech = errors.New("speech benchmark unavailable")

// MeasureSpeech times the speech recogniser (modality "speech"): a pool
// of Clients PocketSphinx decoders on a language model of the benchmark's
// product titles, fed WAV clips of spoken titles. The pipeline path is
// Transcribe (WAV bytes → decode → resample → recognise), the bare path
// TranscribePCM on ready 16 kHz samples; both from Clients goroutines.
// Items/s, and the pipeline's milliseconds per second of audio at p50 and
// p99 over every call of every round, are reported.
func MeasureSpeech(ctx context.Context, opts BenchOptions) (BenchResult, error) {
	if err := opts.defaults(); err != nil {
		return BenchResult{}, err
	}
	if err := speech.Available(); err != nil {
		return BenchResult{}, fmt.Errorf("%w: %w", ErrNoSpeech, err)
	}
	texts, err := Inputs(extractors.Text, 64)
	if err != nil {
		return BenchResult{}, err
	}
	corpus := make([]string, len(texts))
	for i, t := range texts {
		corpus[i] = spokenTitle(string(t))
	}
	lm, err := speech.BuildLanguageModel(corpus)
	if err != nil {
		return BenchResult{}, err
	}
	wavs, err := speakAll(ctx, corpus[:speechClips])
	if err != nil {
		return BenchResult{}, err
	}
	pcm := make([][]float32, len(wavs))
	secs := make([]float64, len(wavs))
	for i, w := range wavs {
		if pcm[i], err = preprocess.DecodeAudio(w, preprocess.AudioSpec{SampleRate: speech.SampleRate}); err != nil {
			return BenchResult{}, fmt.Errorf("bench speech: %w", err)
		}
		secs[i] = float64(len(pcm[i])) / speech.SampleRate
	}
	pool, err := speech.NewPool(speech.WithSize(opts.Clients), speech.WithLanguageModel(lm), speech.WithLogger(opts.Logger))
	if err != nil {
		return BenchResult{}, err
	}
	defer pool.Close()
	n := opts.SpeechItems
	run := func(bare bool, record []float64) (float64, error) {
		var next atomic.Int64
		var g errgroup.Group
		start := time.Now()
		for range opts.Clients {
			g.Go(func() error {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return nil
					}
					c := i % len(wavs)
					t0 := time.Now()
					var err error
					if bare {
						_, err = pool.TranscribePCM(ctx, pcm[c])
					} else {
						_, err = pool.Transcribe(ctx, wavs[c])
					}
					if err != nil {
						return err
					}
					if record != nil {
						record[i] = time.Since(t0).Seconds() * 1000 / secs[c]
					}
				}
			})
		}
		if err := g.Wait(); err != nil {
			return 0, err
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	if _, err := run(false, nil); err != nil { // warm up
		return BenchResult{}, err
	}
	var perSecond []float64
	pipes, bares, ratios := make([]float64, opts.Rounds), make([]float64, opts.Rounds), make([]float64, opts.Rounds)
	var audio float64
	for i := range n {
		audio += secs[i%len(secs)]
	}
	for r := range opts.Rounds {
		record := make([]float64, n)
		if pipes[r], err = run(false, record); err != nil {
			return BenchResult{}, err
		}
		perSecond = append(perSecond, record...)
		if bares[r], err = run(true, nil); err != nil {
			return BenchResult{}, err
		}
		ratios[r] = pipes[r] / bares[r]
	}
	slices.Sort(perSecond)
	return BenchResult{
		Modality: "speech", Model: "pocketsphinx-en-us", BatchSize: 1, Items: n, Rounds: opts.Rounds,
		PipelineItemsPerS: median(pipes), BareItemsPerS: median(bares), Ratio: median(ratios),
		AudioSecondsPerItem: audio / float64(n),
		MsPerAudioSecondP50: quantile(perSecond, 0.5), MsPerAudioSecondP99: quantile(perSecond, 0.99),
	}, nil
}

// quantile of sorted xs (nearest rank).
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	i := int(q*float64(len(xs))+0.999999) - 1
	return xs[min(max(i, 0), len(xs)-1)]
}

// spokenTitle keeps the first five words of a benchmark title: a product
// name as a shopper would say it.
func spokenTitle(t string) string {
	f := strings.Fields(t)
	return strings.Join(f[:min(5, len(f))], " ")
}

// speakAll says each text with espeak-ng and returns the WAV bytes.
func speakAll(ctx context.Context, texts []string) ([][]byte, error) {
	espeak, err := exec.LookPath("espeak-ng")
	if err != nil {
		return nil, fmt.Errorf("%w: espeak-ng not installed (apt-get install espeak-ng)", ErrNoSpeech)
	}
	dir, err := os.MkdirTemp("", "omnirank-bench-speech-*")
	if err != nil {
		return nil, fmt.Errorf("bench speech: %w", err)
	}
	defer os.RemoveAll(dir)
	out := make([][]byte, len(texts))
	var mu sync.Mutex
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for i, t := range texts {
		g.Go(func() error {
			path := filepath.Join(dir, strconv.Itoa(i)+".wav")
			cmd := exec.CommandContext(ctx, espeak, "-v", SpeechVoice, "-s", strconv.Itoa(SpeechSpeed), "-w", path, "--stdin")
			cmd.Stdin = strings.NewReader(t)
			if b, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("bench speech: espeak-ng %q: %w: %s", t, err, strings.TrimSpace(string(b)))
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return fmt.Errorf("bench speech: %w", err)
			}
			mu.Lock()
			out[i] = b
			mu.Unlock()
			return nil
		})
	}
	return out, g.Wait()
}
