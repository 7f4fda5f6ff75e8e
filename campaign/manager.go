// Package campaign owns re-embedding campaigns and the management of
// embedding spaces around them: creating a space from registered models,
// retiring one (its embeddings, features and snapshots with it), starting,
// pausing, resuming and cancelling the campaign that re-embeds the whole
// catalogue into a new space through the backfill lane, the evaluation
// gate, promotion (one compare-and-swap of the active alias) and rollback.
//
// A campaign's whole state is one record in the campaigns KV bucket
// (topology.Campaign), written with compare-and-swap; the Controller (the
// `campaign` role) drives it and can be killed and restarted anywhere:
// it continues from the record's cursor, and the Msg-Id of every job and
// copied features message (space/product/modality/hash) plus a check of
// the features already stored keep it from queueing any work twice.
package campaign

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// Errors an operator's request can be refused with; each is wrapped with
// the details.
var (
	// ErrInvalid: the request itself is wrong (unknown model, bad block).
	ErrInvalid = errors.New("invalid request")
	// ErrNotFound: the space (or campaign) named does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the request does not fit the current state (a campaign
	// already running, the space is active, the campaign is not done).
	ErrConflict = errors.New("conflict")
)

// ModelLookup returns the modality and output dimension of a registered
// model (name@version), or an error if it is not registered.
type ModelLookup func(ctx context.Context, model string) (modality string, dim int, err error)

// Manager carries out operators' requests on spaces and campaigns.
type Manager struct {
	js       jetstream.JetStream
	spaces   *spaces.Store
	camp     *store
	models   ModelLookup
	objects  storage.ObjectStore
	now      func() time.Time
	features jetstream.Stream
	emb      jetstream.Stream
}

// NewManager opens what the manager needs (declared by topology.Ensure).
// models checks blocks of new spaces; objects holds the ranker snapshots a
// retired space leaves (nil: none to delete).
func NewManager(ctx context.Context, js jetstream.JetStream, models ModelLookup, objects storage.ObjectStore) (*Manager, error) {
	if models == nil {
		return nil, errors.New("campaign: no model lookup")
	}
	m := &Manager{js: js, models: models, objects: objects, now: time.Now}
	var err error
	if m.spaces, err = spaces.NewStore(ctx, js); err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	if m.camp, err = openStore(ctx, js); err != nil {
		return nil, fmt.Errorf("campaign: %w", err)
	}
	if m.features, err = js.Stream(ctx, topology.StreamFeatures); err != nil {
		return nil, fmt.Errorf("campaign: open features stream: %w", err)
	}
	if m.emb, err = js.Stream(ctx, topology.StreamEmb); err != nil {
		return nil, fmt.Errorf("campaign: open emb stream: %w", err)
	}
	return m, nil
}

// SpaceInfo is a stored space with where it stands.
type SpaceInfo struct {
	spaces.Space
	Active bool
	// Campaign is the state of the open campaign building this space, if any.
	Campaign topology.CampaignState
}

// CreateSpace stores a new space made of the given blocks. Every block's
// model must be registered for the block's modality; its dimension comes
// from the model's manifest.
func (m *Manager) CreateSpace(ctx context.Context, name string, blocks []spaces.BlockSpec) (spaces.Space, error) {
	sp := spaces.Space{Name: name}
	for _, b := range blocks {
		mod, dim, err := m.models(ctx, b.Model)
		if err != nil {
			return spaces.Space{}, fmt.Errorf("%w: block %s: model %s is not registered: %v", ErrInvalid, b.Modality, b.Model, err)
		}
		if mod != b.Modality {
			return spaces.Space{}, fmt.Errorf("%w: block %s: model %s encodes %s, not %s", ErrInvalid, b.Modality, b.Model, mod, b.Modality)
		}
		sp.Blocks = append(sp.Blocks, spaces.Block{Modality: b.Modality, Model: b.Model, Dim: dim, Weight: b.Weight})
	}
	if err := sp.Validate(); err != nil {
		return spaces.Space{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if _, err := m.spaces.Get(ctx, name); err == nil {
		return spaces.Space{}, fmt.Errorf("%w: space %s already exists (spaces are immutable: pick a new name)", ErrConflict, name)
	}
	if err := m.spaces.Put(ctx, sp); err != nil {
		return spaces.Space{}, fmt.Errorf("%w: %v", ErrConflict, err)
	}
	return sp, nil
}

// ListSpaces returns every stored space.
func (m *Manager) ListSpaces(ctx context.Context) ([]SpaceInfo, error) {
	all, err := m.spaces.List(ctx)
	if err != nil {
		return nil, err
	}
	active, _, _ := m.spaces.Active(ctx)
	c, _, cerr := m.camp.get(ctx)
	if cerr != nil && !errors.Is(cerr, ErrNoCampaign) {
		return nil, cerr
	}
	out := make([]SpaceInfo, 0, len(all))
	for _, s := range all {
		info := SpaceInfo{Space: s, Active: s.Name == active}
		if cerr == nil && c.Space == s.Name && c.State.Open() {
			info.Campaign = c.State
		}
		out = append(out, info)
	}
	return out, nil
}

// GetSpace returns one stored space.
func (m *Manager) GetSpace(ctx context.Context, name string) (SpaceInfo, error) {
	all, err := m.ListSpaces(ctx)
	if err != nil {
		return SpaceInfo{}, err
	}
	for _, s := range all {
		if s.Name == name {
			return s, nil
		}
	}
	return SpaceInfo{}, fmt.Errorf("%w: space %s", ErrNotFound, name)
}

// Retired is what RetireSpace removed.
type Retired struct {
	Embeddings, Features uint64
	Snapshots            int
}

// RetireSpace removes a space: its definition, its embeddings and features
// and its ranker snapshots. It refuses the active space and the space of
// an open campaign that is not promoted; retiring the space a promoted
// campaign started from closes that campaign (its dual write ends).
func (m *Manager) RetireSpace(ctx context.Context, name string) (Retired, error) {
	if _, err := m.spaces.Get(ctx, name); err != nil {
		return Retired{}, fmt.Errorf("%w: space %s", ErrNotFound, name)
	}
	active, _, err := m.spaces.Active(ctx)
	if err != nil {
		return Retired{}, err
	}
	if active == name {
		return Retired{}, fmt.Errorf("%w: space %s is active; promote another space first", ErrConflict, name)
	}
	c, rev, err := m.camp.get(ctx)
	switch {
	case errors.Is(err, ErrNoCampaign):
	case err != nil:
		return Retired{}, err
	case c.State.Open() && c.Space == name:
		return Retired{}, fmt.Errorf("%w: space %s has a %s campaign; cancel it first", ErrConflict, name, c.State)
	case c.State.Open() && c.From == name:
		// The campaign was promoted away from this space (it is not
		// active): retiring the old space closes the campaign.
		if err := m.camp.archive(ctx, c, rev); err != nil {
			return Retired{}, err
		}
	}
	if err := m.spaces.Delete(ctx, name); err != nil {
		return Retired{}, fmt.Errorf("%w: %v", ErrConflict, err)
	}
	var out Retired
	if out.Embeddings, err = purge(ctx, m.emb, topology.EmbFilter(name)); err != nil {
		return out, err
	}
	if out.Features, err = purge(ctx, m.features, topology.FeaturesFilter(name)); err != nil {
		return out, err
	}
	if m.objects != nil {
		keys, err := m.objects.List(ctx, storage.SnapshotsPrefix+name+"/")
		if err != nil {
			return out, fmt.Errorf("list snapshots of %s: %w", name, err)
		}
		for _, k := range keys {
			if err := m.objects.DeleteObject(ctx, k); err != nil {
				return out, fmt.Errorf("delete snapshot %s: %w", k, err)
			}
			out.Snapshots++
		}
	}
	return out, nil
}

// purge removes every message of subject filter from a stream and says how many.
func purge(ctx context.Context, st jetstream.Stream, filter string) (uint64, error) {
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return 0, fmt.Errorf("count %s: %w", filter, err)
	}
	var n uint64
	for _, c := range info.State.Subjects {
		n += c
	}
	if err := st.Purge(ctx, jetstream.WithPurgeSubject(filter)); err != nil {
		return 0, fmt.Errorf("purge %s: %w", filter, err)
	}
	return n, nil
}

// Start opens a campaign that re-embeds the catalogue into space, at
// most rate products per second (0: no cap; the controller still adapts to
// live work). It refuses the active space, an unknown space and a second
// campaign while one is open (a promoted, done one is archived instead).
func (m *Manager) Start(ctx context.Context, space string, rate float64) (topology.Campaign, error) {
	if rate < 0 {
		return topology.Campaign{}, fmt.Errorf("%w: rate %g is negative", ErrInvalid, rate)
	}
	if _, err := m.spaces.Get(ctx, space); err != nil {
		if errors.Is(err, spaces.ErrNotFound) {
			return topology.Campaign{}, fmt.Errorf("%w: space %s (create it with `omnirank spaces create`)", ErrNotFound, space)
		}
		return topology.Campaign{}, err
	}
	active, _, err := m.spaces.Active(ctx)
	if err != nil {
		return topology.Campaign{}, err
	}
	if active == space {
		return topology.Campaign{}, fmt.Errorf("%w: space %s is the active space; a campaign builds a new one", ErrConflict, space)
	}
	old, rev, err := m.camp.get(ctx)
	switch {
	case errors.Is(err, ErrNoCampaign):
		rev = 0
	case err != nil:
		return topology.Campaign{}, err
	case old.State.Open() && !(old.State == topology.CampaignDone && old.Promoted):
		return topology.Campaign{}, fmt.Errorf("%w: a campaign into %s is %s; cancel it (or promote it) first", ErrConflict, old.Space, old.State)
	default:
		// The last campaign is over: keep it under its history key.
		if err := m.camp.archive(ctx, old, rev); err != nil {
			return topology.Campaign{}, err
		}
		rev = 0
	}
	now := m.now()
	c := topology.Campaign{Space: space, From: active, State: topology.CampaignRunning, Rate: rate, StartedAt: now, UpdatedAt: now}
	if _, err := m.camp.put(ctx, c, rev); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return topology.Campaign{}, fmt.Errorf("%w: another campaign started at the same moment", ErrConflict)
		}
		return topology.Campaign{}, err
	}
	return c, nil
}

// Status returns the current campaign.
func (m *Manager) Status(ctx context.Context) (topology.Campaign, error) {
	c, _, err := m.camp.get(ctx)
	if errors.Is(err, ErrNoCampaign) {
		return c, fmt.Errorf("%w: %w (start one with `omnirank campaign start`)", ErrNotFound, err)
	}
	return c, err
}

// transition moves the campaign from one of the states in from to to.
func (m *Manager) transition(ctx context.Context, verb string, to topology.CampaignState, from ...topology.CampaignState) (topology.Campaign, error) {
	c, err := m.camp.update(ctx, func(c *topology.Campaign) error {
		ok := false
		for _, f := range from {
			ok = ok || c.State == f
		}
		if !ok || (to == topology.CampaignCancelled && c.Promoted) {
			return fmt.Errorf("%w: cannot %s the campaign into %s: it is %s%s", ErrConflict, verb, c.Space, c.State, promotedNote(c))
		}
		c.State, c.UpdatedAt = to, m.now()
		if !to.Open() {
			c.FinishedAt = c.UpdatedAt
		}
		return nil
	})
	if errors.Is(err, ErrNoCampaign) {
		return c, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return c, err
}

func promotedNote(c *topology.Campaign) string {
	if c.Promoted {
		return " and promoted (roll back first)"
	}
	return ""
}

// Pause stops queueing more backfill work (work already queued finishes).
func (m *Manager) Pause(ctx context.Context) (topology.Campaign, error) {
	return m.transition(ctx, "pause", topology.CampaignPaused, topology.CampaignRunning)
}

// Resume continues a paused campaign from where it stopped.
func (m *Manager) Resume(ctx context.Context) (topology.Campaign, error) {
	return m.transition(ctx, "resume", topology.CampaignRunning, topology.CampaignPaused)
}

// Cancel ends the campaign: nothing more is queued and live changes stop
// reaching its space. The space stays until retired.
func (m *Manager) Cancel(ctx context.Context) (topology.Campaign, error) {
	return m.transition(ctx, "cancel", topology.CampaignCancelled,
		topology.CampaignRunning, topology.CampaignPaused, topology.CampaignDone)
}

// DefaultMaxRegression is how much lower the campaign space's NDCG@k may
// be than the active one's for promotion without --force.
const DefaultMaxRegression = 0.01

// SetEvaluation stores a side-by-side evaluation with the campaign. The
// campaign must be done: an evaluation of a half-filled space would judge
// products missing, not the model.
func (m *Manager) SetEvaluation(ctx context.Context, ev topology.CampaignEvaluation) (topology.Campaign, error) {
	if ev.K <= 0 || ev.Queries <= 0 {
		return topology.Campaign{}, fmt.Errorf("%w: evaluation needs k > 0 and at least one query", ErrInvalid)
	}
	c, err := m.camp.update(ctx, func(c *topology.Campaign) error {
		if c.State != topology.CampaignDone {
			return fmt.Errorf("%w: the campaign into %s is %s (%d of %d done); evaluate once it is done", ErrConflict, c.Space, c.State, c.Done, c.Total)
		}
		ev.At = m.now()
		c.Evaluation = &ev
		c.UpdatedAt = ev.At
		return nil
	})
	if errors.Is(err, ErrNoCampaign) {
		return c, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return c, err
}

// Promote points the active alias at the campaign's space with one
// compare-and-swap. It refuses unless the campaign is done, and unless its
// stored evaluation shows the new space's NDCG@k at most maxRegression
// below the active one's; force skips the evaluation gate (never the
// done check: a space missing products would serve them missing).
func (m *Manager) Promote(ctx context.Context, force bool, maxRegression float64) (topology.Campaign, error) {
	if maxRegression < 0 {
		return topology.Campaign{}, fmt.Errorf("%w: max regression %g is negative", ErrInvalid, maxRegression)
	}
	c, _, err := m.camp.get(ctx)
	if errors.Is(err, ErrNoCampaign) {
		return c, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		return c, err
	}
	if c.State != topology.CampaignDone {
		return c, fmt.Errorf("%w: the campaign into %s is %s (%d of %d done); promote waits for done", ErrConflict, c.Space, c.State, c.Done, c.Total)
	}
	if !force {
		ev := c.Evaluation
		if ev == nil {
			return c, fmt.Errorf("%w: no evaluation stored; run `omnirank campaign evaluate --queries FILE` (or promote with --force)", ErrConflict)
		}
		if ev.CampaignNDCG < ev.ActiveNDCG-maxRegression {
			return c, fmt.Errorf("%w: NDCG@%d of %s is %.4f, of %s %.4f: a regression of %.4f, over the %.4f allowed (--force to promote anyway)",
				ErrConflict, ev.K, c.Space, ev.CampaignNDCG, c.From, ev.ActiveNDCG, ev.ActiveNDCG-ev.CampaignNDCG, maxRegression)
		}
	}
	if err := m.moveAlias(ctx, c.From, c.Space); err != nil {
		return c, err
	}
	return m.camp.update(ctx, func(c *topology.Campaign) error {
		c.Promoted, c.UpdatedAt = true, m.now()
		return nil
	})
}

// Rollback points the active alias back at the space the promoted
// campaign started from. The campaign's space stays until retired.
func (m *Manager) Rollback(ctx context.Context) (topology.Campaign, error) {
	c, _, err := m.camp.get(ctx)
	if errors.Is(err, ErrNoCampaign) {
		return c, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if err != nil {
		return c, err
	}
	if !c.Promoted {
		return c, fmt.Errorf("%w: the campaign into %s was not promoted; nothing to roll back", ErrConflict, c.Space)
	}
	if _, err := m.spaces.Get(ctx, c.From); err != nil {
		return c, fmt.Errorf("%w: space %s was retired; cannot roll back to it", ErrConflict, c.From)
	}
	if err := m.moveAlias(ctx, c.Space, c.From); err != nil {
		return c, err
	}
	return m.camp.update(ctx, func(c *topology.Campaign) error {
		c.Promoted, c.UpdatedAt = false, m.now()
		return nil
	})
}

// moveAlias moves the active alias from one space to another with one
// compare-and-swap; an alias already at to is left (a retried call).
func (m *Manager) moveAlias(ctx context.Context, from, to string) error {
	active, rev, err := m.spaces.Active(ctx)
	if err != nil {
		return err
	}
	switch active {
	case to:
		return nil
	case from:
		if err := m.spaces.SetActive(ctx, to, rev); err != nil {
			return fmt.Errorf("%w: %v", ErrConflict, err)
		}
		return nil
	default:
		return fmt.Errorf("%w: the active space is %s, not %s: the alias was moved by someone else", ErrConflict, active, from)
	}
}

// Watch sends the campaign record now and on every change until ctx ends.
// The channel closes then, or when the watch fails.
func (m *Manager) Watch(ctx context.Context) (<-chan topology.Campaign, error) {
	if _, err := m.Status(ctx); err != nil {
		return nil, err
	}
	w, err := m.camp.kv.Watch(ctx, topology.CampaignKey)
	if err != nil {
		return nil, fmt.Errorf("watch campaign: %w", err)
	}
	out := make(chan topology.Campaign)
	done := topology.FollowKV(ctx, w, func(e jetstream.KeyValueEntry) {
		if e == nil || e.Operation() != jetstream.KeyValuePut {
			return
		}
		var c topology.Campaign
		if json.Unmarshal(e.Value(), &c) != nil {
			return
		}
		select {
		case out <- c:
		case <-ctx.Done():
		}
	})
	go func() {
		<-done
		close(out)
	}()
	return out, nil
}
