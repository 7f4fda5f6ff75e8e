// Package option holds the one error every configurable omnirank component
// returns for an option or config value out of range, so that a caller
// checks errors.Is(err, option.ErrInvalid) (or the package's own
// ErrInvalidOption, the same value) whatever the component.
package option

import (
	"errors"
	"fmt"
)

// ErrInvalid marks an option or config field with an invalid value.
var ErrInvalid = errors.New("invalid option")

// Errorf returns an error wrapping ErrInvalid with the formatted detail.
func Errorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// Apply applies functional options to cfg in order and returns the first
// error. With a zero cfg it validates options a component keeps for later.
func Apply[C any, O ~func(*C) error](cfg *C, opts ...O) error {
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return err
		}
	}
	return nil
}
