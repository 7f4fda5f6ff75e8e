package extractors

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
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
type preparer func(ctx context.Context, data []byte) ([]unit, error)

// model is one loaded model version: its session, batcher and
// preprocessing. Encoders (handles) share it through a reference count.
type model struct {
	man      Manifest
	modality Modality
	sess     *ort.Session
	front    *ort.Session // audio frontend of a two-stage model, or nil
	b        *batch.Batcher[unit, []float32]
	prepare  preparer
	workers  int
	// Batch input buffers, reused across batches (ORT reads them only
	// during Run).
	f32 slicePool[float32]
	i64 slicePool[int64]

	mu   sync.Mutex
	refs int
}

func newModel(rt *ort.Runtime, man Manifest, onnxBytes []byte, extra map[string][]byte, cfg config, metrics *batch.Metrics) (*model, error) {
	mod, err := ParseModality(man.Modality)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidModel, err)
	}
	m := &model{man: man, modality: mod, workers: cfg.workers, refs: 1}
	// The registry's session options first, then what this session needs.
	sessOpts := func(own ...ort.SessionOption) []ort.SessionOption {
		return append(slices.Clone(cfg.session), own...)
	}
	switch mod {
	case Text:
		var vocab []byte
		if t := man.Preprocess.Text; t != nil {
			vocab = extra[t.Vocab]
		}
		m.prepare, err = textPreparer(man, vocab)
	case Image:
		m.prepare, err = imagePreparer(man)
	case Audio:
		if f := man.Preprocess.Audio.Frontend; f != nil {
			// One clip per call on a preprocessing worker: one thread each,
			// the workers give the parallelism.
			m.front, err = rt.NewSession(extra[f.Model], []string{f.Input}, []string{f.Output},
				sessOpts(ort.WithName(man.ID()+" frontend"), ort.WithIntraOpThreads(1), ort.WithInterOpThreads(1))...)
			if err != nil {
				return nil, fmt.Errorf("%w: %s frontend %s: %v", ErrInvalidModel, man.ID(), f.Model, err)
			}
		}
		m.prepare, err = audioPreparer(man, m.front)
	}
	if err != nil {
		return nil, errors.Join(err, m.closeFront())
	}
	sess, err := rt.NewSession(onnxBytes, man.InputNames(), []string{man.Outputs[0].Name},
		sessOpts(ort.WithName(man.ID()))...)
	if err != nil {
		return nil, errors.Join(err, m.closeFront())
	}
	m.sess = sess
	bopts := slices.Clone(cfg.batching)
	if metrics != nil {
		bopts = append(bopts, batch.WithMetrics(metrics, man.ID()))
	}
	m.b, err = batch.New(m.run, bopts...)
	if err != nil {
		return nil, errors.Join(err, sess.Close(), m.closeFront())
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
	return errors.Join(m.b.Close(), m.sess.Close(), m.closeFront())
}

func (m *model) closeFront() error {
	if m.front == nil {
		return nil
	}
	return m.front.Close()
}

// run encodes one batch of units: pads, builds tensors by role from
// reused buffers, runs the session and pools the output to one vector per
// unit.
func (m *model) run(ctx context.Context, units []unit) ([][]float32, error) {
	inputs, release := m.tensors(units)
	defer release()
	outs, err := m.sess.Run(ctx, inputs...)
	if err != nil {
		return nil, err
	}
	return m.pool(outs[0], units)
}

// tensors builds the model's input tensors for units, in the manifest's
// input order, from pooled buffers; release returns the buffers once ORT
// no longer reads them.
func (m *model) tensors(units []unit) (inputs []ort.Tensor, release func()) {
	b := int64(len(units))
	inputs = make([]ort.Tensor, len(m.man.Inputs))
	var (
		maxLen int64
		f32s   [][]float32
		i64s   [][]int64
	)
	release = func() {
		for _, x := range f32s {
			m.f32.put(x)
		}
		for _, x := range i64s {
			m.i64.put(x)
		}
	}
	ints := func(field func(unit) []int64) []int64 {
		data := m.i64.get(int(b * maxLen))
		for j, u := range units {
			row := data[int64(j)*maxLen : int64(j+1)*maxLen]
			clear(row[copy(row, field(u)):])
		}
		i64s = append(i64s, data)
		return data
	}
	floats := func(n int64, pad bool) []float32 {
		data := m.f32.get(int(b * n))
		for j, u := range units {
			row := data[int64(j)*n : int64(j+1)*n]
			k := copy(row, u.floats)
			if pad {
				clear(row[k:])
			}
		}
		f32s = append(f32s, data)
		return data
	}
	for _, u := range units {
		maxLen = max(maxLen, int64(len(u.ints)))
	}
	for i, in := range m.man.Inputs {
		switch in.Role {
		case manifest.RoleHashIDs, manifest.RoleInputIDs:
			inputs[i] = ort.Int64Tensor(ints(func(u unit) []int64 { return u.ints }), b, maxLen)
		case manifest.RoleTokenTypeIDs:
			inputs[i] = ort.Int64Tensor(ints(func(u unit) []int64 { return u.types }), b, maxLen)
		case manifest.RoleAttentionMask:
			inputs[i] = ort.Int64Tensor(ints(func(u unit) []int64 { return u.mask }), b, maxLen)
		case manifest.RoleHashWeights:
			inputs[i] = ort.Float32Tensor(floats(maxLen, true), b, maxLen)
		case manifest.RolePixels:
			s := int64(m.man.Preprocess.Image.Size)
			inputs[i] = ort.Float32Tensor(floats(3*s*s, false), b, 3, s, s)
		case manifest.RoleWaveform:
			t := int64(len(units[0].floats))
			inputs[i] = ort.Float32Tensor(floats(t, false), b, t)
		case manifest.RoleAudioFeatures:
			f := m.man.Preprocess.Audio.Frontend
			fr, bins := int64(f.Frames), int64(f.Bins)
			data := floats(fr*bins, false)
			switch in.Layout {
			case "BFM1":
				inputs[i] = ort.Float32Tensor(data, b, fr, bins, 1)
			case "B1FM":
				inputs[i] = ort.Float32Tensor(data, b, 1, fr, bins)
			default:
				inputs[i] = ort.Float32Tensor(data, b, fr, bins)
			}
		}
	}
	return inputs, release
}

// BatchInputs preprocesses raw inputs exactly as enc does and returns the
// input tensors of one batch of len(raw) rows, one row per input (its first
// window when it has several), in the order of the model's manifest
// inputs. It lets a benchmark feed the bare session the very tensors the
// encoder would build. enc must come from a Registry.
func BatchInputs(ctx context.Context, enc Encoder, raw [][]byte) ([]ort.Tensor, error) {
	h, ok := enc.(*handle)
	if !ok {
		return nil, fmt.Errorf("%w: encoder %T does not come from a Registry", ErrInvalidOption, enc)
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%w: no inputs", ErrInvalidOption)
	}
	units := make([]unit, len(raw))
	for i, r := range raw {
		us, err := h.m.prepare(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("%s input %d: %w", h.Model(), i, err)
		}
		if len(us) == 0 {
			return nil, fmt.Errorf("%w: %s input %d gave no model input", ErrInvalidModel, h.Model(), i)
		}
		units[i] = us[0]
	}
	// The buffers are not released: the caller keeps the tensors.
	inputs, _ := h.m.tensors(units)
	return inputs, nil
}

// slicePool reuses slices; get returns one of length n with unspecified
// contents.
type slicePool[T any] struct{ p sync.Pool }

func (sp *slicePool[T]) get(n int) []T {
	if x, ok := sp.p.Get().(*[]T); ok && cap(*x) >= n {
		return (*x)[:n]
	}
	return make([]T, n)
}

func (sp *slicePool[T]) put(x []T) { sp.p.Put(&x) }

// pool reduces the output to [B][Dim] following the manifest's pooling.
func (m *model) pool(out ort.Tensor, units []unit) ([][]float32, error) {
	b := len(units)
	dim := m.man.Dim
	res := make([][]float32, b)
	switch pooling := m.man.Outputs[0].Pooling; pooling {
	case manifest.PoolNone:
		// [B,D], or [B,1,…,D] as convolutional encoders leave it.
		if len(out.Shape) < 2 || out.Shape[0] != int64(b) || out.Elements() != int64(b*dim) || out.Shape[len(out.Shape)-1] != int64(dim) {
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

// Encode preprocesses inputs on GOMAXPROCS workers (WithPreprocessWorkers)
// and feeds the model's batcher one chunk of MaxBatch inputs at a time, as
// soon as the chunk is ready: ORT runs chunk k while the workers decode
// chunk k+1. Each input's units are then averaged and L2-normalised. The
// first bad input (lowest index) fails the call and stops further work.
func (h *handle) Encode(ctx context.Context, inputs [][]byte) ([][]float32, error) {
	if h.closed.Load() {
		return nil, fmt.Errorf("encoder %s: %w", h.Model(), ErrClosed)
	}
	if len(inputs) == 0 {
		return nil, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := h.m
	n := len(inputs)
	chunk := m.b.MaxBatch()
	chunks := (n + chunk - 1) / chunk
	per := make([][]unit, n)
	errs := make([]error, n)
	left := make([]atomic.Int32, chunks)
	for c := range left {
		left[c].Store(int32(min(chunk, n-c*chunk)))
	}
	ready := make(chan int, chunks) // never blocks: one send per chunk
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()

	var next atomic.Int64
	var prep sync.WaitGroup
	for range min(m.workers, n) {
		prep.Go(func() {
			// Every index taken is prepared (with the caller's context, so
			// a later input's failure cannot cancel it): when an input
			// fails, all lower indices are prepared too and the lowest
			// failure is the one reported.
			for ictx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				per[i], errs[i] = m.prepare(ctx, inputs[i])
				if errs[i] != nil {
					cancel()
				}
				if left[i/chunk].Add(-1) == 0 {
					ready <- i / chunk
				}
			}
		})
	}

	results := make([][][]float32, chunks)
	var (
		infer   sync.WaitGroup
		errOnce sync.Once
		runErr  error
	)
wait:
	for range chunks {
		var c int
		select {
		case c = <-ready:
		case <-ictx.Done():
			break wait
		}
		lo, hi := c*chunk, min((c+1)*chunk, n)
		var flat []unit
		for _, us := range per[lo:hi] {
			flat = append(flat, us...)
		}
		infer.Go(func() {
			vecs, err := m.b.Do(ictx, flat)
			if err != nil {
				errOnce.Do(func() { runErr = err; cancel() })
				return
			}
			results[c] = vecs
		})
	}
	prep.Wait()
	infer.Wait()
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
	if runErr != nil {
		if errors.Is(runErr, batch.ErrClosed) {
			return nil, fmt.Errorf("encoder %s: %w", h.Model(), ErrClosed)
		}
		return nil, fmt.Errorf("encode with %s: %w", h.Model(), runErr)
	}
	out := make([][]float32, n)
	for c, vecs := range results {
		k := 0
		for i := c * chunk; i < min((c+1)*chunk, n); i++ {
			if len(per[i]) == 1 {
				// The batch's vector is this input's own (pool returns a
				// distinct, capacity-capped slice per unit): normalise it
				// in place rather than copying.
				out[i] = vecs[k]
				normalize(out[i])
				k++
				continue
			}
			v := make([]float32, m.man.Dim)
			for range per[i] {
				for d, x := range vecs[k] {
					v[d] += x
				}
				k++
			}
			normalize(v)
			out[i] = v
		}
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
	case manifest.TokenizerStarterHash, manifest.TokenizerStarterWordNet:
		var tok interface {
			Features(string) ([]int64, []float32, error)
		}
		var err error
		if t.Tokenizer == manifest.TokenizerStarterHash {
			tok, err = starter.NewHashTokenizer(t.Buckets, t.MaxLength)
		} else {
			tok, err = starter.NewWordNetTokenizer(t.Buckets, t.MaxLength, vocab)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrInvalidModel, man.ID(), err)
		}
		return func(_ context.Context, data []byte) ([]unit, error) {
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
	return func(_ context.Context, data []byte) ([]unit, error) {
		px, err := preprocess.ImageTensor(data, spec, nil)
		if err != nil {
			return nil, fmt.Errorf("decode image: %w", err)
		}
		return []unit{{floats: px}}, nil
	}, nil
}

func audioPreparer(man Manifest, front *ort.Session) (preparer, error) {
	p := man.Preprocess.Audio
	spec := preprocess.AudioSpec{SampleRate: p.SampleRate, MaxSeconds: p.MaxSeconds}
	maxWindows := p.MaxWindows
	if maxWindows == 0 {
		maxWindows = 64
	}
	if front != nil {
		return func(ctx context.Context, data []byte) ([]unit, error) {
			s, err := preprocess.DecodeAudio(data, spec)
			if err != nil {
				return nil, fmt.Errorf("decode audio: %w", err)
			}
			frames, err := frontendFrames(ctx, front, p.Frontend, s)
			if err != nil {
				return nil, err
			}
			return frameWindows(frames, p.Frontend, maxWindows), nil
		}, nil
	}
	win, hop := p.WindowSamples(), p.HopSamples()
	return func(_ context.Context, data []byte) ([]unit, error) {
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

// frontendFrames runs the audio frontend on one clip and returns its
// frames (F×Bins, row-major, scaled), at least f.Frames of them: a clip too
// short for one window is repeated until it is long enough.
func frontendFrames(ctx context.Context, front *ort.Session, f *manifest.AudioFrontend, samples []float32) ([]float32, error) {
	if len(samples) == 0 || !slices.ContainsFunc(samples, func(x float32) bool { return x != 0 }) {
		return nil, fmt.Errorf("%w: audio is silent or empty", ErrBadInput)
	}
	wave := make([]float32, len(samples))
	for i, x := range samples {
		wave[i] = x * f.InputScale
	}
	for range 16 {
		outs, err := front.Run(ctx, ort.Float32Tensor(wave, 1, int64(len(wave))))
		if err != nil {
			return nil, fmt.Errorf("audio frontend %s: %w", f.Model, err)
		}
		out := outs[0]
		sh := out.Shape
		if out.Float32 == nil || len(sh) < 2 || sh[len(sh)-1] != int64(f.Bins) || slices.ContainsFunc(sh[:len(sh)-2], func(d int64) bool { return d != 1 }) {
			return nil, fmt.Errorf("%w: audio frontend %s output %s has shape %v, want [1,…,F,%d] float32", ErrInvalidModel, f.Model, f.Output, sh, f.Bins)
		}
		if sh[len(sh)-2] >= int64(f.Frames) {
			frames := out.Float32
			for i, x := range frames {
				frames[i] = x*f.OutputScale + f.OutputOffset
			}
			return frames, nil
		}
		wave = append(wave, wave...)
	}
	return nil, fmt.Errorf("%w: audio frontend %s gives fewer than %d frames even for %d samples", ErrInvalidModel, f.Model, f.Frames, len(wave))
}

// frameWindows cuts frames into windows of f.Frames frames every
// f.FrameHop, the last aligned to the end when a tail of at least half a
// hop remains, thinned to maxWindows evenly spaced windows.
func frameWindows(frames []float32, f *manifest.AudioFrontend, maxWindows int) []unit {
	n := len(frames) / f.Bins
	var starts []int
	for s := 0; s+f.Frames <= n; s += f.FrameHop {
		starts = append(starts, s)
	}
	if last := starts[len(starts)-1]; n-(last+f.Frames) >= (f.FrameHop+1)/2 {
		starts = append(starts, n-f.Frames)
	}
	if len(starts) > maxWindows {
		thin := make([]int, maxWindows)
		for i := range thin {
			thin[i] = starts[i*(len(starts)-1)/max(maxWindows-1, 1)]
		}
		starts = thin
	}
	us := make([]unit, len(starts))
	for i, s := range starts {
		lo, hi := s*f.Bins, (s+f.Frames)*f.Bins
		us[i] = unit{floats: frames[lo:hi:hi]}
	}
	return us
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
