package ranker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/omnirank/omnirank/experiment"
)

// Experiment is an A/B experiment the ranker serves (WithExperiment): the
// experiment's configuration and one Scorer per arm, in the arms' order
// (nil, or a nil entry: the ranker's scorer, hot-loaded models included).
type Experiment struct {
	Config  experiment.Config
	Scorers []Scorer
}

// armConfig is one arm as the ranker applies it.
type armConfig struct {
	experiment.Arm
	scorer Scorer
}

// experimentState is the experiment a ranker serves.
type experimentState struct {
	cfg  experiment.Config
	arms []armConfig
}

// WithExperiment splits Recommend traffic between the experiment's two
// arms by a stable hash of the user id (of the request id without a user:
// experiment.Config.Assign). An arm sets the space, MMR λ and lexical
// weight of the requests that do not set their own, and the scorer; the
// response names its arm, the impression records it, and
// omnirank_experiment_events_total counts responses and feedback per arm
// (feedback by the user's arm).
func WithExperiment(e Experiment) Option {
	return func(c *config) error {
		if err := e.Config.Validate(); err != nil {
			return err
		}
		if e.Scorers != nil && len(e.Scorers) != len(e.Config.Arms) {
			return optErr("experiment %q: %d scorers for %d arms", e.Config.Name, len(e.Scorers), len(e.Config.Arms))
		}
		st := &experimentState{cfg: e.Config}
		for i, a := range e.Config.Arms {
			ac := armConfig{Arm: a}
			if e.Scorers != nil {
				ac.scorer = e.Scorers[i]
			}
			st.arms = append(st.arms, ac)
		}
		c.experiment = st
		return nil
	}
}

// arm returns the arm of a request: by its user, else by its request id;
// nil without an experiment.
func (e *experimentState) arm(user, requestID string) *armConfig {
	if e == nil {
		return nil
	}
	unit := user
	if unit == "" {
		unit = requestID
	}
	return &e.arms[e.cfg.Assign(unit)]
}

// newExperimentCounter counts an experiment's events per arm.
func newExperimentCounter() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "omnirank", Name: "experiment_events_total",
		Help: "A/B experiment events per arm: event=impression (Recommend responses) or the feedback kind (view, click, cart, purchase; by the user's arm).",
	}, []string{"experiment", "arm", "event"})
}
