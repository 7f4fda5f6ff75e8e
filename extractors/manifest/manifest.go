// Package manifest owns the model manifest: the manifest.json stored beside
// every model.onnx under models/<name>/<version>/, which says what the model
// takes (inputs, preprocessing, tokenizer), what it returns (output, pooling,
// dimension) and under which licence. Parse validates it with clear errors.
package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
)

// FileName is the manifest's object name inside a model folder.
const FileName = "manifest.json"

// ModelFile is the ONNX graph's object name inside a model folder.
const ModelFile = "model.onnx"

// ErrInvalid marks a manifest that fails validation.
var ErrInvalid = errors.New("invalid model manifest")

// Input roles: how an encoder fills a graph input.
const (
	RoleInputIDs      = "input_ids"      // wordpiece token ids int64 [B,L]
	RoleAttentionMask = "attention_mask" // int64 [B,L], 1 for tokens
	RoleTokenTypeIDs  = "token_type_ids" // int64 [B,L], zeros
	RoleHashIDs       = "hash_ids"       // starter-hash feature ids int64 [B,L]
	RoleHashWeights   = "hash_weights"   // starter-hash feature weights float32 [B,L]
	RolePixels        = "pixels"         // float32 NCHW [B,3,S,S]
	RoleWaveform      = "waveform"       // float32 [B,T] mono
	// RoleAudioFeatures: windows of a frontend's feature frames, float32
	// with layout BFM [B,F,M], BFM1 [B,F,M,1] or B1FM [B,1,F,M].
	RoleAudioFeatures = "audio_features"
)

// Audio input forms (AudioPre.Input).
const (
	AudioInputWaveform = "waveform" // the model takes waveform windows
	AudioInputFrontend = "frontend" // the model takes windows of frontend frames
)

// Layouts of an audio_features input.
var featureLayouts = []string{"BFM", "BFM1", "B1FM"}

// Pooling of a model output.
const (
	PoolNone = "none" // output is already [B,D]
	PoolMean = "mean" // [B,L,H] averaged over attention_mask
	PoolCLS  = "cls"  // [B,L,H] first token
)

// Tokenizers.
const (
	TokenizerWordPiece   = "wordpiece"
	TokenizerStarterHash = "starter-hash"
	// TokenizerStarterWordNet is starter-text@2's: starter-hash ids, then
	// WordNet vocabulary ids from Buckets up (vocabulary file in Vocab).
	TokenizerStarterWordNet = "starter-wordnet"
)

// Resize modes for images.
const (
	ResizeCenterCrop = "center_crop"
	ResizeStretch    = "stretch"
)

// Manifest describes one model version.
type Manifest struct {
	Name        string        `json:"name"`
	Version     string        `json:"version"`
	Modality    string        `json:"modality"` // text | image | audio
	Licence     string        `json:"licence"`
	Description string        `json:"description,omitempty"`
	Inputs      []Input       `json:"inputs"`
	Outputs     []Output      `json:"outputs"`
	Dim         int           `json:"dim"`
	Preprocess  Preprocessing `json:"preprocessing"`
}

// Input is one graph input.
type Input struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	Layout string `json:"layout,omitempty"` // e.g. "BL", "NCHW", "BT"
}

// Output is one graph output; encoders use the first.
type Output struct {
	Name    string `json:"name"`
	Pooling string `json:"pooling"`
}

// Preprocessing holds the section for the manifest's modality.
type Preprocessing struct {
	Image *ImagePre `json:"image,omitempty"`
	Audio *AudioPre `json:"audio,omitempty"`
	Text  *TextPre  `json:"text,omitempty"`
}

// ImagePre: decode, resize to Size×Size, (x*Scale-Mean)/Std, CHW.
type ImagePre struct {
	Size      int        `json:"size"`
	Resize    string     `json:"resize"`
	Mean      [3]float32 `json:"mean"`
	Std       [3]float32 `json:"std"`
	Scale     float32    `json:"scale"`
	MaxPixels int64      `json:"max_pixels,omitempty"`
}

// AudioPre: decode to mono at SampleRate, cut into windows of WindowSeconds
// every HopSeconds, one embedding per window, mean-pooled. With Input
// "frontend", the Frontend graph turns each whole clip into feature frames
// instead, and the windows are Frontend.Frames frames every
// Frontend.FrameHop (WindowSeconds and HopSeconds stay 0).
type AudioPre struct {
	SampleRate    int     `json:"sample_rate"`
	WindowSeconds float64 `json:"window_seconds,omitempty"`
	HopSeconds    float64 `json:"hop_seconds,omitempty"`
	Input         string  `json:"input"` // "waveform" or "frontend"
	MaxSeconds    float64 `json:"max_seconds,omitempty"`
	MaxWindows    int     `json:"max_windows,omitempty"`
	// Frontend is the preprocessing stage of a two-stage model.
	Frontend *AudioFrontend `json:"frontend,omitempty"`
}

// AudioFrontend is a second ONNX graph in the model folder that turns a
// clip's waveform into feature frames (e.g. a log-mel spectrogram model).
// It runs once per clip, during preprocessing; its frames are then cut
// into windows for the main model.
type AudioFrontend struct {
	// Model is the frontend's file in the model folder (not model.onnx).
	Model string `json:"model"`
	// Input names its waveform input, float32 [1,T].
	Input string `json:"input"`
	// Output names its output, float32 [1,…,F,M]: frames × Bins, any
	// leading dimensions of size 1.
	Output string `json:"output"`
	// InputScale multiplies the [-1,1] samples (32768: the int16 scale).
	InputScale float32 `json:"input_scale"`
	// OutputScale and OutputOffset map each frame value x to
	// x*OutputScale + OutputOffset.
	OutputScale  float32 `json:"output_scale"`
	OutputOffset float32 `json:"output_offset"`
	// Bins is M, the values per frame.
	Bins int `json:"bins"`
	// Frames per window of the main model, and frames between windows.
	Frames   int `json:"frames"`
	FrameHop int `json:"frame_hop"`
}

// WindowSamples is the window length in samples.
func (a AudioPre) WindowSamples() int { return int(a.WindowSeconds*float64(a.SampleRate) + 0.5) }

// HopSamples is the hop in samples.
func (a AudioPre) HopSamples() int { return int(a.HopSeconds*float64(a.SampleRate) + 0.5) }

// TextPre: tokenizer and lengths.
type TextPre struct {
	Tokenizer string `json:"tokenizer"`
	// Vocab names the tokenizer file in the model folder (vocab.txt or
	// tokenizer.json) for wordpiece.
	Vocab     string `json:"vocab,omitempty"`
	MaxLength int    `json:"max_length"`
	Lowercase bool   `json:"lowercase"`
	// Stride is the token overlap between windows of a long text (0: no
	// windows, truncate).
	Stride int `json:"stride,omitempty"`
	// Buckets is the starter-hash table size.
	Buckets int `json:"buckets,omitempty"`
	// MaxWindows bounds the windows per text (0: 16).
	MaxWindows int `json:"max_windows,omitempty"`
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Parse decodes and validates a manifest. Unknown fields are errors.
func Parse(data []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("%w: decode json: %v", ErrInvalid, err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Marshal encodes the manifest as indented JSON after validating it.
func (m Manifest) Marshal() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode manifest %s: %w", m.ID(), err)
	}
	return append(b, '\n'), nil
}

// ID is "name@version".
func (m Manifest) ID() string { return m.Name + "@" + m.Version }

// Prefix is the model folder key, models/<name>/<version>/.
func (m Manifest) Prefix() string { return FolderKey(m.Name, m.Version) }

// FolderKey is models/<name>/<version>/.
func FolderKey(name, version string) string { return "models/" + name + "/" + version + "/" }

// InputByRole returns the graph input name with role, or "".
func (m Manifest) InputByRole(role string) string {
	for _, in := range m.Inputs {
		if in.Role == role {
			return in.Name
		}
	}
	return ""
}

// InputNames lists the graph input names in manifest order.
func (m Manifest) InputNames() []string {
	out := make([]string, len(m.Inputs))
	for i, in := range m.Inputs {
		out[i] = in.Name
	}
	return out
}

func bad(m Manifest, format string, args ...any) error {
	id := m.ID()
	if m.Name == "" {
		id = "(unnamed)"
	}
	return fmt.Errorf("%w %s: %s", ErrInvalid, id, fmt.Sprintf(format, args...))
}

var rolesFor = map[string][]string{
	"text":  {RoleInputIDs, RoleAttentionMask, RoleTokenTypeIDs, RoleHashIDs, RoleHashWeights},
	"image": {RolePixels},
	"audio": {RoleWaveform, RoleAudioFeatures},
}

// Validate checks every field and the consistency between them.
func (m Manifest) Validate() error {
	if !nameRE.MatchString(m.Name) {
		return bad(m, "name %q must match %s", m.Name, nameRE)
	}
	if !nameRE.MatchString(m.Version) {
		return bad(m, "version %q must match %s", m.Version, nameRE)
	}
	roles, ok := rolesFor[m.Modality]
	if !ok {
		return bad(m, "modality %q must be text, image or audio", m.Modality)
	}
	if m.Licence == "" {
		return bad(m, "licence is required")
	}
	if m.Dim <= 0 || m.Dim > 65536 {
		return bad(m, "dim %d must be in 1..65536", m.Dim)
	}
	if len(m.Inputs) == 0 {
		return bad(m, "at least one input is required")
	}
	seenName, seenRole := map[string]bool{}, map[string]bool{}
	for i, in := range m.Inputs {
		if in.Name == "" {
			return bad(m, "inputs[%d] has no name", i)
		}
		if seenName[in.Name] {
			return bad(m, "input name %q repeated", in.Name)
		}
		if !slices.Contains(roles, in.Role) {
			return bad(m, "input %q role %q is not one of %v for %s", in.Name, in.Role, roles, m.Modality)
		}
		if seenRole[in.Role] {
			return bad(m, "input role %q repeated", in.Role)
		}
		seenName[in.Name], seenRole[in.Role] = true, true
	}
	if len(m.Outputs) == 0 || m.Outputs[0].Name == "" {
		return bad(m, "outputs[0] with a name is required")
	}
	for _, o := range m.Outputs {
		switch o.Pooling {
		case PoolNone, PoolMean, PoolCLS:
		default:
			return bad(m, "output %q pooling %q must be none, mean or cls", o.Name, o.Pooling)
		}
	}
	p := m.Preprocess
	sections := 0
	for _, s := range []bool{p.Image != nil, p.Audio != nil, p.Text != nil} {
		if s {
			sections++
		}
	}
	if sections != 1 {
		return bad(m, "preprocessing must hold exactly one section (the %s one), found %d", m.Modality, sections)
	}
	switch m.Modality {
	case "text":
		return m.validateText(seenRole)
	case "image":
		return m.validateImage()
	default:
		return m.validateAudio()
	}
}

func (m Manifest) validateText(roles map[string]bool) error {
	t := m.Preprocess.Text
	if t == nil {
		return bad(m, "text model needs preprocessing.text")
	}
	if t.MaxLength < 2 || t.MaxLength > 8192 {
		return bad(m, "text max_length %d must be in 2..8192", t.MaxLength)
	}
	if t.Stride < 0 || t.Stride >= t.MaxLength-2 && t.Stride != 0 {
		return bad(m, "text stride %d must be 0 or in 1..max_length-3", t.Stride)
	}
	if t.MaxWindows < 0 {
		return bad(m, "text max_windows %d < 0", t.MaxWindows)
	}
	pool := m.Outputs[0].Pooling
	switch t.Tokenizer {
	case TokenizerWordPiece:
		if !roles[RoleInputIDs] || !roles[RoleAttentionMask] {
			return bad(m, "wordpiece model needs inputs with roles input_ids and attention_mask")
		}
		if roles[RoleHashIDs] || roles[RoleHashWeights] {
			return bad(m, "wordpiece model cannot take starter-hash inputs")
		}
		if t.Vocab != "vocab.txt" && t.Vocab != "tokenizer.json" {
			return bad(m, "wordpiece vocab %q must be vocab.txt or tokenizer.json", t.Vocab)
		}
	case TokenizerStarterHash:
		if !roles[RoleHashIDs] || !roles[RoleHashWeights] || len(m.Inputs) != 2 {
			return bad(m, "starter-hash model takes exactly the inputs with roles hash_ids and hash_weights")
		}
		if t.Buckets <= 0 || t.Buckets&(t.Buckets-1) != 0 {
			return bad(m, "starter-hash buckets %d must be a power of two", t.Buckets)
		}
		if pool != PoolNone {
			return bad(m, "starter-hash output pooling must be none")
		}
	case TokenizerStarterWordNet:
		if !roles[RoleHashIDs] || !roles[RoleHashWeights] || len(m.Inputs) != 2 {
			return bad(m, "starter-wordnet model takes exactly the inputs with roles hash_ids and hash_weights")
		}
		if t.Buckets <= 0 || t.Buckets&(t.Buckets-1) != 0 {
			return bad(m, "starter-wordnet buckets %d must be a power of two", t.Buckets)
		}
		if t.Vocab == "" || strings.ContainsAny(t.Vocab, "/\\") || strings.HasSuffix(t.Vocab, ".onnx") || t.Vocab == FileName {
			return bad(m, "starter-wordnet vocab %q must name a plain file of the folder", t.Vocab)
		}
		if pool != PoolNone {
			return bad(m, "starter-wordnet output pooling must be none")
		}
	default:
		return bad(m, "text tokenizer %q must be wordpiece, starter-hash or starter-wordnet", t.Tokenizer)
	}
	return nil
}

func (m Manifest) validateImage() error {
	p := m.Preprocess.Image
	if p == nil {
		return bad(m, "image model needs preprocessing.image")
	}
	if m.InputByRole(RolePixels) == "" || len(m.Inputs) != 1 {
		return bad(m, "image model takes exactly one input with role pixels")
	}
	if p.Size < 8 || p.Size > 2048 {
		return bad(m, "image size %d must be in 8..2048", p.Size)
	}
	if p.Resize != ResizeCenterCrop && p.Resize != ResizeStretch {
		return bad(m, "image resize %q must be center_crop or stretch", p.Resize)
	}
	for i, s := range p.Std {
		if !(s > 0) {
			return bad(m, "image std[%d] = %v must be > 0", i, s)
		}
	}
	if !(p.Scale > 0) {
		return bad(m, "image scale %v must be > 0 (usually 1/255)", p.Scale)
	}
	if p.MaxPixels < 0 {
		return bad(m, "image max_pixels %d < 0", p.MaxPixels)
	}
	if m.Outputs[0].Pooling != PoolNone {
		return bad(m, "image output pooling must be none")
	}
	return nil
}

func (m Manifest) validateAudio() error {
	a := m.Preprocess.Audio
	if a == nil {
		return bad(m, "audio model needs preprocessing.audio")
	}
	if len(m.Inputs) != 1 {
		return bad(m, "audio model takes exactly one input (role waveform or audio_features)")
	}
	if a.SampleRate < 4000 || a.SampleRate > 192000 {
		return bad(m, "audio sample_rate %d must be in 4000..192000", a.SampleRate)
	}
	if a.MaxSeconds < 0 || a.MaxWindows < 0 {
		return bad(m, "audio max_seconds and max_windows must be >= 0")
	}
	switch a.Input {
	case AudioInputWaveform:
		if m.Inputs[0].Role != RoleWaveform {
			return bad(m, "audio input form waveform needs the input role waveform")
		}
		if a.Frontend != nil {
			return bad(m, "audio frontend needs input form %q", AudioInputFrontend)
		}
		if !(a.WindowSeconds >= 0.1 && a.WindowSeconds <= 60) {
			return bad(m, "audio window_seconds %v must be in 0.1..60", a.WindowSeconds)
		}
		if !(a.HopSeconds > 0 && a.HopSeconds <= a.WindowSeconds) {
			return bad(m, "audio hop_seconds %v must be in (0, window_seconds]", a.HopSeconds)
		}
	case AudioInputFrontend:
		if err := m.validateFrontend(); err != nil {
			return err
		}
	default:
		return bad(m, "audio input form %q must be waveform or frontend", a.Input)
	}
	if m.Outputs[0].Pooling != PoolNone {
		return bad(m, "audio output pooling must be none")
	}
	return nil
}

func (m Manifest) validateFrontend() error {
	a := m.Preprocess.Audio
	f := a.Frontend
	if f == nil {
		return bad(m, "audio input form frontend needs preprocessing.audio.frontend")
	}
	in := m.Inputs[0]
	if in.Role != RoleAudioFeatures {
		return bad(m, "audio input form frontend needs the input role audio_features")
	}
	if !slices.Contains(featureLayouts, in.Layout) {
		return bad(m, "audio_features layout %q must be one of %v", in.Layout, featureLayouts)
	}
	if a.WindowSeconds != 0 || a.HopSeconds != 0 {
		return bad(m, "audio frontend windows are counted in frames: leave window_seconds and hop_seconds out")
	}
	if !nameRE.MatchString(f.Model) || f.Model == ModelFile || f.Model == FileName || !strings.HasSuffix(f.Model, ".onnx") {
		return bad(m, "audio frontend model %q must be a plain .onnx file name other than %s", f.Model, ModelFile)
	}
	if f.Input == "" || f.Output == "" {
		return bad(m, "audio frontend needs input and output names")
	}
	for _, v := range []float32{f.InputScale, f.OutputScale, f.OutputOffset} {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return bad(m, "audio frontend scales and offset must be finite")
		}
	}
	if f.InputScale == 0 || f.OutputScale == 0 {
		return bad(m, "audio frontend input_scale and output_scale must be non-zero")
	}
	if f.Bins < 1 || f.Bins > 4096 || f.Frames < 1 || f.Frames > 65536 || f.FrameHop < 1 || f.FrameHop > f.Frames {
		return bad(m, "audio frontend bins %d, frames %d, frame_hop %d: need bins in 1..4096, frames in 1..65536, frame_hop in 1..frames", f.Bins, f.Frames, f.FrameHop)
	}
	return nil
}

// ExtraFiles lists the files of the model folder besides model.onnx and
// manifest.json that the manifest names: a tokenizer file, an audio
// frontend graph.
func (m Manifest) ExtraFiles() []string {
	var out []string
	if t := m.Preprocess.Text; t != nil && (t.Tokenizer == TokenizerWordPiece || t.Tokenizer == TokenizerStarterWordNet) {
		out = append(out, t.Vocab)
	}
	if a := m.Preprocess.Audio; a != nil && a.Frontend != nil {
		out = append(out, a.Frontend.Model)
	}
	return out
}
