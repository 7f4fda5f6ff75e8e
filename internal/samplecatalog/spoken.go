package samplecatalog

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/omnirank/omnirank/extractors/preprocess"
	"github.com/omnirank/omnirank/storage"
)

// Spoken queries (issue 16): product titles said by espeak-ng voices and
// rates other than the product voice-overs' (ProductVoice at
// ProductSpeed), each clean and with added noise, labelled with the
// product and the words said, for `omnirank eval --audio-mode …`.
const (
	SpokenQueriesFile = "spoken.jsonl"
	// SpokenDir holds the clips, under QueriesDir.
	SpokenDir = "spoken"
	// SpokenEvery: every SpokenEvery-th product gets spoken queries.
	SpokenEvery = 6
	// SpokenSNR is the signal-to-noise ratio of the noisy clips, in dB.
	SpokenSNR = 10
)

// SpokenVoice is one espeak-ng voice and rate the spoken queries use.
type SpokenVoice struct {
	Voice string
	Speed int
}

// SpokenVoices are the spoken queries' voices: none is the product
// voice-overs' voice or rate.
var SpokenVoices = []SpokenVoice{{"en-gb", 140}, {"en-gb-scotland", 170}, {"en-us+f3", 130}}

// SpokenQuery is one line of the spoken query file, in omnirank eval's
// query format.
type SpokenQuery struct {
	ID       string   `json:"id"`
	Audio    string   `json:"audio"`
	Said     string   `json:"said"`
	Relevant []string `json:"relevant"`
}

// writeSpoken writes queries/spoken.jsonl and its clips under root.
func (b *Builder) writeSpoken(ctx context.Context, t tools, root string, products []storage.Product) (int, error) {
	dir := filepath.Join(root, QueriesDir, SpokenDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("spoken queries: %w", err)
	}
	type job struct {
		p     storage.Product
		voice SpokenVoice
		name  string
	}
	var jobs []job
	for i := 0; i < len(products); i += SpokenEvery {
		for vi, v := range SpokenVoices {
			jobs = append(jobs, job{products[i], v, fmt.Sprintf("%s-v%d", products[i].ID, vi+1)})
		}
	}
	var qs []SpokenQuery
	for _, j := range jobs {
		for _, noisy := range []bool{false, true} {
			name := j.name
			if noisy {
				name += "-noise"
			}
			qs = append(qs, SpokenQuery{ID: "spoken-" + name, Audio: SpokenDir + "/" + name + ".wav",
				Said: strings.ToLower(j.p.Title), Relevant: []string{j.p.ID}})
		}
	}
	err := runPool(ctx, b.workers, len(jobs), func(ctx context.Context, i int) error {
		j := jobs[i]
		clean := filepath.Join(dir, j.name+".wav")
		if err := speak(ctx, t, strings.ToLower(j.p.Title), j.voice.Voice, j.voice.Speed, clean); err != nil {
			return fmt.Errorf("spoken query %s: %w", j.name, err)
		}
		return addNoise(clean, filepath.Join(dir, j.name+"-noise.wav"), SpokenSNR, uint64(i))
	})
	if err != nil {
		return 0, err
	}
	if err := writeJSONL(filepath.Join(root, QueriesDir, SpokenQueriesFile), qs); err != nil {
		return 0, err
	}
	return len(qs), nil
}

// addNoise writes src with Gaussian white noise at snrDB (relative to the
// clip's power) to dst, 16 kHz mono 16-bit; seed makes it repeatable.
func addNoise(src, dst string, snrDB float64, seed uint64) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	s, err := preprocess.DecodeAudio(data, preprocess.AudioSpec{SampleRate: SampleRate})
	if err != nil {
		return fmt.Errorf("decode %s: %w", src, err)
	}
	var power float64
	for _, x := range s {
		power += float64(x) * float64(x)
	}
	power /= float64(max(len(s), 1))
	sigma := math.Sqrt(power / math.Pow(10, snrDB/10))
	rng := rand.New(rand.NewPCG(seed, 16))
	for i := range s {
		s[i] += float32(rng.NormFloat64() * sigma)
	}
	return os.WriteFile(dst, preprocess.EncodeWAV(s, SampleRate), 0o644)
}
