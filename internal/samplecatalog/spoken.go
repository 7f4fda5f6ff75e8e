package samplecatalog

import (
	"context"
	"encoding/binary"
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
	return os.WriteFile(dst, wav16(s, SampleRate), 0o644)
}

// wav16 encodes samples as a mono 16-bit PCM WAV file.
func wav16(samples []float32, rate int) []byte {
	n := len(samples) * 2
	b := make([]byte, 44+n)
	copy(b, "RIFF")
	binary.LittleEndian.PutUint32(b[4:], uint32(36+n))
	copy(b[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(b[16:], 16)
	binary.LittleEndian.PutUint16(b[20:], 1) // PCM
	binary.LittleEndian.PutUint16(b[22:], 1) // mono
	binary.LittleEndian.PutUint32(b[24:], uint32(rate))
	binary.LittleEndian.PutUint32(b[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(b[32:], 2)
	binary.LittleEndian.PutUint16(b[34:], 16)
	copy(b[36:], "data")
	binary.LittleEndian.PutUint32(b[40:], uint32(n))
	for i, x := range samples {
		v := math.Round(float64(x) * 32767)
		binary.LittleEndian.PutUint16(b[44+2*i:], uint16(int16(max(-32768, min(32767, v)))))
	}
	return b
}
