package ort

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/omnirank/omnirank/internal/option"
)

type sessionConfig struct {
	noSpin   bool
	intraOp  int
	interOp  int
	device   Device
	deviceID int
	name     string
}

// SessionOption configures NewSession.
type SessionOption func(*sessionConfig) error

// WithIntraOpThreads sets the threads one operator may use (0: ORT default).
func WithIntraOpThreads(n int) SessionOption {
	return func(c *sessionConfig) error {
		if n < 0 {
			return fmt.Errorf("%w: intra-op threads %d < 0", ErrInvalidOption, n)
		}
		c.intraOp = n
		return nil
	}
}

// WithInterOpThreads sets the threads running independent operators in
// parallel (0: ORT default).
func WithInterOpThreads(n int) SessionOption {
	return func(c *sessionConfig) error {
		if n < 0 {
			return fmt.Errorf("%w: inter-op threads %d < 0", ErrInvalidOption, n)
		}
		c.interOp = n
		return nil
	}
}

// WithDevice picks the execution provider (default DeviceCPU); d is
// parsed as ParseDevice does ("CPU" is DeviceCPU).
func WithDevice(d Device) SessionOption {
	return func(c *sessionConfig) error {
		parsed, err := ParseDevice(string(d))
		if err != nil {
			return err
		}
		c.device = parsed
		return nil
	}
}

// WithCUDADeviceID selects the GPU for DeviceCUDA / DeviceAuto.
func WithCUDADeviceID(id int) SessionOption {
	return func(c *sessionConfig) error {
		if id < 0 {
			return fmt.Errorf("%w: CUDA device id %d < 0", ErrInvalidOption, id)
		}
		c.deviceID = id
		return nil
	}
}

// WithSpinning lets ORT's thread pools busy-wait between operators (on,
// ORT's own default) or not (off: slower per call, kinder to a machine
// shared with other work).
func WithSpinning(on bool) SessionOption {
	return func(c *sessionConfig) error { c.noSpin = !on; return nil }
}

// WithName names the session in logs and errors (e.g. "starter-text@1").
func WithName(name string) SessionOption {
	return func(c *sessionConfig) error {
		if name == "" {
			return fmt.Errorf("%w: empty session name", ErrInvalidOption)
		}
		c.name = name
		return nil
	}
}

// ValidateSessionOptions applies opts to a scratch configuration and
// returns the first error, so that a component taking session options for
// later can refuse bad ones when it is made.
func ValidateSessionOptions(opts ...SessionOption) error {
	var cfg sessionConfig
	return option.Apply(&cfg, opts...)
}

// Tensor is a dense tensor in Go memory: exactly one of Float32 and Int64
// holds product(Shape) elements.
type Tensor struct {
	Shape   []int64
	Float32 []float32
	Int64   []int64
}

// Float32Tensor makes a float32 tensor.
func Float32Tensor(data []float32, shape ...int64) Tensor {
	return Tensor{Shape: shape, Float32: data}
}

// Int64Tensor makes an int64 tensor.
func Int64Tensor(data []int64, shape ...int64) Tensor {
	return Tensor{Shape: shape, Int64: data}
}

// Elements is product(Shape).
func (t Tensor) Elements() int64 {
	n := int64(1)
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

func (t Tensor) check(name string) error {
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("%w: input %s has negative dimension in %v", ErrBadTensor, name, t.Shape)
		}
	}
	n := t.Elements()
	switch {
	case t.Float32 != nil && t.Int64 != nil:
		return fmt.Errorf("%w: input %s has both float32 and int64 data", ErrBadTensor, name)
	case t.Float32 != nil && int64(len(t.Float32)) != n:
		return fmt.Errorf("%w: input %s shape %v needs %d floats, got %d", ErrBadTensor, name, t.Shape, n, len(t.Float32))
	case t.Int64 != nil && int64(len(t.Int64)) != n:
		return fmt.Errorf("%w: input %s shape %v needs %d int64s, got %d", ErrBadTensor, name, t.Shape, n, len(t.Int64))
	case t.Float32 == nil && t.Int64 == nil:
		return fmt.Errorf("%w: input %s has no data", ErrBadTensor, name)
	case n == 0:
		return fmt.Errorf("%w: input %s is empty (shape %v)", ErrBadTensor, name, t.Shape)
	}
	return nil
}

// Session is one loaded model. Run is safe for concurrent use; Close waits
// for running calls to finish and destroys the ORT session.
type Session struct {
	name    string
	inputs  []string
	outputs []string
	device  Device

	mu     sync.RWMutex // read: Run in flight; write: Close
	s      *onnx.DynamicAdvancedSession
	closed bool
}

// NewSession loads an ONNX model from bytes. inputs and outputs name the
// graph inputs Run receives and the outputs it returns, in order.
func (r *Runtime) NewSession(model []byte, inputs, outputs []string, opts ...SessionOption) (*Session, error) {
	cfg := sessionConfig{device: DeviceCPU, name: "model"}
	if err := option.Apply(&cfg, opts...); err != nil {
		return nil, err
	}
	if len(model) == 0 {
		return nil, fmt.Errorf("%w: empty model bytes for %s", ErrInvalidOption, cfg.name)
	}
	if len(inputs) == 0 || len(outputs) == 0 {
		return nil, fmt.Errorf("%w: session %s needs at least one input and one output name", ErrInvalidOption, cfg.name)
	}
	env.mu.Lock()
	if env.refs <= 0 {
		env.mu.Unlock()
		return nil, fmt.Errorf("new session %s: runtime %w", cfg.name, ErrClosed)
	}
	env.refs++ // the session keeps the environment alive until Close
	env.mu.Unlock()

	s, device, err := r.newSession(model, inputs, outputs, cfg)
	if err != nil {
		_ = releaseRef()
		return nil, err
	}
	return &Session{
		name:    cfg.name,
		inputs:  append([]string(nil), inputs...),
		outputs: append([]string(nil), outputs...),
		device:  device,
		s:       s,
	}, nil
}

func (r *Runtime) newSession(model []byte, inputs, outputs []string, cfg sessionConfig) (*onnx.DynamicAdvancedSession, Device, error) {
	so, err := onnx.NewSessionOptions()
	if err != nil {
		return nil, "", fmt.Errorf("session options for %s: %w", cfg.name, err)
	}
	defer so.Destroy()
	if cfg.intraOp > 0 {
		if err := so.SetIntraOpNumThreads(cfg.intraOp); err != nil {
			return nil, "", fmt.Errorf("intra-op threads for %s: %w", cfg.name, err)
		}
	}
	if cfg.interOp > 0 {
		if err := so.SetInterOpNumThreads(cfg.interOp); err != nil {
			return nil, "", fmt.Errorf("inter-op threads for %s: %w", cfg.name, err)
		}
	}
	if cfg.noSpin {
		for _, key := range []string{"session.intra_op.allow_spinning", "session.inter_op.allow_spinning"} {
			if err := so.AddSessionConfigEntry(key, "0"); err != nil {
				return nil, "", fmt.Errorf("%s for %s: %w", key, cfg.name, err)
			}
		}
	}
	device := DeviceCPU
	if cfg.device == DeviceCUDA || cfg.device == DeviceAuto {
		cudaErr := appendCUDA(so, cfg.deviceID)
		switch {
		case cudaErr == nil:
			device = DeviceCUDA
		case cfg.device == DeviceCUDA:
			return nil, "", fmt.Errorf("%w: CUDA for %s: %v", ErrDevice, cfg.name, cudaErr)
		default:
			r.logCUDAFallback(cudaErr)
		}
	}
	s, err := onnx.NewDynamicAdvancedSessionWithONNXData(model, inputs, outputs, so)
	if err != nil {
		return nil, "", fmt.Errorf("load model %s: %w", cfg.name, err)
	}
	return s, device, nil
}

func appendCUDA(so *onnx.SessionOptions, deviceID int) error {
	co, err := onnx.NewCUDAProviderOptions()
	if err != nil {
		return err
	}
	defer co.Destroy()
	if err := co.Update(map[string]string{"device_id": strconv.Itoa(deviceID)}); err != nil {
		return err
	}
	return so.AppendExecutionProviderCUDA(co)
}

func (r *Runtime) logCUDAFallback(cause error) {
	env.mu.Lock()
	logged := env.cudaFallbackLogged
	env.cudaFallbackLogged = true
	env.mu.Unlock()
	if !logged {
		r.logger.Warn("CUDA execution provider unavailable, running ONNX models on CPU (device=auto)", "reason", cause.Error())
	}
}

// Name is the session's name.
func (s *Session) Name() string { return s.name }

// Device is where the session actually runs (cpu or cuda, never auto).
func (s *Session) Device() Device { return s.device }

// Inputs are the input names Run expects, in order.
func (s *Session) Inputs() []string { return append([]string(nil), s.inputs...) }

// Outputs are the output names Run returns, in order.
func (s *Session) Outputs() []string { return append([]string(nil), s.outputs...) }

// Run evaluates the model. inputs are in the order of Inputs(); the result
// holds the outputs in the order of Outputs(), copied into Go memory. A
// cancelled context terminates the run.
func (s *Session) Run(ctx context.Context, inputs ...Tensor) ([]Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(inputs) != len(s.inputs) {
		return nil, fmt.Errorf("%w: %s takes %d inputs %v, got %d", ErrBadTensor, s.name, len(s.inputs), s.inputs, len(inputs))
	}
	for i, t := range inputs {
		if err := t.check(s.inputs[i]); err != nil {
			return nil, fmt.Errorf("run %s: %w", s.name, err)
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("run %s: session %w", s.name, ErrClosed)
	}

	values := make([]onnx.Value, 0, len(inputs))
	defer func() {
		for _, v := range values {
			_ = v.Destroy()
		}
	}()
	for i, t := range inputs {
		v, err := newValue(t)
		if err != nil {
			return nil, fmt.Errorf("run %s: input %s: %w", s.name, s.inputs[i], err)
		}
		values = append(values, v)
	}
	outs := make([]onnx.Value, len(s.outputs))
	defer func() {
		for _, v := range outs {
			if v != nil {
				_ = v.Destroy()
			}
		}
	}()
	ro, err := onnx.NewRunOptions()
	if err != nil {
		return nil, fmt.Errorf("run %s: run options: %w", s.name, err)
	}
	defer ro.Destroy()
	stop := context.AfterFunc(ctx, func() { _ = ro.Terminate() })
	runErr := s.s.RunWithOptions(values, outs, ro)
	stop()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("run %s: %w", s.name, err)
	}
	if runErr != nil {
		return nil, fmt.Errorf("run %s: %w", s.name, runErr)
	}
	res := make([]Tensor, len(outs))
	for i, v := range outs {
		t, err := fromValue(v)
		if err != nil {
			return nil, fmt.Errorf("run %s: output %s: %w", s.name, s.outputs[i], err)
		}
		res[i] = t
	}
	return res, nil
}

func newValue(t Tensor) (onnx.Value, error) {
	shape := onnx.NewShape(t.Shape...)
	if t.Float32 != nil {
		return onnx.NewTensor(shape, t.Float32)
	}
	return onnx.NewTensor(shape, t.Int64)
}

func fromValue(v onnx.Value) (Tensor, error) {
	shape := []int64(v.GetShape())
	switch tv := v.(type) {
	case *onnx.Tensor[float32]:
		// GetData is a Go-owned copy made by onnxruntime_go; it stays valid
		// after the value is destroyed.
		return Tensor{Shape: shape, Float32: tv.GetData()}, nil
	case *onnx.Tensor[int64]:
		return Tensor{Shape: shape, Int64: tv.GetData()}, nil
	}
	return Tensor{}, fmt.Errorf("%w: unsupported output type %T", ErrBadTensor, v)
}

// Close waits for running calls, destroys the ORT session and drops its
// reference to the runtime. Closing twice is a no-op.
func (s *Session) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.s.Destroy()
	s.s = nil
	return errors.Join(err, releaseRef())
}
