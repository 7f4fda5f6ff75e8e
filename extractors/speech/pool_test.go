package speech

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnirank/omnirank/extractors/preprocess"
	"github.com/omnirank/omnirank/internal/option"
)

// queryVoice is not the voice the catalogue's voice-overs use (en-us, 160
// words per minute): the tests hear product titles said by someone else.
const (
	queryVoice = "en-gb"
	querySpeed = 140
)

func newTestPool(t *testing.T, opts ...Option) *Pool {
	t.Helper()
	needSphinx(t)
	p, err := NewPool(append([]Option{WithSize(2)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func titleLM(t testing.TB) *LanguageModel {
	t.Helper()
	lm, err := BuildLanguageModel(titles)
	if err != nil {
		t.Fatal(err)
	}
	return lm
}

// nearest returns the title sharing the most words with text (Jaccard).
func nearest(text string) string {
	hyp := Normalize(text)
	best, bestScore := "", -1.0
	for _, title := range titles {
		ref := Normalize(title)
		inter := 0
		for _, w := range slices.Compact(slices.Sorted(slices.Values(ref))) {
			if slices.Contains(hyp, w) {
				inter++
			}
		}
		union := len(slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(ref), hyp...)))))
		if s := float64(inter) / float64(union); s > bestScore {
			best, bestScore = title, s
		}
	}
	return best
}

// wav16 writes 16-bit mono PCM samples as a WAV file.
func wav16(samples []float32, rate int) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	b.WriteString("RIFF")
	binary.Write(&b, le, uint32(36+2*len(samples)))
	b.WriteString("WAVEfmt ")
	binary.Write(&b, le, uint32(16))
	binary.Write(&b, le, uint16(1))
	binary.Write(&b, le, uint16(1))
	binary.Write(&b, le, uint32(rate))
	binary.Write(&b, le, uint32(2*rate))
	binary.Write(&b, le, uint16(2))
	binary.Write(&b, le, uint16(16))
	b.WriteString("data")
	binary.Write(&b, le, uint32(2*len(samples)))
	for _, s := range samples {
		binary.Write(&b, le, int16(s*32767))
	}
	return b.Bytes()
}

// TestTranscribeTitles speaks catalogue titles in another voice than the
// catalogue's and checks that the transcript finds the title.
func TestTranscribeTitles(t *testing.T) {
	lm := titleLM(t)
	p := newTestPool(t, WithLanguageModel(lm))
	ctx := context.Background()
	// Asserted: these must come back close enough to find their title.
	for _, title := range []string{"Organic green tea", "Bluetooth portable speaker", "Stainless steel water bottle", "Red running shoes"} {
		tr, err := p.Transcribe(ctx, speak(t, title, queryVoice, querySpeed))
		if err != nil {
			t.Fatal(err)
		}
		w := WER(title, tr.Text)
		t.Logf("%q → %q (confidence %.3f, WER %.2f)", title, tr.Text, tr.Confidence, w)
		if w > 0.5 {
			t.Errorf("%q heard as %q: WER %.2f > 0.5", title, tr.Text, w)
		}
		if got := nearest(tr.Text); got != title {
			t.Errorf("%q heard as %q, nearest title %q", title, tr.Text, got)
		}
		if tr.LanguageModel != lm.Version() || tr.Model != "pocketsphinx-en-us" || tr.Audio < time.Second {
			t.Errorf("transcript metadata: %+v", tr)
		}
		if tr.Confidence <= 0 || tr.Confidence > 1 || len(tr.Words) == 0 {
			t.Errorf("confidence %v, %d words", tr.Confidence, len(tr.Words))
		}
		for i, wd := range tr.Words {
			if wd.End <= wd.Start || wd.End > tr.Audio+50*time.Millisecond || (i > 0 && wd.Start < tr.Words[i-1].End) {
				t.Errorf("word %d %+v out of order within %v of audio", i, wd, tr.Audio)
			}
		}
		if strings.Join(wordTexts(tr.Words), " ") != tr.Text {
			t.Errorf("words %v do not spell %q", wordTexts(tr.Words), tr.Text)
		}
	}
}

func wordTexts(ws []Word) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Text
	}
	return out
}

// TestTranscribeAllTitlesWER measures the word error rate and how often
// the nearest title is the spoken one over the whole little catalogue.
func TestTranscribeAllTitlesWER(t *testing.T) {
	if testing.Short() {
		t.Skip("speaks and transcribes 30 titles")
	}
	p := newTestPool(t, WithLanguageModel(titleLM(t)))
	var refs, errs, found int
	for _, title := range titles {
		tr, err := p.Transcribe(context.Background(), speak(t, title, queryVoice, querySpeed))
		if err != nil {
			t.Fatal(err)
		}
		c := CountWER(title, tr.Text)
		refs += c.Reference
		errs += c.Errors()
		if nearest(tr.Text) == title {
			found++
		}
	}
	wer := float64(errs) / float64(refs)
	t.Logf("%d titles (%s, %d wpm): WER %.3f, nearest title right %d/%d", len(titles), queryVoice, querySpeed, wer, found, len(titles))
	if found < len(titles)/2 {
		t.Errorf("the nearest title was right for %d of %d", found, len(titles))
	}
}

func TestTranscribeSilenceAndNoise(t *testing.T) {
	p := newTestPool(t, WithLanguageModel(titleLM(t)), WithTimeout(20*time.Second))
	ctx := context.Background()
	silence := make([]float32, 3*SampleRate)
	tr, err := p.TranscribePCM(ctx, silence)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Text != "" || len(tr.Words) != 0 || tr.Confidence != 0 || tr.Audio != 3*time.Second {
		t.Fatalf("silence heard as %+v", tr)
	}
	// Quiet hiss is silence too.
	r := rand.New(rand.NewPCG(1, 2))
	hiss := make([]float32, 3*SampleRate)
	for i := range hiss {
		hiss[i] = float32(r.NormFloat64() * 0.001)
	}
	if tr, err := p.Transcribe(ctx, wav16(hiss, 22050)); err != nil || tr.Text != "" {
		t.Fatalf("hiss heard as %q, %v", tr.Text, err)
	}
	// Loud white noise: a result (any words, low confidence) in time.
	noise := make([]float32, 4*SampleRate)
	for i := range noise {
		noise[i] = float32(r.NormFloat64() * 0.3)
	}
	tr, err = p.TranscribePCM(ctx, noise)
	if err != nil {
		t.Fatalf("noise: %v", err)
	}
	t.Logf("white noise heard as %q, confidence %.3f", tr.Text, tr.Confidence)
	if tr.Confidence > 0.5 {
		t.Errorf("noise heard as %q with confidence %.3f", tr.Text, tr.Confidence)
	}
}

func TestTranscribeBadAudio(t *testing.T) {
	p := newTestPool(t, WithMaxAudio(120*time.Second), WithLanguageModel(titleLM(t)))
	ctx := context.Background()
	clip := wav16(make([]float32, SampleRate), SampleRate)
	for name, data := range map[string][]byte{
		"truncated WAV": clip[:len(clip)/2],
		"not audio":     []byte("this is not audio"),
		"empty":         nil,
	} {
		_, err := p.Transcribe(ctx, data)
		if !errors.Is(err, ErrBadAudio) || !errors.Is(err, preprocess.ErrBadInput) || errors.Is(err, ErrTooLong) {
			t.Errorf("%s: %v, want ErrBadAudio", name, err)
		}
	}
	if _, err := p.TranscribePCM(ctx, []float32{0, float32(math.NaN())}); !errors.Is(err, ErrBadAudio) {
		t.Errorf("NaN sample: %v", err)
	}
}

func TestTranscribeTooLong(t *testing.T) {
	p := newTestPool(t, WithLanguageModel(titleLM(t)))
	ctx := context.Background()
	// A real ten-minute WAV: refused from its header.
	long := wav16(make([]float32, 10*60*SampleRate), SampleRate)
	_, err := p.Transcribe(ctx, long)
	if !errors.Is(err, ErrTooLong) || !strings.Contains(err.Error(), "600.00 s") {
		t.Fatalf("ten minutes: %v", err)
	}
	_, err = p.TranscribePCM(ctx, make([]float32, 121*SampleRate))
	if !errors.Is(err, ErrTooLong) {
		t.Fatalf("121 s of samples: %v", err)
	}
}

// longClip is about 20 s of speech: a title said again and again.
func longClip(t *testing.T) []float32 {
	one := pcm16k(t, speak(t, strings.Repeat("Wireless noise cancelling headphones. ", 8), queryVoice, querySpeed))
	return append(slices.Clone(one), one...)
}

func TestTranscribeTimeout(t *testing.T) {
	clip := longClip(t)
	p := newTestPool(t, WithSize(1), WithTimeout(50*time.Millisecond), WithLanguageModel(titleLM(t)))
	_, err := p.TranscribePCM(context.Background(), clip)
	if !errors.Is(err, ErrTimeout) {
		t.Fatalf("%v of audio in 50ms: %v, want ErrTimeout", time.Duration(len(clip))*time.Second/SampleRate, err)
	}
	// The caller's own cancellation is reported as such.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.TranscribePCM(ctx, clip); !errors.Is(err, context.Canceled) || errors.Is(err, ErrTimeout) {
		t.Fatalf("cancelled: %v", err)
	}
	// The abandoned decode gives its decoder back: Close (cleanup) returns.
}

// TestPoolConcurrent runs 8 goroutines on a pool of 2 while the language
// model is swapped, under -race: each clip gets the same words every time
// from the same model version, whatever ran on the decoder before.
func TestPoolConcurrent(t *testing.T) {
	lmA := titleLM(t)
	lmB, err := BuildLanguageModel(titles[:15])
	if err != nil {
		t.Fatal(err)
	}
	p := newTestPool(t, WithLanguageModel(lmA))
	clips := [][]float32{
		pcm16k(t, speak(t, "Organic green tea", queryVoice, querySpeed)),
		pcm16k(t, speak(t, "Velvet sofa", "en-us+f3", 150)),
		pcm16k(t, speak(t, "Ceramic coffee mug", queryVoice, 170)),
	}
	type key struct {
		clip    int
		version string
	}
	var (
		mu   sync.Mutex
		seen = map[key]string{}
		wg   sync.WaitGroup
	)
	ctx := context.Background()
	for g := range 8 {
		wg.Go(func() {
			for i := range 3 {
				c := (g + i) % len(clips)
				tr, err := p.TranscribePCM(ctx, clips[c])
				if err != nil {
					t.Error(err)
					return
				}
				if tr.LanguageModel != lmA.Version() && tr.LanguageModel != lmB.Version() {
					t.Errorf("language model %q", tr.LanguageModel)
				}
				mu.Lock()
				k := key{c, tr.LanguageModel}
				if prev, ok := seen[k]; ok && prev != tr.Text {
					t.Errorf("clip %d on %s heard as %q and as %q", c, k.version, prev, tr.Text)
				}
				seen[k] = tr.Text
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		for i := range 4 {
			lm := lmB
			if i%2 == 1 {
				lm = lmA
			}
			if err := p.SetLanguageModel(lm); err != nil {
				t.Error(err)
			}
			if got := p.LanguageModel(); got != lm.Version() && got != lmA.Version() && got != lmB.Version() {
				t.Errorf("LanguageModel() = %q", got)
			}
		}
	})
	wg.Wait()
	if p.LanguageModel() != lmA.Version() {
		t.Fatalf("after the swaps: %q", p.LanguageModel())
	}

	// Close waits for the call in flight, which completes. The calls
	// above returned before their goroutines released the generation:
	// wait for those releases, so that a hold seen below is the new call's.
	refs := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.cur.refs
	}
	for refs() > 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		_, err := p.TranscribePCM(ctx, clips[0])
		done <- err
	}()
	for {
		p.mu.Lock()
		busy := p.cur != nil && p.cur.refs > 0
		p.mu.Unlock()
		if busy {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("call in flight during Close: %v", err)
	}
	if _, err := p.TranscribePCM(ctx, clips[0]); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := p.SetLanguageModel(nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("swap after Close: %v", err)
	}
}

func TestGeneralLanguageModel(t *testing.T) {
	if testing.Short() {
		t.Skip("loads the general en-us model (seconds)")
	}
	p := newTestPool(t, WithSize(1))
	tr, err := p.Transcribe(context.Background(), speak(t, "Organic green tea", "en-us", 140))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("general model: %q (confidence %.3f)", tr.Text, tr.Confidence)
	if tr.LanguageModel != "" || p.LanguageModel() != "" || tr.Audio == 0 {
		t.Fatalf("%+v", tr)
	}
}

func TestPoolOptions(t *testing.T) {
	cases := map[string]Option{
		"size 0":          WithSize(0),
		"timeout 0":       WithTimeout(0),
		"max audio 0":     WithMaxAudio(0),
		"nil logger":      WithLogger(nil),
		"empty model dir": WithAcousticModel(""),
		"empty dict":      WithDictionary(""),
	}
	for name, o := range cases {
		if _, err := NewPool(o); !errors.Is(err, option.ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	needSphinx(t)
	if _, err := NewPool(WithAcousticModel(t.TempDir())); !errors.Is(err, ErrUnavailable) {
		t.Errorf("empty model folder: %v", err)
	}
}

func BenchmarkTranscribe(b *testing.B) {
	needSphinx(b)
	lm := titleLM(b)
	p, err := NewPool(WithSize(1), WithLanguageModel(lm), WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	clip := pcm16k(b, speak(b, "Stainless steel water bottle", queryVoice, querySpeed))
	b.ResetTimer()
	for b.Loop() {
		if _, err := p.TranscribePCM(context.Background(), clip); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1000/float64(b.N)/(float64(len(clip))/SampleRate), "ms/audio-s")
}
