package index

import (
	"errors"
	"testing"
)

// TestNewFlatFromRows: a flat index over caller rows finds each row under
// its id, and rows that do not fit the ids are refused.
func TestNewFlatFromRows(t *testing.T) {
	for _, tc := range []struct {
		name string
		dim  int
		rows []float32
		ids  []string
		want error
	}{
		{"ok", 2, []float32{1, 0, 0, 1}, []string{"a", "b"}, nil},
		{"short", 2, []float32{1, 0, 0}, []string{"a", "b"}, ErrDimension},
		{"zero dim", 0, nil, nil, ErrDimension},
		{"duplicate id", 2, []float32{1, 0, 0, 1}, []string{"a", "a"}, ErrInvalidVector},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := NewFlatFromRows(tc.dim, tc.rows, tc.ids)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err != nil {
				return
			}
			if f.Len() != len(tc.ids) {
				t.Fatalf("len %d, want %d", f.Len(), len(tc.ids))
			}
			hits, err := f.Search(t.Context(), []float32{0, 1}, SearchOptions{K: 1})
			if err != nil || len(hits) != 1 || hits[0].ID != "b" {
				t.Fatalf("search: %v %+v, want b", err, hits)
			}
		})
	}
}
