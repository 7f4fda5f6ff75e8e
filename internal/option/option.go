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
