// Package speechtest makes spoken test clips with espeak-ng (Debian
// package espeak-ng, installed by `make deps`) for the speech tests, and
// skips a test that needs a recogniser where there is none.
package speechtest

import (
	"context"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/omnirank/omnirank/extractors/preprocess"
)

// Espeak is the espeak-ng binary the clips are made with.
const Espeak = "/usr/bin/espeak-ng"

// NeedRecognizer skips t unless available (speech.Available) says speech
// recognition is there. It takes the function so that this package does
// not import extractors/speech, whose own tests use it.
func NeedRecognizer(t testing.TB, available func() error) {
	t.Helper()
	if err := available(); err != nil {
		t.Skipf("speech recognition unavailable: %v (install libpocketsphinx-dev and pocketsphinx-en-us: make deps)", err)
	}
}

// Say returns text spoken by espeak-ng's voice at wpm words per minute as
// a WAV file (22.05 kHz mono 16-bit, espeak-ng's own rate). It skips t
// when espeak-ng is missing.
func Say(t testing.TB, text, voice string, wpm int) []byte {
	t.Helper()
	if _, err := os.Stat(Espeak); err != nil {
		t.Skipf("espeak-ng not installed (make deps): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "say.wav")
	cmd := exec.CommandContext(ctx, Espeak, "-v", voice, "-s", strconv.Itoa(wpm), "-w", out, "--stdin")
	cmd.Stdin = strings.NewReader(text)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng %q: %v: %s", text, err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Silence returns seconds of digital silence as a 16 kHz mono 16-bit WAV.
func Silence(seconds float64) []byte {
	return preprocess.EncodeWAV(make([]float32, int(seconds*16000)), 16000)
}

// LongWAVHeader returns the header of a 16 kHz mono 16-bit WAV file that
// declares seconds of audio, followed by one second of it: a clip whose
// header says it is too long.
func LongWAVHeader(seconds float64) []byte {
	b := Silence(1)
	n := uint32(seconds * 16000 * 2)
	binary.LittleEndian.PutUint32(b[4:], 36+n)
	binary.LittleEndian.PutUint32(b[40:], n)
	return b
}
