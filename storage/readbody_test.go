package storage

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// readBody takes the announced size at its word only as far as the body
// agrees: a body shorter or longer than announced is an error, and an
// unknown size falls back to a bounded read.
func TestReadBody(t *testing.T) {
	body := []byte("0123456789")
	for _, tc := range []struct {
		name      string
		size, max int64
		want      []byte
		err       error // nil: success; io.ErrUnexpectedEOF or ErrTooLarge
	}{
		{"announced size", 10, 100, body, nil},
		{"unknown size", -1, 100, body, nil},
		{"unknown size over the limit", -1, 9, nil, ErrTooLarge},
		{"body longer than announced", 9, 100, nil, ErrTooLarge},
		{"body shorter than announced", 11, 100, nil, io.ErrUnexpectedEOF},
		{"announced empty, body not", 0, 100, nil, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readBody(bytes.NewReader(body), tc.size, tc.max)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if got, err := readBody(bytes.NewReader(nil), 0, 100); err != nil || len(got) != 0 {
		t.Fatalf("empty body: %q, %v", got, err)
	}
}
