package preprocess

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/hajimehoshi/go-mp3"
	"github.com/mewkiz/flac"
)

// DefaultMaxSeconds is the duration limit used when AudioSpec.MaxSeconds is 0.
const DefaultMaxSeconds = 600

// Sample-rate bounds accepted for sources and targets.
const (
	MinSampleRate = 1000
	MaxSampleRate = 768000
)

// AudioSpec says how audio bytes become a waveform.
type AudioSpec struct {
	// SampleRate is the output rate in Hz.
	SampleRate int
	// MaxSeconds rejects longer input; the header is checked before the
	// samples are decoded where the format declares its length, and the
	// decoder stops at the limit otherwise. 0 means DefaultMaxSeconds.
	MaxSeconds float64
}

// Audio container formats DecodeAudio recognises by their magic bytes.
const (
	FormatWAV  = "wav"
	FormatFLAC = "flac"
	FormatMP3  = "mp3"
)

// DetectAudioFormat names the container format of data from its first bytes,
// or returns "" when it is none of WAV, FLAC and MP3.
func DetectAudioFormat(data []byte) string {
	switch {
	case len(data) >= 12 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WAVE":
		return FormatWAV
	case len(data) >= 4 && string(data[:4]) == "fLaC":
		return FormatFLAC
	case len(data) >= 3 && string(data[:3]) == "ID3":
		// ID3v2 tags precede both MP3 and (rarely) FLAC streams.
		if n, ok := id3Size(data); ok && n+4 <= len(data) && string(data[n:n+4]) == "fLaC" {
			return FormatFLAC
		}
		return FormatMP3
	case len(data) >= 2 && data[0] == 0xFF && data[1]&0xE0 == 0xE0 && data[1]&0x06 == 0x02:
		// MPEG audio frame sync with layer bits = Layer III.
		return FormatMP3
	}
	return ""
}

// id3Size returns the total length of an ID3v2 tag at the start of data.
func id3Size(data []byte) (int, bool) {
	if len(data) < 10 {
		return 0, false
	}
	n := 0
	for _, b := range data[6:10] {
		if b&0x80 != 0 {
			return 0, false
		}
		n = n<<7 | int(b)
	}
	n += 10
	if data[5]&0x10 != 0 { // footer present
		n += 10
	}
	return n, true
}

func (s AudioSpec) validate() (maxSeconds float64, err error) {
	if s.SampleRate < MinSampleRate || s.SampleRate > MaxSampleRate {
		return 0, badSpec("sample rate %d outside %d..%d", s.SampleRate, MinSampleRate, MaxSampleRate)
	}
	if s.MaxSeconds < 0 || math.IsNaN(s.MaxSeconds) || math.IsInf(s.MaxSeconds, 0) {
		return 0, badSpec("max seconds %v must be a finite non-negative number", s.MaxSeconds)
	}
	if s.MaxSeconds == 0 {
		return DefaultMaxSeconds, nil
	}
	return s.MaxSeconds, nil
}

// DecodeAudio decodes WAV (8/16/24/32-bit integer PCM, 32/64-bit IEEE
// float, plain or WAVE_FORMAT_EXTENSIBLE), FLAC or MP3 bytes, detected by
// their magic bytes, into a mono waveform in [-1, 1] at spec.SampleRate.
// Channels are averaged; the rate is converted with Resample and the result
// clamped to [-1, 1] (the filter may overshoot full-scale steps slightly).
func DecodeAudio(data []byte, spec AudioSpec) ([]float32, error) {
	maxSeconds, err := spec.validate()
	if err != nil {
		return nil, err
	}
	format := DetectAudioFormat(data)
	var (
		mono []float32
		rate int
	)
	switch format {
	case FormatWAV:
		mono, rate, err = decodeWAV(data, maxSeconds)
	case FormatFLAC:
		mono, rate, err = decodeFLAC(data, maxSeconds)
	case FormatMP3:
		mono, rate, err = decodeMP3(data, maxSeconds)
	default:
		if len(data) == 0 {
			return nil, badInput("empty audio")
		}
		return nil, badInput("unrecognised audio format (want WAV, FLAC or MP3)")
	}
	if err != nil {
		return nil, err
	}
	if len(mono) == 0 {
		return nil, badInput("%s audio holds no samples", format)
	}
	if rate == spec.SampleRate {
		return mono, nil
	}
	out := Resample(mono, rate, spec.SampleRate)
	// A band-limited filter overshoots at full-scale edges (Gibbs); keep the
	// documented range.
	for i, v := range out {
		out[i] = clamp1(v)
	}
	return out, nil
}

func checkRate(format string, rate int) error {
	if rate < MinSampleRate || rate > MaxSampleRate {
		return badInput("%s sample rate %d outside %d..%d", format, rate, MinSampleRate, MaxSampleRate)
	}
	return nil
}

func maxFrames(rate int, maxSeconds float64) int64 {
	return int64(math.Floor(maxSeconds * float64(rate)))
}

func tooLong(format string, frames int64, rate int, maxSeconds float64) error {
	return fmt.Errorf("%w: %w: %s audio lasts %.2f s, over the limit of %g s", ErrBadInput, ErrTooLong, format, float64(frames)/float64(rate), maxSeconds)
}

// WAV format tags.
const (
	wavPCM        = 1
	wavFloat      = 3
	wavExtensible = 0xFFFE
)

type wavFormat struct {
	tag        uint16
	channels   int
	rate       int
	blockAlign int
	bits       int
}

// decodeWAV parses the RIFF chunks itself: go-audio/wav reads integer PCM
// only, and slowly; this reader covers float too and converts in one pass.
func decodeWAV(data []byte, maxSeconds float64) ([]float32, int, error) {
	var (
		fmtc    *wavFormat
		payload []byte
	)
	p := 12
	for p+8 <= len(data) {
		id := string(data[p : p+4])
		size := int64(binary.LittleEndian.Uint32(data[p+4:]))
		body := int64(p + 8)
		end := body + size
		if id == "data" {
			if fmtc == nil {
				return nil, 0, badInput("wav: data chunk before fmt chunk")
			}
			if size == 0xFFFFFFFF { // streamed: length unknown, runs to the end
				end = int64(len(data))
			}
			if end > int64(len(data)) {
				return nil, 0, badInput("wav: truncated: data chunk declares %d bytes, %d present", size, int64(len(data))-body)
			}
			payload = data[body:end]
			break
		}
		if end > int64(len(data)) {
			return nil, 0, badInput("wav: truncated %q chunk", id)
		}
		if id == "fmt " {
			f, err := parseWAVFormat(data[body:end])
			if err != nil {
				return nil, 0, err
			}
			fmtc = f
		}
		p = int(end + end&1) // chunks are padded to even sizes
	}
	if fmtc == nil {
		return nil, 0, badInput("wav: no fmt chunk")
	}
	if payload == nil {
		return nil, 0, badInput("wav: no data chunk")
	}
	frames := int64(len(payload) / fmtc.blockAlign)
	if frames > maxFrames(fmtc.rate, maxSeconds) {
		return nil, 0, tooLong("wav", frames, fmtc.rate, maxSeconds)
	}
	return wavToMono(payload[:frames*int64(fmtc.blockAlign)], fmtc), fmtc.rate, nil
}

func parseWAVFormat(b []byte) (*wavFormat, error) {
	if len(b) < 16 {
		return nil, badInput("wav: fmt chunk of %d bytes, want at least 16", len(b))
	}
	f := &wavFormat{
		tag:        binary.LittleEndian.Uint16(b[0:]),
		channels:   int(binary.LittleEndian.Uint16(b[2:])),
		rate:       int(binary.LittleEndian.Uint32(b[4:])),
		blockAlign: int(binary.LittleEndian.Uint16(b[12:])),
		bits:       int(binary.LittleEndian.Uint16(b[14:])),
	}
	if f.tag == wavExtensible {
		if len(b) < 40 {
			return nil, badInput("wav: extensible fmt chunk of %d bytes, want 40", len(b))
		}
		// The sub-format GUID starts with the plain format tag.
		f.tag = binary.LittleEndian.Uint16(b[24:])
	}
	if f.channels < 1 || f.channels > 32 {
		return nil, badInput("wav: %d channels", f.channels)
	}
	if err := checkRate("wav", f.rate); err != nil {
		return nil, err
	}
	if f.blockAlign <= 0 || f.blockAlign%f.channels != 0 {
		return nil, badInput("wav: block align %d does not fit %d channels", f.blockAlign, f.channels)
	}
	container := f.blockAlign / f.channels // bytes per sample as stored
	switch f.tag {
	case wavPCM:
		if container < 1 || container > 4 || f.bits < 1 || f.bits > 8*container {
			return nil, badInput("wav: unsupported PCM layout: %d bits in %d bytes", f.bits, container)
		}
	case wavFloat:
		if container != 4 && container != 8 {
			return nil, badInput("wav: unsupported float sample size %d bytes", container)
		}
	default:
		return nil, badInput("wav: unsupported format tag 0x%04x (want PCM or IEEE float)", f.tag)
	}
	return f, nil
}

// wavToMono converts interleaved samples to mono floats in [-1, 1].
func wavToMono(b []byte, f *wavFormat) []float32 {
	ch := f.channels
	size := f.blockAlign / ch
	frames := len(b) / f.blockAlign
	out := make([]float32, frames)
	inv := float32(1) / float32(ch)
	switch {
	case f.tag == wavPCM && size == 2 && ch == 1:
		for i := range out {
			out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
		}
	case f.tag == wavPCM && size == 2 && ch == 2:
		for i := range out {
			l := int32(int16(binary.LittleEndian.Uint16(b[4*i:])))
			r := int32(int16(binary.LittleEndian.Uint16(b[4*i+2:])))
			out[i] = float32(l+r) / 65536
		}
	default:
		read := sampleReader(f.tag, size)
		for i := range out {
			fr := b[i*f.blockAlign : (i+1)*f.blockAlign]
			var sum float32
			for c := 0; c < ch; c++ {
				sum += read(fr[c*size:])
			}
			out[i] = sum * inv
		}
	}
	for i, v := range out { // float input may hold anything
		if v > 1 {
			out[i] = 1
		} else if v < -1 {
			out[i] = -1
		} else if v != v {
			out[i] = 0
		}
	}
	return out
}

func sampleReader(tag uint16, size int) func([]byte) float32 {
	if tag == wavFloat {
		if size == 8 {
			return func(b []byte) float32 { return float32(math.Float64frombits(binary.LittleEndian.Uint64(b))) }
		}
		return func(b []byte) float32 { return math.Float32frombits(binary.LittleEndian.Uint32(b)) }
	}
	switch size {
	case 1: // 8-bit PCM is unsigned
		return func(b []byte) float32 { return (float32(b[0]) - 128) / 128 }
	case 2:
		return func(b []byte) float32 { return float32(int16(binary.LittleEndian.Uint16(b))) / (1 << 15) }
	case 3:
		return func(b []byte) float32 {
			v := int32(uint32(b[0])<<8|uint32(b[1])<<16|uint32(b[2])<<24) >> 8
			return float32(v) / (1 << 23)
		}
	default:
		return func(b []byte) float32 { return float32(float64(int32(binary.LittleEndian.Uint32(b))) / (1 << 31)) }
	}
}

func decodeFLAC(data []byte, maxSeconds float64) (out []float32, rate int, err error) {
	defer recoverBadInput("flac", &err)
	// An ID3v2 tag may precede the stream.
	if len(data) >= 3 && string(data[:3]) == "ID3" {
		if n, ok := id3Size(data); ok && n <= len(data) {
			data = data[n:]
		}
	}
	stream, err := flac.New(bytes.NewReader(data))
	if err != nil {
		return nil, 0, badInput("flac: %v", err)
	}
	defer stream.Close()
	info := stream.Info
	rate = int(info.SampleRate)
	if err := checkRate("flac", rate); err != nil {
		return nil, 0, err
	}
	limit := maxFrames(rate, maxSeconds)
	if info.NSamples > 0 {
		if info.NSamples > uint64(limit) {
			return nil, 0, tooLong("flac", int64(min(info.NSamples, math.MaxInt64)), rate, maxSeconds)
		}
		// The header is not trusted for memory: a tiny file may claim
		// hours. Reserve at most a few seconds up front.
		out = make([]float32, 0, min(info.NSamples, 1<<18))
	}
	for {
		f, err := stream.ParseNext()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, 0, badInput("flac: frame at sample %d: %v", len(out), err)
		}
		bps := int(f.BitsPerSample)
		if bps == 0 {
			bps = int(info.BitsPerSample)
		}
		if bps < 4 || bps > 32 || len(f.Subframes) == 0 {
			return nil, 0, badInput("flac: frame with %d bits per sample and %d channels", bps, len(f.Subframes))
		}
		n := len(f.Subframes[0].Samples)
		for _, sf := range f.Subframes[1:] {
			if len(sf.Samples) != n {
				return nil, 0, badInput("flac: channels of unequal length in one frame")
			}
		}
		if int64(len(out)+n) > limit {
			return nil, 0, tooLong("flac", int64(len(out)+n), rate, maxSeconds)
		}
		scale := float32(1 / (math.Exp2(float64(bps-1)) * float64(len(f.Subframes))))
		for i := 0; i < n; i++ {
			var sum int64
			for _, sf := range f.Subframes {
				sum += int64(sf.Samples[i])
			}
			out = append(out, clamp1(float32(sum)*scale))
		}
	}
	return out, rate, nil
}

func clamp1(v float32) float32 {
	if v > 1 {
		return 1
	}
	if v < -1 {
		return -1
	}
	return v
}

func decodeMP3(data []byte, maxSeconds float64) (out []float32, rate int, err error) {
	defer recoverBadInput("mp3", &err)
	d, err := mp3.NewDecoder(bytes.NewReader(data))
	if err != nil {
		return nil, 0, badInput("mp3: %v", err)
	}
	rate = d.SampleRate()
	if err := checkRate("mp3", rate); err != nil {
		return nil, 0, err
	}
	limit := maxFrames(rate, maxSeconds)
	// The decoder always yields 16-bit little-endian stereo: 4 bytes a frame.
	if n := d.Length(); n >= 0 {
		if n/4 > limit {
			return nil, 0, tooLong("mp3", n/4, rate, maxSeconds)
		}
		out = make([]float32, 0, n/4)
	}
	buf := make([]byte, 16*1024)
	var carry int // bytes of an incomplete frame kept at the front of buf
	for {
		n, rerr := d.Read(buf[carry:])
		k := carry + n
		whole := k &^ 3
		if int64(len(out)+whole/4) > limit {
			return nil, 0, tooLong("mp3", int64(len(out)+whole/4), rate, maxSeconds)
		}
		for i := 0; i < whole; i += 4 {
			l := int32(int16(binary.LittleEndian.Uint16(buf[i:])))
			r := int32(int16(binary.LittleEndian.Uint16(buf[i+2:])))
			out = append(out, float32(l+r)/65536)
		}
		carry = copy(buf, buf[whole:k])
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			return nil, 0, badInput("mp3: at sample %d: %v", len(out), rerr)
		}
		if n == 0 {
			return nil, 0, badInput("mp3: decoder made no progress at sample %d", len(out))
		}
	}
	return out, rate, nil
}
