package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-audio/wav"
)

// wavSpec describes a WAV file written by makeWAV.
type wavSpec struct {
	tag        uint16 // wavPCM or wavFloat
	bits       int    // 8, 16, 24, 32 (PCM) or 32, 64 (float)
	rate       int
	extensible bool
}

// makeWAV writes frames (frames × channels, values in [-1, 1]) as a RIFF
// WAVE file, quantising to the format. It returns the bytes and the values
// as stored, read back to floats, so tests know exactly what decodes.
func makeWAV(t testing.TB, ws wavSpec, frames [][]float64) ([]byte, [][]float64) {
	t.Helper()
	ch := len(frames[0])
	size := ws.bits / 8
	stored := make([][]float64, len(frames))
	var data bytes.Buffer
	for i, fr := range frames {
		stored[i] = make([]float64, ch)
		for c, v := range fr {
			var b [8]byte
			switch {
			case ws.tag == wavFloat && size == 4:
				binary.LittleEndian.PutUint32(b[:], math.Float32bits(float32(v)))
				stored[i][c] = float64(float32(v))
			case ws.tag == wavFloat && size == 8:
				binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
				stored[i][c] = v
			default:
				full := math.Exp2(float64(ws.bits - 1))
				q := math.Round(v * full)
				q = math.Max(-full, math.Min(full-1, q))
				stored[i][c] = q / full
				iv := int64(q)
				if ws.bits == 8 {
					iv += 128 // unsigned
				}
				for k := 0; k < size; k++ {
					b[k] = byte(iv >> (8 * k))
				}
			}
			data.Write(b[:size])
		}
	}
	var fmtc bytes.Buffer
	tag := ws.tag
	if ws.extensible {
		tag = wavExtensible
	}
	le := binary.LittleEndian
	_ = binary.Write(&fmtc, le, tag)
	_ = binary.Write(&fmtc, le, uint16(ch))
	_ = binary.Write(&fmtc, le, uint32(ws.rate))
	_ = binary.Write(&fmtc, le, uint32(ws.rate*ch*size))
	_ = binary.Write(&fmtc, le, uint16(ch*size))
	_ = binary.Write(&fmtc, le, uint16(ws.bits))
	if ws.extensible {
		_ = binary.Write(&fmtc, le, uint16(22))
		_ = binary.Write(&fmtc, le, uint16(ws.bits))
		_ = binary.Write(&fmtc, le, uint32(0))
		_ = binary.Write(&fmtc, le, ws.tag)
		fmtc.Write([]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71})
	}
	var out bytes.Buffer
	out.WriteString("RIFF")
	_ = binary.Write(&out, le, uint32(4+8+fmtc.Len()+8+data.Len()+data.Len()%2))
	out.WriteString("WAVE")
	// An unrelated odd-sized chunk first, to exercise padding.
	out.WriteString("LIST")
	_ = binary.Write(&out, le, uint32(3))
	out.Write([]byte{'a', 'b', 'c', 0})
	out.WriteString("fmt ")
	_ = binary.Write(&out, le, uint32(fmtc.Len()))
	out.Write(fmtc.Bytes())
	out.WriteString("data")
	_ = binary.Write(&out, le, uint32(data.Len()))
	out.Write(data.Bytes())
	if data.Len()%2 == 1 {
		out.WriteByte(0)
	}
	return out.Bytes(), stored
}

// tone returns n frames of a sine at freq Hz on every channel (channel c
// gets phase offset c radians).
func tone(n, channels, rate int, freq, amp float64) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, channels)
		for c := range out[i] {
			out[i][c] = amp * math.Sin(2*math.Pi*freq*float64(i)/float64(rate)+float64(c))
		}
	}
	return out
}

func noise(r *rand.Rand, n, channels int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = make([]float64, channels)
		for c := range out[i] {
			out[i][c] = r.Float64()*1.98 - 0.99
		}
	}
	return out
}

func monoOf(frames [][]float64) []float64 {
	out := make([]float64, len(frames))
	for i, fr := range frames {
		var s float64
		for _, v := range fr {
			s += v
		}
		out[i] = s / float64(len(fr))
	}
	return out
}

func TestDecodeWAVFormats(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	cases := []struct {
		name     string
		ws       wavSpec
		channels int
	}{
		{"pcm8 mono", wavSpec{wavPCM, 8, 16000, false}, 1},
		{"pcm16 mono", wavSpec{wavPCM, 16, 16000, false}, 1},
		{"pcm16 stereo", wavSpec{wavPCM, 16, 16000, false}, 2},
		{"pcm16 three channels", wavSpec{wavPCM, 16, 16000, false}, 3},
		{"pcm24 stereo", wavSpec{wavPCM, 24, 16000, false}, 2},
		{"pcm32 mono", wavSpec{wavPCM, 32, 16000, false}, 1},
		{"float32 stereo", wavSpec{wavFloat, 32, 16000, false}, 2},
		{"float64 mono", wavSpec{wavFloat, 64, 16000, false}, 1},
		{"extensible pcm24", wavSpec{wavPCM, 24, 16000, true}, 2},
		{"extensible float32", wavSpec{wavFloat, 32, 16000, true}, 1},
		{"odd byte count pcm8", wavSpec{wavPCM, 8, 16000, false}, 1},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := 1001 + i
			data, stored := makeWAV(t, tc.ws, noise(r, n, tc.channels))
			got, err := DecodeAudio(data, AudioSpec{SampleRate: tc.ws.rate})
			if err != nil {
				t.Fatal(err)
			}
			want := monoOf(stored)
			if len(got) != len(want) {
				t.Fatalf("len %d, want %d", len(got), len(want))
			}
			for k := range want {
				if d := math.Abs(float64(got[k]) - want[k]); d > 1e-6 {
					t.Fatalf("sample %d: %v, want %v", k, got[k], want[k])
				}
			}
		})
	}
}

// TestDecodeWAVMatchesGoAudio cross-checks integer PCM against go-audio/wav,
// an independent decoder.
func TestDecodeWAVMatchesGoAudio(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, bits := range []int{16, 24, 32} {
		data, _ := makeWAV(t, wavSpec{wavPCM, bits, 22050, false}, noise(r, 500, 2))
		got, err := DecodeAudio(data, AudioSpec{SampleRate: 22050})
		if err != nil {
			t.Fatal(err)
		}
		dec := wav.NewDecoder(bytes.NewReader(data))
		buf, err := dec.FullPCMBuffer()
		if err != nil {
			t.Fatal(err)
		}
		full := math.Exp2(float64(bits - 1))
		if len(buf.Data) != 2*len(got) {
			t.Fatalf("%d bits: go-audio has %d samples, we have %d frames", bits, len(buf.Data), len(got))
		}
		for i := range got {
			want := (float64(buf.Data[2*i]) + float64(buf.Data[2*i+1])) / 2 / full
			if math.Abs(float64(got[i])-want) > 1e-6 {
				t.Fatalf("%d bits, frame %d: %v, go-audio %v", bits, i, got[i], want)
			}
		}
	}
}

func TestDecodeAudioResamplesTone(t *testing.T) {
	cases := []struct {
		from, to, channels int
		freq               float64
	}{
		{44100, 16000, 2, 1000},
		{48000, 16000, 2, 3000},
		{22050, 16000, 1, 440},
		{8000, 16000, 1, 1000},
	}
	for _, tc := range cases {
		data, _ := makeWAV(t, wavSpec{wavPCM, 16, tc.from, false}, tone(tc.from, tc.channels, tc.from, tc.freq, 0.5))
		got, err := DecodeAudio(data, AudioSpec{SampleRate: tc.to})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.to {
			t.Fatalf("%d→%d: %d samples for 1 s, want %d", tc.from, tc.to, len(got), tc.to)
		}
		// Averaging channels with phase offsets 0 and 1 rad scales the
		// amplitude by cos(0.5).
		amp := 0.5
		if tc.channels == 2 {
			amp *= math.Cos(0.5)
		}
		mid := got[tc.to/4 : 3*tc.to/4]
		fitAmp, residDB := fitSine(mid, tc.freq, tc.to)
		if math.Abs(fitAmp-amp) > amp*0.01 {
			t.Errorf("%d→%d %g Hz: amplitude %v, want %v", tc.from, tc.to, tc.freq, fitAmp, amp)
		}
		if residDB > -60 {
			t.Errorf("%d→%d %g Hz: residual after fitting the tone %.1f dB, want ≤ -60", tc.from, tc.to, tc.freq, residDB)
		}
	}
}

func TestDecodeAudioBadInput(t *testing.T) {
	good, _ := makeWAV(t, wavSpec{wavPCM, 16, 16000, false}, tone(32000, 1, 16000, 440, 0.5)) // 2 s
	withFmt := func(mod func(f []byte)) []byte {
		d := append([]byte{}, good...)
		i := bytes.Index(d, []byte("fmt ")) + 8
		mod(d[i : i+16])
		return d
	}
	le := binary.LittleEndian
	cases := []struct {
		name   string
		data   []byte
		spec   AudioSpec
		reason string
	}{
		{"empty", nil, AudioSpec{SampleRate: 16000}, "empty"},
		{"garbage", []byte("this is not audio at all, sorry"), AudioSpec{SampleRate: 16000}, "unrecognised"},
		{"riff but not wave", append([]byte("RIFF\x00\x00\x00\x00AVI "), good[12:]...), AudioSpec{SampleRate: 16000}, "unrecognised"},
		{"truncated data", good[:len(good)/2], AudioSpec{SampleRate: 16000}, "truncated"},
		{"header only", good[:12], AudioSpec{SampleRate: 16000}, "no fmt"},
		{"truncated fmt", good[:40], AudioSpec{SampleRate: 16000}, "truncated"},
		{"no data chunk", good[:bytes.Index(good, []byte("data"))], AudioSpec{SampleRate: 16000}, "no data"},
		{"too long", good, AudioSpec{SampleRate: 16000, MaxSeconds: 1.5}, "over the limit"},
		{"adpcm", withFmt(func(f []byte) { le.PutUint16(f[0:], 2) }), AudioSpec{SampleRate: 16000}, "unsupported format"},
		{"zero channels", withFmt(func(f []byte) { le.PutUint16(f[2:], 0) }), AudioSpec{SampleRate: 16000}, "channels"},
		{"zero rate", withFmt(func(f []byte) { le.PutUint32(f[4:], 0) }), AudioSpec{SampleRate: 16000}, "sample rate"},
		{"block align zero", withFmt(func(f []byte) { le.PutUint16(f[12:], 0) }), AudioSpec{SampleRate: 16000}, "block align"},
		{"bits over container", withFmt(func(f []byte) { le.PutUint16(f[14:], 24) }), AudioSpec{SampleRate: 16000}, "PCM layout"},
		{"data before fmt", func() []byte {
			var b bytes.Buffer
			b.WriteString("RIFF\x00\x00\x00\x00WAVEdata\x04\x00\x00\x00abcd")
			return b.Bytes()
		}(), AudioSpec{SampleRate: 16000}, "before fmt"},
		{"empty data", func() []byte {
			d, _ := makeWAV(t, wavSpec{wavPCM, 16, 16000, false}, [][]float64{{0}})
			i := bytes.Index(d, []byte("data"))
			d = append([]byte{}, d[:i+4]...)
			return append(d, 0, 0, 0, 0)
		}(), AudioSpec{SampleRate: 16000}, "no samples"},
		{"flac magic then junk", []byte("fLaC\x00\x00\x00\x22garbage"), AudioSpec{SampleRate: 16000}, "flac"},
		{"mp3 sync then junk", []byte{0xFF, 0xFB, 0x00, 0x00, 1, 2, 3}, AudioSpec{SampleRate: 16000}, "mp3"},
		{"id3 then nothing", []byte("ID3\x04\x00\x00\x00\x00\x00\x05abcde"), AudioSpec{SampleRate: 16000}, "mp3"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DecodeAudio(tc.data, tc.spec)
			if !errors.Is(err, ErrBadInput) {
				t.Fatalf("err = %v (%d samples), want ErrBadInput", err, len(got))
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("err = %q, want it to mention %q", err, tc.reason)
			}
			if long := tc.name == "too long"; errors.Is(err, ErrTooLong) != long {
				t.Fatalf("errors.Is(%v, ErrTooLong) = %v, want %v", err, !long, long)
			}
		})
	}
}

func TestAudioSpecValidation(t *testing.T) {
	data, _ := makeWAV(t, wavSpec{wavPCM, 16, 16000, false}, tone(100, 1, 16000, 440, 0.5))
	for _, s := range []AudioSpec{
		{SampleRate: 0},
		{SampleRate: 999},
		{SampleRate: MaxSampleRate + 1},
		{SampleRate: 16000, MaxSeconds: -1},
		{SampleRate: 16000, MaxSeconds: math.NaN()},
		{SampleRate: 16000, MaxSeconds: math.Inf(1)},
	} {
		if _, err := DecodeAudio(data, s); !errors.Is(err, ErrBadSpec) {
			t.Errorf("spec %+v: err = %v, want ErrBadSpec", s, err)
		}
	}
}

// fixtureTone regenerates the samples the committed FLAC and MP3 fixtures
// were made from (see testdata/README.md): 0.5 s of 16-bit mono at
// 22050 Hz, a 1 kHz sine at amplitude 0.5.
func fixtureTone() [][]float64 { return tone(11025, 1, 22050, 1000, 0.5) }

func TestDecodeFLACFixture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "tone1k.flac"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeAudio(data, AudioSpec{SampleRate: 22050})
	if err != nil {
		t.Fatal(err)
	}
	_, stored := makeWAV(t, wavSpec{wavPCM, 16, 22050, false}, fixtureTone())
	want := monoOf(stored)
	if len(got) != len(want) {
		t.Fatalf("len %d, want %d", len(got), len(want))
	}
	for i := range want { // FLAC is lossless: bit-exact
		if math.Abs(float64(got[i])-want[i]) > 1e-7 {
			t.Fatalf("sample %d: %v, want %v", i, got[i], want[i])
		}
	}
	// Truncated FLAC fails cleanly.
	if _, err := DecodeAudio(data[:len(data)/2], AudioSpec{SampleRate: 16000}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("truncated flac: err = %v", err)
	}
	if _, err := DecodeAudio(data, AudioSpec{SampleRate: 16000, MaxSeconds: 0.25}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("over-long flac: err = %v", err)
	}
}

func TestDecodeMP3Fixture(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "tone1k.mp3"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeAudio(data, AudioSpec{SampleRate: 16000})
	if err != nil {
		t.Fatal(err)
	}
	// MP3 adds encoder delay and padding: about 0.5 s plus up to ~2 frames.
	if len(got) < 7900 || len(got) > 8000+2*1152*16000/22050 {
		t.Fatalf("%d samples at 16 kHz for a 0.5 s clip", len(got))
	}
	amp, resid := fitSine(got[len(got)/4:3*len(got)/4], 1000, 16000)
	if math.Abs(amp-0.5) > 0.03 || resid > -25 {
		t.Fatalf("mp3 tone: amplitude %v (want 0.5), residual %.1f dB", amp, resid)
	}
	if _, err := DecodeAudio(data, AudioSpec{SampleRate: 16000, MaxSeconds: 0.25}); !errors.Is(err, ErrBadInput) {
		t.Fatalf("over-long mp3: err = %v", err)
	}
}

// TestDecodeFLACWithSox cross-checks 24-bit stereo FLAC made at test time by
// sox from a WAV we wrote. Skipped where sox is absent.
func TestDecodeFLACWithSox(t *testing.T) {
	sox, err := exec.LookPath("sox")
	if err != nil {
		t.Skip("sox not installed")
	}
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(11, 12))
	wavData, stored := makeWAV(t, wavSpec{wavPCM, 24, 48000, false}, noise(r, 4800, 2))
	in, out := filepath.Join(dir, "in.wav"), filepath.Join(dir, "out.flac")
	if err := os.WriteFile(in, wavData, 0o600); err != nil {
		t.Fatal(err)
	}
	if msg, err := exec.Command(sox, in, out).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, msg)
	}
	flacData, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeAudio(flacData, AudioSpec{SampleRate: 48000})
	if err != nil {
		t.Fatal(err)
	}
	want := monoOf(stored)
	if len(got) != len(want) {
		t.Fatalf("len %d, want %d", len(got), len(want))
	}
	for i := range want {
		if math.Abs(float64(got[i])-want[i]) > 1e-6 {
			t.Fatalf("sample %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestDetectAudioFormat(t *testing.T) {
	cases := []struct {
		data []byte
		want string
	}{
		{[]byte("RIFF\x00\x00\x00\x00WAVEfmt "), FormatWAV},
		{[]byte("fLaC\x00"), FormatFLAC},
		{[]byte("ID3\x04\x00\x00\x00\x00\x00\x00fLaC"), FormatFLAC},
		{[]byte("ID3\x04\x00\x00\x00\x00\x00\x00\xff\xfb"), FormatMP3},
		{[]byte{0xFF, 0xFB, 0x90}, FormatMP3},
		{[]byte{0xFF, 0xF1, 0x50}, ""}, // AAC ADTS (layer bits 00)
		{[]byte("OggS"), ""},
		{nil, ""},
	}
	for _, tc := range cases {
		if got := DetectAudioFormat(tc.data); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.data, got, tc.want)
		}
	}
}
