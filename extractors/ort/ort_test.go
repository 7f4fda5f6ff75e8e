package ort_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/omnirank/omnirank/extractors/internal/onnxgraph"
	"github.com/omnirank/omnirank/extractors/ort"
)

// affineModel computes y = x·W + b for x [B,3], W [3,2].
func affineModel(t testing.TB) []byte {
	t.Helper()
	g := onnxgraph.New("affine")
	x := g.Input("x", onnxgraph.Float, "batch", 3)
	w := g.Floats([]int64{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	y := g.Op("Add", g.Op("MatMul", x, w), g.Floats([]int64{2}, []float32{0.5, -0.5}))
	g.Output(y, "y", onnxgraph.Float, "batch", 2)
	b, err := g.Model(17, "test", "")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func acquire(t testing.TB) *ort.Runtime {
	t.Helper()
	rt, err := ort.Acquire()
	if err != nil {
		t.Fatalf("ONNX Runtime is required for these tests (run `make setup`): %v", err)
	}
	return rt
}

func TestRunAffine(t *testing.T) {
	rt := acquire(t)
	defer rt.Release()
	s, err := rt.NewSession(affineModel(t), []string{"x"}, []string{"y"}, ort.WithIntraOpThreads(1), ort.WithInterOpThreads(1), ort.WithName("affine"), ort.WithSpinning(false))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Device() != ort.DeviceCPU {
		t.Fatalf("device %s, want cpu", s.Device())
	}
	x := []float32{1, 0, 0, 0, 1, 1}
	out, err := s.Run(context.Background(), ort.Float32Tensor(x, 2, 3))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1.5, 1.5, 8.5, 9.5}
	if len(out) != 1 || len(out[0].Float32) != 4 || out[0].Shape[0] != 2 || out[0].Shape[1] != 2 {
		t.Fatalf("output %+v", out)
	}
	for i, v := range out[0].Float32 {
		if v != want[i] {
			t.Fatalf("y = %v, want %v", out[0].Float32, want)
		}
	}
}

func TestRunBadInputs(t *testing.T) {
	rt := acquire(t)
	defer rt.Release()
	s, err := rt.NewSession(affineModel(t), []string{"x"}, []string{"y"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	cases := []struct {
		name string
		in   []ort.Tensor
	}{
		{"too few floats", []ort.Tensor{ort.Float32Tensor([]float32{1, 2}, 1, 3)}},
		{"no data", []ort.Tensor{{Shape: []int64{1, 3}}}},
		{"two inputs", []ort.Tensor{ort.Float32Tensor([]float32{1, 2, 3}, 1, 3), ort.Float32Tensor([]float32{1, 2, 3}, 1, 3)}},
		{"empty", []ort.Tensor{ort.Float32Tensor([]float32{}, 0, 3)}},
		{"negative dim", []ort.Tensor{ort.Float32Tensor([]float32{1, 2, 3}, -1, 3)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := s.Run(context.Background(), c.in...)
			if !errors.Is(err, ort.ErrBadTensor) {
				t.Fatalf("err = %v, want ErrBadTensor", err)
			}
		})
	}
	// Wrong element type reaches ORT, which must refuse it with an error.
	if _, err := s.Run(context.Background(), ort.Int64Tensor([]int64{1, 2, 3}, 1, 3)); err == nil {
		t.Fatal("int64 input to a float graph: no error")
	}
	// Wrong inner dimension.
	if _, err := s.Run(context.Background(), ort.Float32Tensor([]float32{1, 2, 3, 4}, 1, 4)); err == nil {
		t.Fatal("[1,4] input to a [B,3] graph: no error")
	}
}

func TestCancelledContext(t *testing.T) {
	rt := acquire(t)
	defer rt.Release()
	s, err := rt.NewSession(affineModel(t), []string{"x"}, []string{"y"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, ort.Float32Tensor([]float32{1, 2, 3}, 1, 3)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestSessionOptionsAndModels(t *testing.T) {
	rt := acquire(t)
	defer rt.Release()
	cases := []struct {
		name  string
		model []byte
		in    []string
		opts  []ort.SessionOption
		want  error // nil: any error is fine as long as there is one
	}{
		{"negative intra", affineModel(t), []string{"x"}, []ort.SessionOption{ort.WithIntraOpThreads(-1)}, ort.ErrInvalidOption},
		{"negative inter", affineModel(t), []string{"x"}, []ort.SessionOption{ort.WithInterOpThreads(-2)}, ort.ErrInvalidOption},
		{"bad device", affineModel(t), []string{"x"}, []ort.SessionOption{ort.WithDevice("tpu")}, ort.ErrInvalidOption},
		{"bad device id", affineModel(t), []string{"x"}, []ort.SessionOption{ort.WithCUDADeviceID(-1)}, ort.ErrInvalidOption},
		{"empty model", nil, []string{"x"}, nil, ort.ErrInvalidOption},
		{"no inputs", affineModel(t), nil, nil, ort.ErrInvalidOption},
		{"garbage model", []byte("not an onnx model"), []string{"x"}, nil, nil},
		{"unknown input name", affineModel(t), []string{"nope"}, nil, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := rt.NewSession(c.model, c.in, []string{"y"}, c.opts...)
			if err == nil {
				// An unknown input name may only fail at Run time.
				_, err = s.Run(context.Background(), ort.Float32Tensor([]float32{1, 2, 3}, 1, 3))
				s.Close()
			}
			if err == nil {
				t.Fatal("no error")
			}
			if c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

func TestDeviceSelection(t *testing.T) {
	rt := acquire(t)
	defer rt.Release()
	// auto always yields a working session, on CUDA when the library has it.
	s, err := rt.NewSession(affineModel(t), []string{"x"}, []string{"y"}, ort.WithDevice(ort.DeviceAuto))
	if err != nil {
		t.Fatalf("auto: %v", err)
	}
	if d := s.Device(); d != ort.DeviceCPU && d != ort.DeviceCUDA {
		t.Fatalf("auto resolved to %q", d)
	}
	if _, err := s.Run(context.Background(), ort.Float32Tensor([]float32{1, 2, 3}, 1, 3)); err != nil {
		t.Fatal(err)
	}
	autoDevice := s.Device()
	s.Close()
	// cuda either runs on CUDA or fails with ErrDevice, never silently on CPU.
	s, err = rt.NewSession(affineModel(t), []string{"x"}, []string{"y"}, ort.WithDevice(ort.DeviceCUDA))
	if err != nil {
		if !errors.Is(err, ort.ErrDevice) {
			t.Fatalf("cuda: err = %v, want ErrDevice", err)
		}
		if autoDevice != ort.DeviceCPU {
			t.Fatalf("cuda failed but auto chose %s", autoDevice)
		}
		return
	}
	defer s.Close()
	if s.Device() != ort.DeviceCUDA {
		t.Fatalf("cuda session reports %s", s.Device())
	}
}

func TestParseDevice(t *testing.T) {
	for _, c := range []struct {
		in   string
		want ort.Device
		ok   bool
	}{{"auto", ort.DeviceAuto, true}, {" CPU ", ort.DeviceCPU, true}, {"cuda", ort.DeviceCUDA, true}, {"gpu", "", false}, {"", "", false}} {
		d, err := ort.ParseDevice(c.in)
		if (err == nil) != c.ok || d != c.want {
			t.Errorf("ParseDevice(%q) = %q, %v", c.in, d, err)
		}
	}
}

func TestResolveLibraryPath(t *testing.T) {
	dir := t.TempDir()
	lib := filepath.Join(dir, "libonnxruntime.so.1")
	if err := os.WriteFile(lib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cacheLib := filepath.Join(dir, "cache", "onnxruntime-"+ort.LibraryVersion, "libonnxruntime.so.1")
	if err := os.MkdirAll(filepath.Dir(cacheLib), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cacheLib, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, explicit, envLib, cache, xdg string
		want                               string
		wantErr                            bool
	}{
		{name: "explicit wins", explicit: lib, envLib: "/nonexistent", want: lib},
		{name: "env var", envLib: lib, cache: "/nonexistent", want: lib},
		{name: "OMNIRANK_CACHE", cache: filepath.Join(dir, "cache"), want: cacheLib},
		{name: "XDG_CACHE_HOME", xdg: dir, wantErr: true}, // dir/omnirank/... does not exist
		{name: "missing explicit", explicit: filepath.Join(dir, "nope.so"), wantErr: true},
		{name: "directory", explicit: dir, wantErr: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("ONNXRUNTIME_LIB", c.envLib)
			t.Setenv("OMNIRANK_CACHE", c.cache)
			t.Setenv("XDG_CACHE_HOME", c.xdg)
			got, err := ort.ResolveLibraryPath(c.explicit)
			if c.wantErr {
				if !errors.Is(err, ort.ErrNoLibrary) || !strings.Contains(err.Error(), "make setup") || !strings.Contains(err.Error(), "ONNXRUNTIME_LIB") {
					t.Fatalf("err = %v, want ErrNoLibrary naming make setup and ONNXRUNTIME_LIB", err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("got %q, %v; want %q", got, err, c.want)
			}
		})
	}
	t.Run("xdg path shape", func(t *testing.T) {
		t.Setenv("OMNIRANK_CACHE", "")
		t.Setenv("XDG_CACHE_HOME", "/x")
		if got, want := ort.DefaultLibraryPath(), "/x/omnirank/onnxruntime-"+ort.LibraryVersion+"/libonnxruntime.so.1"; got != want {
			t.Fatalf("DefaultLibraryPath = %q, want %q", got, want)
		}
	})
}

func TestAcquireMissingLibrary(t *testing.T) {
	_, err := ort.Acquire(ort.WithLibraryPath(filepath.Join(t.TempDir(), "none.so")))
	if !errors.Is(err, ort.ErrNoLibrary) {
		t.Fatalf("err = %v, want ErrNoLibrary", err)
	}
	if _, err := ort.Acquire(ort.WithLibraryPath("")); !errors.Is(err, ort.ErrInvalidOption) {
		t.Fatalf("empty path: err = %v", err)
	}
}

// TestRefCounting: the environment survives while any runtime or session
// holds it, is torn down at zero, and comes back on the next Acquire.
func TestRefCounting(t *testing.T) {
	model := affineModel(t)
	for round := 0; round < 2; round++ {
		a := acquire(t)
		b := acquire(t)
		s, err := b.NewSession(model, []string{"x"}, []string{"y"})
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Release(); err != nil {
			t.Fatal(err)
		}
		if err := a.Release(); err != nil { // second release is a no-op
			t.Fatal(err)
		}
		if err := b.Release(); err != nil {
			t.Fatal(err)
		}
		// The session still holds the environment.
		if _, err := s.Run(context.Background(), ort.Float32Tensor([]float32{1, 2, 3}, 1, 3)); err != nil {
			t.Fatalf("round %d: run after runtimes released: %v", round, err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Run(context.Background(), ort.Float32Tensor([]float32{1, 2, 3}, 1, 3)); !errors.Is(err, ort.ErrClosed) {
			t.Fatalf("run after close: err = %v, want ErrClosed", err)
		}
		if _, err := b.NewSession(model, []string{"x"}, []string{"y"}); !errors.Is(err, ort.ErrClosed) {
			t.Fatalf("session on a released environment: err = %v, want ErrClosed", err)
		}
	}
}

func TestConcurrentRunAndClose(t *testing.T) {
	rt := acquire(t)
	defer rt.Release()
	s, err := rt.NewSession(affineModel(t), []string{"x"}, []string{"y"})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				out, err := s.Run(context.Background(), ort.Float32Tensor([]float32{1, 0, 0}, 1, 3))
				if errors.Is(err, ort.ErrClosed) {
					return
				}
				if err != nil {
					errs <- err
					return
				}
				if out[0].Float32[0] != 1.5 {
					errs <- errors.New("wrong result under concurrency")
					return
				}
			}
		}()
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
