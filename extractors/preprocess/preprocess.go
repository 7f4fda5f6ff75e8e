// Package preprocess owns the pure-Go preprocessing that turns raw product
// media into encoder inputs: image bytes (JPEG, PNG, GIF, WebP) into
// normalised CHW float32 tensors, and audio bytes (WAV, FLAC, MP3) into mono
// float32 waveforms at a target sample rate, with a band-limited resampler.
//
// Every function here is safe for concurrent use and keeps no global mutable
// state. Inputs that can never be processed (corrupt or truncated bytes, an
// unsupported format, a size limit exceeded) fail with an error wrapping
// ErrBadInput that says why; callers must not retry them. A spec that makes
// no sense (zero size, zero std, unknown resize mode) fails with ErrBadSpec.
//
// Text tokenisation lives in the sub-package wordpiece.
package preprocess

import (
	"errors"
	"fmt"
)

// ErrBadInput marks input bytes that can never be preprocessed. Every decode
// and validation failure wraps it, with a reason.
var ErrBadInput = errors.New("bad input")

// ErrTooLong marks audio over AudioSpec.MaxSeconds; such errors wrap
// ErrBadInput too.
var ErrTooLong = errors.New("audio too long")

// ErrBadSpec marks an invalid ImageSpec or AudioSpec: a configuration error,
// not a property of the input.
var ErrBadSpec = errors.New("bad preprocessing spec")

func badInput(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}

func badSpec(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrBadSpec, fmt.Sprintf(format, args...))
}

// recoverBadInput turns a panic in a third-party decoder into an error
// wrapping ErrBadInput. Decoders of untrusted bytes must never take the
// process down.
func recoverBadInput(what string, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %s: decoder panic: %v", ErrBadInput, what, r)
	}
}
