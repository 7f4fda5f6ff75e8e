package topology

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/internal/option"
)

// unusedConsumer stands for a consumer in a config that is only validated.
type unusedConsumer struct{ jetstream.Consumer }

func TestPullConfigValidate(t *testing.T) {
	key := func(jetstream.Msg) string { return "" }
	var cons jetstream.Consumer = unusedConsumer{} // never fetched from: the config is refused first, or only validated
	for _, tc := range []struct {
		name string
		cfg  PullConfig
		ok   bool
	}{
		{"ok", PullConfig{Consumer: cons, Role: "r", Key: key}, true},
		{"no consumer", PullConfig{Role: "r", Key: key}, false},
		{"no role", PullConfig{Consumer: cons, Key: key}, false},
		{"no key", PullConfig{Consumer: cons, Role: "r"}, false},
		{"negative batch", PullConfig{Consumer: cons, Role: "r", Key: key, Batch: -1}, false},
		{"negative wait", PullConfig{Consumer: cons, Role: "r", Key: key, FetchWait: -time.Second}, false},
		{"negative workers", PullConfig{Consumer: cons, Role: "r", Key: key, Workers: -1}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.ok != (err == nil) || (err != nil && !errors.Is(err, option.ErrInvalid)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if !tc.ok {
				if err := PullGroups(t.Context(), tc.cfg, func(Group) time.Duration { return 0 }); !errors.Is(err, option.ErrInvalid) {
					t.Fatalf("PullGroups = %v, want option.ErrInvalid", err)
				}
			}
		})
	}
}
