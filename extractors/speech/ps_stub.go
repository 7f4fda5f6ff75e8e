//go:build !cgo || nopocketsphinx

package speech

import "fmt"

func linked() error {
	return fmt.Errorf("%w: built without PocketSphinx (CGO_ENABLED=0 or -tags nopocketsphinx)", ErrUnavailable)
}

func newDecoder(hmm, dict, lm string) (decoder, error) {
	return nil, linked()
}
