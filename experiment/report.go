package experiment

import (
	"context"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/omnirank/omnirank/topology"
)

// z95 is the two-sided 95% normal quantile.
const z95 = 1.959963984540054

// Interval is a proportion with its 95% confidence interval.
type Interval struct {
	Rate float64 `json:"rate"`
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Wilson is the Wilson score interval of k successes in n trials at 95%;
// the zero Interval for n = 0.
func Wilson(k, n int) Interval {
	if n <= 0 {
		return Interval{}
	}
	p, nf, z2 := float64(k)/float64(n), float64(n), z95*z95
	den := 1 + z2/nf
	mid := (p + z2/(2*nf)) / den
	half := z95 * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf)) / den
	return Interval{Rate: p, Low: max(0, mid-half), High: min(1, mid+half)}
}

// Difference is p2 − p1 with its 95% interval (unpooled standard error),
// the pooled two-proportion z statistic and its two-sided p-value.
type Difference struct {
	Diff float64 `json:"diff"`
	Low  float64 `json:"low"`
	High float64 `json:"high"`
	Z    float64 `json:"z"`
	P    float64 `json:"p"`
}

// TwoProportion compares k2/n2 against k1/n1.
func TwoProportion(k1, n1, k2, n2 int) Difference {
	if n1 <= 0 || n2 <= 0 {
		return Difference{P: 1}
	}
	p1, p2 := float64(k1)/float64(n1), float64(k2)/float64(n2)
	d := p2 - p1
	se := math.Sqrt(p1*(1-p1)/float64(n1) + p2*(1-p2)/float64(n2))
	out := Difference{Diff: d, Low: d - z95*se, High: d + z95*se, P: 1}
	pool := float64(k1+k2) / float64(n1+n2)
	if sp := math.Sqrt(pool * (1 - pool) * (1/float64(n1) + 1/float64(n2))); sp > 0 {
		out.Z = d / sp
		out.P = math.Erfc(math.Abs(out.Z) / math.Sqrt2)
	}
	return out
}

// ArmReport is one arm's counts and rates. Impressions are the logged
// responses (serve --impression-sample); a response is clicked when a
// shown product got a click, cart or purchase carrying its request id,
// converted when one got a purchase.
type ArmReport struct {
	Arm         string `json:"arm"`
	Users       int    `json:"users"`
	Impressions int    `json:"impressions"`
	// Events attributed to the arm: by request id, else by the user's arm.
	Views     int `json:"views"`
	Clicks    int `json:"clicks"`
	Carts     int `json:"carts"`
	Purchases int `json:"purchases"`
	// Clicked and Converted count responses.
	Clicked    int      `json:"clicked_impressions"`
	Converted  int      `json:"converted_impressions"`
	CTR        Interval `json:"ctr"`
	Conversion Interval `json:"conversion"`
}

// Report compares the arms of one experiment.
type Report struct {
	Experiment string      `json:"experiment"`
	Since      time.Time   `json:"since,omitzero"`
	Arms       []ArmReport `json:"arms"`
	// CTRDiff and ConversionDiff are the second arm minus the first.
	CTRDiff        Difference `json:"ctr_diff"`
	ConversionDiff Difference `json:"conversion_diff"`
	// Unattributed feedback events matched no impression of the
	// experiment by request id or user; Malformed messages did not decode.
	Unattributed int `json:"unattributed_feedback"`
	Malformed    int `json:"malformed"`
}

// Tally builds a report from messages (Load feeds it from the streams):
// impressions first, then feedback.
type Tally struct {
	name  string
	since time.Time
	arms  []string
	acc   map[string]*armAcc
	reqs  map[string]*shown // request id → what it showed
	users map[string]string // user → arm
	unatt int
	// Malformed is counted by the loader.
	Malformed int
}

type armAcc struct {
	rep   ArmReport
	users map[string]bool
}

type shown struct {
	arm       string
	products  map[string]bool
	clicked   bool
	converted bool
}

// NewTally counts the experiment named name (every impression with an arm
// when empty: then it must be the only experiment) from since on.
func NewTally(name string, since time.Time) *Tally {
	return &Tally{name: name, since: since, acc: map[string]*armAcc{}, reqs: map[string]*shown{}, users: map[string]string{}}
}

// AddImpression counts one impression of the experiment.
func (t *Tally) AddImpression(imp topology.Impression) error {
	if imp.Arm == "" || imp.Time.Before(t.since) {
		return nil
	}
	switch {
	case t.name == "":
		t.name = imp.Experiment
	case imp.Experiment != t.name:
		return nil // another experiment
	}
	if _, dup := t.reqs[imp.RequestID]; dup {
		return nil
	}
	a := t.acc[imp.Arm]
	if a == nil {
		a = &armAcc{rep: ArmReport{Arm: imp.Arm}, users: map[string]bool{}}
		t.acc[imp.Arm] = a
		t.arms = append(t.arms, imp.Arm)
	}
	a.rep.Impressions++
	if imp.UserID != "" {
		a.users[imp.UserID] = true
		t.users[imp.UserID] = imp.Arm
	}
	s := &shown{arm: imp.Arm, products: make(map[string]bool, len(imp.Results))}
	for _, r := range imp.Results {
		s.products[r.ProductID] = true
	}
	t.reqs[imp.RequestID] = s
	return nil
}

// AddFeedback attributes one event to an arm: by its request id when an
// impression of the experiment showed it, else by the user's arm.
func (t *Tally) AddFeedback(fb topology.Feedback) {
	if fb.Time.Before(t.since) {
		return
	}
	arm := t.users[fb.UserID]
	s := t.reqs[fb.RequestID]
	if s != nil {
		arm = s.arm
	}
	a := t.acc[arm]
	if a == nil {
		t.unatt++
		return
	}
	switch fb.Kind {
	case "view":
		a.rep.Views++
	case "click":
		a.rep.Clicks++
	case "cart":
		a.rep.Carts++
	case "purchase":
		a.rep.Purchases++
	default:
		t.unatt++
		return
	}
	if s == nil || !s.products[fb.ProductID] || fb.Kind == "view" {
		return
	}
	if !s.clicked {
		s.clicked = true
		a.rep.Clicked++
	}
	if fb.Kind == "purchase" && !s.converted {
		s.converted = true
		a.rep.Converted++
	}
}

// Report computes the rates; arms are in the order first seen unless
// order lists them (the experiment file's order).
func (t *Tally) Report(order ...string) Report {
	arms := slices.Clone(t.arms)
	if len(order) > 0 {
		slices.SortStableFunc(arms, func(a, b string) int {
			ia, ib := slices.Index(order, a), slices.Index(order, b)
			if ia < 0 {
				ia = len(order)
			}
			if ib < 0 {
				ib = len(order)
			}
			return ia - ib
		})
	}
	rep := Report{Experiment: t.name, Since: t.since, Unattributed: t.unatt, Malformed: t.Malformed}
	for _, name := range arms {
		a := t.acc[name]
		r := a.rep
		r.Users = len(a.users)
		r.CTR = Wilson(r.Clicked, r.Impressions)
		r.Conversion = Wilson(r.Converted, r.Impressions)
		rep.Arms = append(rep.Arms, r)
	}
	if len(rep.Arms) == 2 {
		a, b := rep.Arms[0], rep.Arms[1]
		rep.CTRDiff = TwoProportion(a.Clicked, a.Impressions, b.Clicked, b.Impressions)
		rep.ConversionDiff = TwoProportion(a.Converted, a.Impressions, b.Converted, b.Impressions)
	}
	return rep
}

// Load reads the IMPRESSIONS and FEEDBACK streams to their ends into a
// report of the experiment named name ("" for the one the impressions
// name), counting what happened at or after since.
func Load(ctx context.Context, js jetstream.JetStream, name string, since time.Time, order ...string) (Report, error) {
	t := NewTally(name, since)
	var err error
	if err = topology.ScanJSON(ctx, js, topology.StreamImpressions, "impressions.>", &t.Malformed, t.AddImpression); err != nil {
		return Report{}, fmt.Errorf("experiment report: %w", err)
	}
	if err = topology.ScanJSON(ctx, js, topology.StreamFeedback, "feedback.>", &t.Malformed, func(fb topology.Feedback) error {
		t.AddFeedback(fb)
		return nil
	}); err != nil {
		return Report{}, fmt.Errorf("experiment report: %w", err)
	}
	return t.Report(order...), nil
}

// WriteText prints the report as a table.
func (r Report) WriteText(w io.Writer) error {
	pct := func(i Interval) string {
		return fmt.Sprintf("%6.2f%% [%6.2f, %6.2f]", 100*i.Rate, 100*i.Low, 100*i.High)
	}
	var err error
	p := func(format string, args ...any) {
		if err == nil {
			_, err = fmt.Fprintf(w, format, args...)
		}
	}
	p("experiment %s", r.Experiment)
	if !r.Since.IsZero() {
		p(" since %s", r.Since.Format(time.RFC3339))
	}
	p("\n%-12s %7s %11s %7s %7s %6s %9s  %-26s %-26s\n", "arm", "users", "impressions", "views", "clicks", "carts", "purchases", "CTR (95% CI)", "conversion (95% CI)")
	for _, a := range r.Arms {
		p("%-12s %7d %11d %7d %7d %6d %9d  %-26s %-26s\n", a.Arm, a.Users, a.Impressions, a.Views, a.Clicks, a.Carts, a.Purchases, pct(a.CTR), pct(a.Conversion))
	}
	if len(r.Arms) == 2 {
		d := func(x Difference) string {
			return fmt.Sprintf("%+.2f pp [%+.2f, %+.2f], z = %.2f, p = %.3g", 100*x.Diff, 100*x.Low, 100*x.High, x.Z, x.P)
		}
		p("%s − %s: CTR %s\n", r.Arms[1].Arm, r.Arms[0].Arm, d(r.CTRDiff))
		p("%s − %s: conversion %s\n", r.Arms[1].Arm, r.Arms[0].Arm, d(r.ConversionDiff))
	}
	if r.Unattributed > 0 || r.Malformed > 0 {
		p("%d feedback events unattributed, %d messages malformed\n", r.Unattributed, r.Malformed)
	}
	return err
}
