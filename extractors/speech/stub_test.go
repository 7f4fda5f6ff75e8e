//go:build !cgo || nopocketsphinx

package speech

import (
	"errors"
	"testing"
)

// TestStubUnavailable: built without PocketSphinx, the pool reports
// ErrUnavailable and the language model side still works.
func TestStubUnavailable(t *testing.T) {
	if err := Available(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Available() = %v", err)
	}
	if _, err := NewPool(); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("NewPool() = %v", err)
	}
}
