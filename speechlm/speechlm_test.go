package speechlm

import (
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

func TestLines(t *testing.T) {
	rec := topology.ProductRecord{Product: storage.Product{ID: "p", Title: "Red running shoes", Brand: "Acme",
		Category: []string{"clothing", "running_shoes"}, Description: "not in the language model"}}
	want := []string{"Red running shoes", "Acme", "clothing", "running shoes"}
	if got := Lines(rec); !slices.Equal(got, want) {
		t.Fatalf("Lines = %q, want %q", got, want)
	}
}

func TestOptionsValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		opt  Option
		ok   bool
	}{
		{"logger", WithLogger(slog.Default()), true},
		{"nil logger", WithLogger(nil), false},
		{"debounce", WithDebounce(time.Second, time.Minute), true},
		{"zero quiet", WithDebounce(0, time.Second), false},
		{"max below quiet", WithDebounce(time.Second, time.Millisecond), false},
	} {
		err := c.opt(&config{})
		if c.ok != (err == nil) || (err != nil && !errors.Is(err, option.ErrInvalid)) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	js := natstest.JetStream(t)
	if _, err := NewBuilder(js, nil); !errors.Is(err, option.ErrInvalid) {
		t.Errorf("nil store: %v; want an invalid-option error", err)
	}
	if _, err := NewBuilder(nil, nil); !errors.Is(err, option.ErrInvalid) {
		t.Errorf("nil JetStream: %v", err)
	}
	if _, err := Load(t.Context(), nil, "../x"); err == nil {
		t.Error("Load accepted a version with a path in it")
	}
}
