package topology

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strings"
	"time"
)

// CampaignKey is the key of the current campaign in BucketCampaigns; at
// most one campaign is open at a time.
const CampaignKey = "current"

// CampaignHistoryKey is where a closed campaign is kept once a new one
// starts.
func CampaignHistoryKey(space string) string { return "history." + space }

// CampaignState is where a re-embedding campaign stands.
type CampaignState string

// Campaign states.
const (
	CampaignRunning   CampaignState = "running"
	CampaignPaused    CampaignState = "paused"
	CampaignDone      CampaignState = "done"
	CampaignCancelled CampaignState = "cancelled"
	CampaignFailed    CampaignState = "failed"
)

// Open reports whether a campaign in this state still owns its space:
// live changes are written to it too, and no other campaign may start.
func (s CampaignState) Open() bool {
	return s == CampaignRunning || s == CampaignPaused || s == CampaignDone
}

// CampaignEvaluation is the stored side-by-side evaluation of a campaign.
type CampaignEvaluation struct {
	K            int       `json:"k"`
	Queries      int       `json:"queries"`
	ActiveNDCG   float64   `json:"active_ndcg"`
	CampaignNDCG float64   `json:"campaign_ndcg"`
	Overlap      float64   `json:"overlap,omitempty"`
	At           time.Time `json:"at"`
	// Result is the evaluator's full report.
	Result []byte `json:"result,omitempty"`
}

// Campaign is a re-embedding campaign, kept in BucketCampaigns: the
// controller's whole state, so any controller can pick it up after a crash.
type Campaign struct {
	// Space is the space being built; From the active space it started from.
	Space string        `json:"space"`
	From  string        `json:"from"`
	State CampaignState `json:"state"`
	// Rate caps backfill publishing in products per second (0: no cap).
	Rate float64 `json:"rate,omitempty"`
	// Cursor is the last product id (in key order) whose work was queued;
	// Enumerated is set once the whole catalogue was.
	Cursor     string `json:"cursor,omitempty"`
	Enumerated bool   `json:"enumerated,omitempty"`
	Queued     int    `json:"queued"`  // products whose work was queued
	Encoded    int    `json:"encoded"` // model runs asked for (jobs)
	Reused     int    `json:"reused"`  // features copied from From
	// Progress, as last counted by the controller.
	Done      int     `json:"done"`
	Total     int     `json:"total"`
	Failed    int     `json:"failed"`
	ItemsPerS float64 `json:"items_per_s"`
	EtaS      float64 `json:"eta_s"`
	// Promoted is set while the alias points at Space because of this
	// campaign; From stays a dual-write target so a rollback loses nothing.
	Promoted   bool                `json:"promoted,omitempty"`
	Evaluation *CampaignEvaluation `json:"evaluation,omitempty"`
	Error      string              `json:"error,omitempty"`
	StartedAt  time.Time           `json:"started_at"`
	UpdatedAt  time.Time           `json:"updated_at"`
	FinishedAt time.Time           `json:"finished_at,omitzero"`
}

// DualWriteSpaces are the spaces, besides the active one, that live
// changes must reach while the campaign is open.
func (c Campaign) DualWriteSpaces() []string {
	if !c.State.Open() {
		return nil
	}
	return []string{c.Space, c.From}
}

// InputsDigest is the digest fusion stores in Embedding.Inputs: of the
// content hashes fused, by modality. Equal digests mean equal inputs.
func InputsDigest(hashes map[string]string) string {
	inputs := make([]string, 0, len(hashes))
	for m, h := range hashes {
		inputs = append(inputs, m+"="+h)
	}
	sort.Strings(inputs)
	d := sha256.Sum256([]byte(strings.Join(inputs, ";")))
	return hex.EncodeToString(d[:12])
}
