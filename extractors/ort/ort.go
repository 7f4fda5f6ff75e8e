// Package ort owns omnirank's use of ONNX Runtime: locating and loading the
// shared library once per process, a reference-counted Runtime around the
// process-global ORT environment, and inference sessions with explicit
// lifetimes, thread settings and device (execution provider) selection.
//
// Every tensor this package creates is destroyed before the call that made it
// returns; every Session must be closed, and every Runtime released.
package ort

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	onnx "github.com/yalue/onnxruntime_go"

	"github.com/omnirank/omnirank/internal/option"
)

// LibraryVersion is the ONNX Runtime release the project's setup installs.
const LibraryVersion = "1.30.0"

// Sentinel errors.
var (
	// ErrNoLibrary: the ONNX Runtime shared library could not be found or loaded.
	ErrNoLibrary = errors.New("onnx runtime library not available")
	// ErrDevice: the requested execution provider cannot be used.
	ErrDevice = errors.New("execution provider unavailable")
	// ErrClosed: the session or runtime was already closed.
	ErrClosed = errors.New("closed")
	// ErrInvalidOption: a functional option had an invalid value
	// (option.ErrInvalid).
	ErrInvalidOption = option.ErrInvalid
	// ErrBadTensor: an input tensor's shape and data disagree.
	ErrBadTensor = errors.New("bad tensor")
)

// env is the one ONNX Runtime environment of the process. onnxruntime_go keeps
// it in package-level state, so it cannot be per-instance; this struct is the
// only place the project touches it, guarded by mu and reference counted.
var env struct {
	mu   sync.Mutex
	refs int
	path string
	// cudaFallbackLogged makes the auto→CPU fallback one log line per load.
	cudaFallbackLogged bool
}

// Runtime is a counted reference to the process-wide ONNX Runtime
// environment. Create one with Acquire and give it back with Release; the
// environment is torn down when the last reference is released.
type Runtime struct {
	path   string
	logger *slog.Logger
	once   sync.Once
}

type runtimeConfig struct {
	libraryPath string
	logger      *slog.Logger
}

// Option configures Acquire.
type Option func(*runtimeConfig) error

// WithLibraryPath names the libonnxruntime shared library explicitly.
func WithLibraryPath(path string) Option {
	return func(c *runtimeConfig) error {
		if strings.TrimSpace(path) == "" {
			return fmt.Errorf("%w: empty library path", ErrInvalidOption)
		}
		c.libraryPath = path
		return nil
	}
}

// ValidateOptions applies opts to a scratch configuration and returns the
// first error, so that a component taking runtime options for later can
// refuse bad ones when it is made.
func ValidateOptions(opts ...Option) error {
	var cfg runtimeConfig
	return option.Apply(&cfg, opts...)
}

// WithLogger sets the logger for runtime and session events.
func WithLogger(l *slog.Logger) Option {
	return func(c *runtimeConfig) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidOption)
		}
		c.logger = l
		return nil
	}
}

// DefaultLibraryPath is where `make setup` (scripts/fetch-onnxruntime.sh)
// installs the library: $OMNIRANK_CACHE, else $XDG_CACHE_HOME/omnirank, else
// ~/.cache/omnirank, then onnxruntime-<version>/libonnxruntime.so.1.
func DefaultLibraryPath() string {
	cache := os.Getenv("OMNIRANK_CACHE")
	if cache == "" {
		base := os.Getenv("XDG_CACHE_HOME")
		if base == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				home = "."
			}
			base = filepath.Join(home, ".cache")
		}
		cache = filepath.Join(base, "omnirank")
	}
	return filepath.Join(cache, "onnxruntime-"+LibraryVersion, "libonnxruntime.so.1")
}

// ResolveLibraryPath picks the library: explicit if not empty, else
// $ONNXRUNTIME_LIB, else DefaultLibraryPath. The file must exist.
func ResolveLibraryPath(explicit string) (string, error) {
	var path, from string
	switch {
	case explicit != "":
		path, from = explicit, "explicit option"
	case os.Getenv("ONNXRUNTIME_LIB") != "":
		path, from = os.Getenv("ONNXRUNTIME_LIB"), "ONNXRUNTIME_LIB"
	default:
		path, from = DefaultLibraryPath(), "default cache location"
	}
	st, err := os.Stat(path)
	if err != nil || st.IsDir() {
		return "", fmt.Errorf("%w: %s (from %s) is not a file; run `make setup` to install ONNX Runtime %s, or set ONNXRUNTIME_LIB to the path of libonnxruntime.so",
			ErrNoLibrary, path, from, LibraryVersion)
	}
	return path, nil
}

// Acquire returns a reference to the process-wide ONNX Runtime environment,
// loading the shared library on first use. All references in a process share
// one library: asking for a different path while it is loaded is an error.
func Acquire(opts ...Option) (*Runtime, error) {
	cfg := runtimeConfig{logger: slog.Default()}
	if err := option.Apply(&cfg, opts...); err != nil {
		return nil, err
	}
	path, err := ResolveLibraryPath(cfg.libraryPath)
	if err != nil {
		return nil, err
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.refs > 0 {
		if env.path != path {
			return nil, fmt.Errorf("%w: ONNX Runtime already loaded from %s, cannot also load %s", ErrNoLibrary, env.path, path)
		}
		env.refs++
		return &Runtime{path: path, logger: cfg.logger}, nil
	}
	onnx.SetSharedLibraryPath(path)
	if err := onnx.InitializeEnvironment(onnx.WithLogLevelError()); err != nil {
		return nil, fmt.Errorf("%w: load %s: %v; run `make setup` or set ONNXRUNTIME_LIB", ErrNoLibrary, path, err)
	}
	env.refs, env.path = 1, path
	cfg.logger.Debug("onnx runtime loaded", "path", path, "version", onnx.GetVersion())
	return &Runtime{path: path, logger: cfg.logger}, nil
}

// releaseRef drops one reference, destroying the environment at zero.
func releaseRef() error {
	env.mu.Lock()
	defer env.mu.Unlock()
	if env.refs <= 0 {
		return fmt.Errorf("release onnx runtime: %w", ErrClosed)
	}
	env.refs--
	if env.refs == 0 {
		env.path = ""
		env.cudaFallbackLogged = false
		if err := onnx.DestroyEnvironment(); err != nil {
			return fmt.Errorf("destroy onnx runtime environment: %w", err)
		}
	}
	return nil
}

// Release gives the reference back. It is safe to call more than once; only
// the first call counts.
func (r *Runtime) Release() error {
	var err error
	released := false
	r.once.Do(func() { released = true; err = releaseRef() })
	if !released {
		return nil
	}
	return err
}

// LibraryPath is the absolute path of the loaded shared library.
func (r *Runtime) LibraryPath() string { return r.path }

// Version is the ONNX Runtime version string reported by the library.
func (r *Runtime) Version() string { return onnx.GetVersion() }

// Device selects where a session runs.
type Device string

// Devices.
const (
	// DeviceAuto tries CUDA and falls back to CPU with one log line.
	DeviceAuto Device = "auto"
	// DeviceCPU runs on the CPU execution provider.
	DeviceCPU Device = "cpu"
	// DeviceCUDA requires the CUDA execution provider.
	DeviceCUDA Device = "cuda"
)

// ParseDevice parses "auto", "cpu" or "cuda".
func ParseDevice(s string) (Device, error) {
	switch d := Device(strings.ToLower(strings.TrimSpace(s))); d {
	case DeviceAuto, DeviceCPU, DeviceCUDA:
		return d, nil
	}
	return "", fmt.Errorf("%w: device %q (want auto, cpu or cuda)", ErrInvalidOption, s)
}

// IsContextDone reports whether err came from a cancelled or expired context.
func IsContextDone(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
