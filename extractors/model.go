package extractors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/omnirank/omnirank/extractors/batch"
	"github.com/omnirank/omnirank/extractors/manifest"
	"github.com/omnirank/omnirank/extractors/ort"
	"github.com/omnirank/omnirank/extractors/preprocess"
	"github.com/omnirank/omnirank/extractors/starter"
)

// unit is one model input row: a text window, an image, an audio window.
type unit struct {
	ints   []int64   // hash ids or wordpiece ids
	types  []int64   // wordpiece token type ids
	mask   []int64   // wordpiece attention mask
	floats []float32 // hash weights, pixels or waveform
}

// preparer turns one raw input into the units the model encodes.
type preparer func(data []byte) ([]unit, error)

// model is one loaded model version: its session, batcher and
// preprocessing. Encoders (handles) share it through a reference count.
type model struct {
	man      Manifest
	modality Modality
	sess     *ort.Session
	b        *batch.Batcher[unit, []float32]
	prepare  preparer
	workers  int

	mu   sync.Mutex
	refs int
}

func newModel(rt *ort.Runtime, man Manifest, onnxBytes, vocab []byte, cfg config, metrics *batch.Metrics) (*model, error) {
	mod, err := ParseModality(man.Modality)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModel, err)
	}
	m := &model{man: man, modality: mod, workers: cfg.workers, refs: 1}
	switch mod {
	case Text:
		m.prepare, err = textPreparer(man, vocab)
	case Image:
		m.prepare, err = imagePreparer(man)
	case Audio:
		m.prepare, err = audioPreparer(man)
	}
	if err != nil {
		return nil, err
	}
	sess, err := rt.NewSession(onnxBytes, man.InputNames(), []string{man.Outputs[0].Name},
		ort.WithName(man.ID()), ort.WithDevice(cfg.device),
		ort.WithIntraOpThreads(cfg.intraOp), ort.WithInterOpThreads(cfg.interOp))
	if err != nil {
		return nil, err
	}
	m.sess = sess
	bopts := []batch.Option{batch.WithMaxBatch(cfg.maxBatch), batch.WithMaxDelay(cfg.maxDelay), batch.WithConcurrency(cfg.concurrency)}
	if metrics != nil {
		bopts = append(bopts, batch.WithMetrics(metrics, man.ID()))
	}
	m.b, err = batch.New(m.run, bopts...)
	if err != nil {
		return nil, errors.Join(err, sess.Close())
	}
	return m, nil
}

func (m *model) acquire() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refs <= 0 {
		return false
	}
	m.refs++
	return true
}

func (m *model) release() error {
	m.mu.Lock()
	m.refs--
	last := m.refs == 0
	m.mu.Unlock()
	if !last {
		return nil
	}
	return errors.Join(m.b.Close(), m.sess.Close())
}

// run encodes one batch of units: pads, builds tensors by role, runs the
// session and pools the output to one vector per unit.
func (m *model) run(ctx context.Context, units []unit) ([][]float32, error) {
	b := int64(len(units))
	inputs := make([]ort.Tensor, len(m.man.Inputs))
	var maxLen int64
	for _, u := range units {
		maxLen = max(maxLen, int64(len(u.ints)))
	}
	for i, in := range m.man.Inputs {
		switch in.Role {
		case manifest.RoleHashIDs, manifest.RoleInputIDs:
			inputs[i] = ort.Int64Tensor(padInts(units, maxLen, func(u unit) []int64 { return u.ints }), b, maxLen)
		case manifest.RoleTokenTypeIDs:
			inputs[i] = ort.Int64Tensor(padInts(units, maxLen, func(u unit) []int64 { return u.types }), b, maxLen)
		case manifest.RoleAttentionMask:
			inputs[i] = ort.Int64Tensor(padInts(units, maxLen, func(u unit) []int64 { return u.mask }), b, maxLen)
		case manifest.RoleHashWeights:
			data := make([]float32, b*maxLen)
			for j, u := range units {
				copy(data[int64(j)*maxLen:], u.floats)
			}
			inputs[i] = ort.Float32Tensor(data, b, maxLen)
		case manifest.RolePixels:
			s := int64(m.man.Preprocess.Image.Size)
			inputs[i] = ort.Float32Tensor(concatFloats(units), b, 3, s, s)
		case manifest.RoleWaveform:
			t := int64(len(units[0].floats))
			inputs[i] = ort.Float32Tensor(concatFloats(units), b, t)
		}
	}
	outs, err := m.sess.Run(ctx, inputs...)
	if err != nil {
		return nil, err
	}
	return m.pool(outs[0], units)
}

func padInts(units []unit, l int64, field func(unit) []int64) []int64 {
	data := make([]int64, int64(len(units))*l)
	for j, u := range units {
		copy(data[int64(j)*l:], field(u))
	}
	return data
}

func concatFloats(units []unit) []float32 {
	n := 0
	for _, u := range units {
		n += len(u.floats)
	}
	data := make([]float32, 0, n)
	for _, u := range units {
		data = append(data, u.floats...)
	}
	return data
}

// pool reduces the output to [B][Dim] following the manifest's pooling.
func (m *model) pool(out ort.Tensor, units []unit) ([][]float32, error) {
	b := len(units)
	dim := m.man.Dim
	res := make([][]float32, b)
	switch pooling := m.man.Outputs[0].Pooling; pooling {
	case manifest.PoolNone:
		if len(out.Shape) != 2 || out.Shape[0] != int64(b) || out.Shape[1] != int64(dim) {
			return nil, fmt.Errorf("%w: %s output %s has shape %v, manifest says [%d,%d]", ErrInvalidModel, m.man.ID(), m.man.Outputs[0].Name, out.Shape, b, dim)
		}
		for i := range res {
			res[i] = out.Float32[i*dim : (i+1)*dim : (i+1)*dim]
		}
	case manifest.PoolMean, manifest.PoolCLS:
		if len(out.Shape) != 3 || out.Shape[0] != int64(b) || out.Shape[2] != int64(dim) {
			return nil, fmt.Errorf("%w: %s output %s has shape %v, manifest says [%d,L,%d]", ErrInvalidModel, m.man.ID(), m.man.Outputs[0].Name, out.Shape, b, dim)
		}
		l := int(out.Shape[1])
		for i, u := range units {
			v := make([]float32, dim)
			row := out.Float32[i*l*dim : (i+1)*l*dim]
			if pooling == manifest.PoolCLS {
				copy(v, row[:dim])
			} else {
				var n float32
				for t := 0; t < l && t < len(u.mask); t++ {
					if u.mask[t] == 0 {
						continue
					}
					n++
					for k, x := range row[t*dim : (t+1)*dim] {
						v[k] += x
					}
				}
				if n > 0 {
					for k := range v {
						v[k] /= n
					}
				}
			}
			res[i] = v
		}
	}
	if out.Float32 == nil {
		return nil, fmt.Errorf("%w: %s output is not float32", ErrInvalidModel, m.man.ID())
	}
	return res, nil
}

// handle is an Encoder: one reference to a shared model.
type handle struct {
	m      *model
	closed atomic.Bool
}

func (h *handle) Modality() Modality { return h.m.modality }
func (h *handle) Model() string      { return h.m.man.ID() }
func (h *handle) Dim() int           { return h.m.man.Dim }

// Manifest returns the model's manifest.
func (h *handle) Manifest() Manifest { return h.m.man }

func (h *handle) Close() error {
	if !h.closed.CompareAndSwap(false, true) {
		return nil
	}
	return h.m.release()
}

// Encode preprocesses inputs in parallel, submits every unit to the model's
// batcher, then averages each input's units and L2-normalises.
func (h *handle) Encode(ctx context.Context, inputs [][]byte) ([][]float32, error) {
	if h.closed.Load() {
		return nil, fmt.Errorf("encoder %s: %w", h.Model(), ErrClosed)
	}
	if len(inputs) == 0 {
		return nil, nil
	}
	m := h.m
	per := make([][]unit, len(inputs))
	errs := make([]error, len(inputs))
	workers := min(m.workers, len(inputs))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(inputs) || ctx.Err() != nil {
					return
				}
				per[i], errs[i] = m.prepare(inputs[i])
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i, err := range errs {
		if err != nil {
			// Bad bytes wrap ErrBadInput; a spec the manifest got wrong
			// (preprocess.ErrBadSpec) is passed on as a model error.
			return nil, fmt.Errorf("%s input %d: %w", m.man.ID(), i, err)
		}
	}
	var flat []unit
	for _, us := range per {
		flat = append(flat, us...)
	}
	vecs, err := m.b.Do(ctx, flat)
	if err != nil {
		if errors.Is(err, batch.ErrClosed) {
			return nil, fmt.Errorf("encoder %s: %w", h.Model(), ErrClosed)
		}
		return nil, fmt.Errorf("encode with %s: %w", h.Model(), err)
	}
	out := make([][]float32, len(inputs))
	k := 0
	for i, us := range per {
		v := make([]float32, m.man.Dim)
		for range us {
			for d, x := range vecs[k] {
				v[d] += x
			}
			k++
		}
		normalize(v)
		out[i] = v
	}
	return out, nil
}

// normalize scales v to unit L2 norm; an all-zero vector stays zero.
func normalize(v []float32) {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
}

func textPreparer(man Manifest, vocab []byte) (preparer, error) {
	t := man.Preprocess.Text
	maxWindows := t.MaxWindows
	if maxWindows == 0 {
		maxWindows = 16
	}
	switch t.Tokenizer {
	case manifest.TokenizerStarterHash:
		tok, err := starter.NewHashTokenizer(t.Buckets, t.MaxLength)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidModel, man.ID(), err)
		}
		return func(data []byte) ([]unit, error) {
			ids, w, err := tok.Features(string(data))
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
			}
			return []unit{{ints: ids, floats: w}}, nil
		}, nil
	case manifest.TokenizerWordPiece:
		return wordpiecePreparer(man, vocab, maxWindows)
	}
	return nil, fmt.Errorf("%w: %s: tokenizer %q", ErrInvalidModel, man.ID(), t.Tokenizer)
}

func imagePreparer(man Manifest) (preparer, error) {
	p := man.Preprocess.Image
	spec := preprocess.ImageSpec{Size: p.Size, Resize: p.Resize, Mean: p.Mean, Std: p.Std, Scale: p.Scale, MaxPixels: p.MaxPixels}
	return func(data []byte) ([]unit, error) {
		px, err := preprocess.ImageTensor(data, spec, nil)
		if err != nil {
			return nil, fmt.Errorf("decode image: %w", err)
		}
		return []unit{{floats: px}}, nil
	}, nil
}

func audioPreparer(man Manifest) (preparer, error) {
	p := man.Preprocess.Audio
	spec := preprocess.AudioSpec{SampleRate: p.SampleRate, MaxSeconds: p.MaxSeconds}
	win, hop := p.WindowSamples(), p.HopSamples()
	maxWindows := p.MaxWindows
	if maxWindows == 0 {
		maxWindows = 64
	}
	return func(data []byte) ([]unit, error) {
		s, err := preprocess.DecodeAudio(data, spec)
		if err != nil {
			return nil, fmt.Errorf("decode audio: %w", err)
		}
		ws, err := Windows(s, win, hop, maxWindows)
		if err != nil {
			return nil, err
		}
		us := make([]unit, len(ws))
		for i, w := range ws {
			us[i] = unit{floats: w}
		}
		return us, nil
	}, nil
}

// Windows cuts samples into windows of exactly win samples every hop. A
// clip shorter than one window is repeated to fill it; a tail of at least
// half a hop past the last full window gets one more window aligned to the
// end. More than maxWindows windows are thinned to maxWindows evenly spaced
// ones. Silence or an empty clip is ErrBadInput.
func Windows(samples []float32, win, hop, maxWindows int) ([][]float32, error) {
	if len(samples) == 0 {
		return nil, fmt.Errorf("%w: audio has no samples", ErrBadInput)
	}
	if win <= 0 || hop <= 0 || maxWindows <= 0 {
		return nil, fmt.Errorf("%w: window %d, hop %d, max windows %d", ErrInvalidOption, win, hop, maxWindows)
	}
	silent := true
	for _, x := range samples {
		if x != 0 {
			silent = false
			break
		}
	}
	if silent {
		return nil, fmt.Errorf("%w: audio is silent", ErrBadInput)
	}
	if len(samples) <= win {
		w := make([]float32, win)
		for i := 0; i < win; i += len(samples) {
			copy(w[i:], samples)
		}
		return [][]float32{w}, nil
	}
	var starts []int
	for s := 0; s+win <= len(samples); s += hop {
		starts = append(starts, s)
	}
	if last := starts[len(starts)-1]; len(samples)-(last+win) >= hop/2 {
		starts = append(starts, len(samples)-win)
	}
	if len(starts) > maxWindows {
		thin := make([]int, maxWindows)
		for i := range thin {
			thin[i] = starts[i*(len(starts)-1)/max(maxWindows-1, 1)]
		}
		starts = thin
	}
	out := make([][]float32, len(starts))
	for i, s := range starts {
		out[i] = samples[s : s+win : s+win]
	}
	return out, nil
}
