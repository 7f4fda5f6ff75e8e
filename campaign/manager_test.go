package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// registered is the model lookup of these tests: the models a registry
// would hold, by name@version.
var registered = map[string]struct {
	modality string
	dim      int
}{
	"text-a@1":  {"text", 8},
	"text-b@2":  {"text", 16},
	"image-a@1": {"image", 4},
}

func lookup(_ context.Context, id string) (string, int, error) {
	m, ok := registered[id]
	if !ok {
		return "", 0, fmt.Errorf("model %s not found", id)
	}
	return m.modality, m.dim, nil
}

func newManager(t *testing.T) (*Manager, jetstream.JetStream) {
	t.Helper()
	js := natstest.JetStream(t)
	ctx := context.Background()
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), topology.Modalities); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(ctx, js, lookup, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateSpace(ctx, "old", specs(t, "text=text-a@1", "image=image-a@1:0.5")); err != nil {
		t.Fatal(err)
	}
	if err := m.spaces.SetActive(ctx, "old", 0); err != nil {
		t.Fatal(err)
	}
	return m, js
}

func specs(t *testing.T, ss ...string) []spaces.BlockSpec {
	t.Helper()
	var out []spaces.BlockSpec
	for _, s := range ss {
		b, err := spaces.ParseBlockSpec(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

func TestCreateSpaceChecksModels(t *testing.T) {
	m, _ := newManager(t)
	ctx := context.Background()
	sp, err := m.CreateSpace(ctx, "new", specs(t, "text=text-b@2", "image=image-a@1:0.5"))
	if err != nil {
		t.Fatal(err)
	}
	if sp.Dim() != 20 || sp.Blocks[0].Dim != 16 || sp.Blocks[1].Weight != 0.5 {
		t.Fatalf("space %+v: dims must come from the manifests", sp)
	}
	for _, tc := range []struct {
		name   string
		space  string
		blocks []string
		want   error
	}{
		{"unknown model", "x1", []string{"text=nope@1"}, ErrInvalid},
		{"model of another modality", "x2", []string{"image=text-a@1"}, ErrInvalid},
		{"bad name", "Bad Name", []string{"text=text-a@1"}, ErrInvalid},
		{"no blocks", "x3", nil, ErrInvalid},
		{"existing name", "new", []string{"text=text-a@1"}, ErrConflict},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.CreateSpace(ctx, tc.space, specs(t, tc.blocks...))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	all, err := m.ListSpaces(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("after refusals: %d spaces (%v), want 2", len(all), err)
	}
}

func TestParseBlockSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want spaces.BlockSpec
		err  bool
	}{
		{"text=m@1", spaces.BlockSpec{Modality: "text", Model: "m@1", Weight: 1}, false},
		{"audio=m@2:0.25", spaces.BlockSpec{Modality: "audio", Model: "m@2", Weight: 0.25}, false},
		{"text", spaces.BlockSpec{}, true},
		{"text=m", spaces.BlockSpec{}, true},
		{"text=m@1:0", spaces.BlockSpec{}, true},
		{"text=m@1:x", spaces.BlockSpec{}, true},
	} {
		got, err := spaces.ParseBlockSpec(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("%q: got %+v, %v", tc.in, got, err)
		}
	}
}

// Bad requests are refused with a clear error and change nothing.
func TestCampaignRefusals(t *testing.T) {
	m, _ := newManager(t)
	ctx := context.Background()
	if _, err := m.CreateSpace(ctx, "new", specs(t, "text=text-b@2")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.CreateSpace(ctx, "other", specs(t, "text=text-b@2")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, "missing", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown space: %v", err)
	}
	if _, err := m.Start(ctx, "old", 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("active space: %v", err)
	}
	if _, err := m.Status(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status before any campaign: %v", err)
	}
	c, err := m.Start(ctx, "new", 5)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != topology.CampaignRunning || c.From != "old" || c.Rate != 5 {
		t.Fatalf("started %+v", c)
	}
	if _, err := m.Start(ctx, "other", 0); !errors.Is(err, ErrConflict) {
		t.Fatalf("second campaign: %v", err)
	}
	if _, err := m.RetireSpace(ctx, "new"); !errors.Is(err, ErrConflict) {
		t.Fatalf("retire the campaign's space: %v", err)
	}
	if _, err := m.RetireSpace(ctx, "old"); !errors.Is(err, ErrConflict) {
		t.Fatalf("retire the active space: %v", err)
	}
	if _, err := m.Promote(ctx, true, 0.01); !errors.Is(err, ErrConflict) {
		t.Fatalf("promote while running, even forced: %v", err)
	}
	if _, err := m.Resume(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("resume a running campaign: %v", err)
	}
	if c, err = m.Pause(ctx); err != nil || c.State != topology.CampaignPaused {
		t.Fatalf("pause: %+v %v", c, err)
	}
	if c, err = m.Resume(ctx); err != nil || c.State != topology.CampaignRunning {
		t.Fatalf("resume: %+v %v", c, err)
	}
	after, err := m.Status(ctx)
	if err != nil || after.Space != "new" || after.State != topology.CampaignRunning {
		t.Fatalf("after refusals the campaign is %+v (%v)", after, err)
	}
	active, _, _ := m.spaces.Active(ctx)
	if active != "old" {
		t.Fatalf("alias moved to %s", active)
	}
	if c, err = m.Cancel(ctx); err != nil || c.State != topology.CampaignCancelled {
		t.Fatalf("cancel: %+v %v", c, err)
	}
	if _, err := m.Start(ctx, "other", 0); err != nil {
		t.Fatalf("a campaign after a cancelled one: %v", err)
	}
}

// setDone marks the campaign done as the controller would.
func setDone(t *testing.T, m *Manager) {
	t.Helper()
	if _, err := m.camp.update(context.Background(), func(c *topology.Campaign) error {
		c.State, c.Enumerated, c.Done, c.Total = topology.CampaignDone, true, 3, 3
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func TestPromoteGateAndRollback(t *testing.T) {
	m, js := newManager(t)
	ctx := context.Background()
	if _, err := m.CreateSpace(ctx, "new", specs(t, "text=text-b@2")); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Start(ctx, "new", 0); err != nil {
		t.Fatal(err)
	}
	setDone(t, m)
	if _, err := m.Promote(ctx, false, 0.01); !errors.Is(err, ErrConflict) {
		t.Fatalf("promote without an evaluation: %v", err)
	}
	for _, tc := range []struct {
		active, campaign, maxReg float64
		ok                       bool
	}{
		{0.80, 0.70, 0.01, false},
		{0.80, 0.795, 0.01, true},
	} {
		if _, err := m.SetEvaluation(ctx, topology.CampaignEvaluation{K: 10, Queries: 5, ActiveNDCG: tc.active, CampaignNDCG: tc.campaign}); err != nil {
			t.Fatal(err)
		}
		_, err := m.Promote(ctx, false, tc.maxReg)
		if tc.ok != (err == nil) {
			t.Fatalf("NDCG %g vs %g: promote err %v", tc.campaign, tc.active, err)
		}
		active, _, _ := m.spaces.Active(ctx)
		if want := map[bool]string{true: "new", false: "old"}[tc.ok]; active != want {
			t.Fatalf("alias at %s, want %s", active, want)
		}
	}
	c, err := m.Status(ctx)
	if err != nil || !c.Promoted {
		t.Fatalf("after promote: %+v %v", c, err)
	}
	if _, err := m.Cancel(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("cancel a promoted campaign: %v", err)
	}
	if c, err = m.Rollback(ctx); err != nil || c.Promoted {
		t.Fatalf("rollback: %+v %v", c, err)
	}
	active, _, _ := m.spaces.Active(ctx)
	if active != "old" {
		t.Fatalf("after rollback alias at %s", active)
	}
	if _, err := m.Rollback(ctx); !errors.Is(err, ErrConflict) {
		t.Fatalf("second rollback: %v", err)
	}
	// Promote again, then retire the old space: that closes the campaign.
	if _, err := m.Promote(ctx, true, 0); err != nil {
		t.Fatal(err)
	}
	kv, err := js.KeyValue(ctx, topology.BucketCampaigns)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.RetireSpace(ctx, "old"); err != nil {
		t.Fatalf("retire the old space after promotion: %v", err)
	}
	if _, err := m.Status(ctx); !errors.Is(err, ErrNotFound) {
		t.Fatalf("campaign after retiring its old space: %v", err)
	}
	e, err := kv.Get(ctx, topology.CampaignHistoryKey("new"))
	if err != nil {
		t.Fatal(err)
	}
	var hist topology.Campaign
	if err := json.Unmarshal(e.Value(), &hist); err != nil || !hist.Promoted {
		t.Fatalf("archived campaign %+v %v", hist, err)
	}
}
