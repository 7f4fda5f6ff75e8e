package eval

import (
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
)

// rows lists the kinds r has, in table order, then "all".
func rows(r Result) []Kind {
	var out []Kind
	known := Kinds()
	for _, k := range known {
		if _, ok := r.ByKind[k]; ok {
			out = append(out, k)
		}
	}
	// kinds this package does not know (from a newer writer) still show
	var unknown []Kind
	for k := range r.ByKind {
		if !slices.Contains(known, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	return append(out, unknown...)
}

// WriteTable prints r as a plain-text table: one row per query kind and
// one for all queries, then the failed queries with their errors.
func WriteTable(w io.Writer, r Result) error {
	fmt.Fprintf(w, "space %s, k %d, %d queries, %d failed\n\n", r.Space, r.K, r.Queries, r.Failed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	k := r.K
	fmt.Fprintf(tw, "kind\tn\tfailed\tRecall@%d\tNDCG@%d\tMRR@%d\t\n", k, k, k)
	line := func(name string, a Aggregate) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\t\n", name, a.N, a.Failed, metric(a, a.Recall), metric(a, a.NDCG), metric(a, a.MRR))
	}
	for _, kind := range rows(r) {
		line(string(kind), r.ByKind[kind])
	}
	line("all", r.All)
	if err := tw.Flush(); err != nil {
		return err
	}
	if sp := r.Speech; sp != nil {
		fmt.Fprintf(w, "\nspeech: %d transcribed, %d with no words; WER %.3f over %d with a reference\n", sp.Transcribed, sp.Empty, sp.WER, sp.WithSaid)
	}
	return writeFailures(w, r)
}

func writeFailures(w io.Writer, r Result) error {
	for _, q := range r.PerQuery {
		if q.Failed() {
			if _, err := fmt.Fprintf(w, "failed %s (%s): %s\n", q.ID, q.Kind, q.Error); err != nil {
				return err
			}
		}
	}
	return nil
}

// WriteComparison prints c as one table, the two spaces' metrics side by
// side per kind, then the mean top-k overlap.
func WriteComparison(w io.Writer, c Comparison) error {
	a, b := c.A, c.B
	fmt.Fprintf(w, "A: space %s (%d failed)   B: space %s (%d failed)   k %d, %d queries\n\n",
		a.Space, a.Failed, b.Space, b.Failed, c.K, a.Queries)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	k := c.K
	fmt.Fprintf(tw, "kind\tn\tRecall@%[1]d A\tRecall@%[1]d B\tNDCG@%[1]d A\tNDCG@%[1]d B\tNDCG B−A\tMRR@%[1]d A\tMRR@%[1]d B\t\n", k)
	line := func(name string, x, y Aggregate) {
		delta := "-"
		if x.N > 0 && y.N > 0 {
			delta = fmt.Sprintf("%+.3f", y.NDCG-x.NDCG)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", name, count(x.N, y.N),
			metric(x, x.Recall), metric(y, y.Recall), metric(x, x.NDCG), metric(y, y.NDCG), delta, metric(x, x.MRR), metric(y, y.MRR))
	}
	kinds := rows(a)
	for _, kind := range rows(b) {
		if _, ok := a.ByKind[kind]; !ok {
			kinds = append(kinds, kind)
		}
	}
	for _, kind := range kinds {
		line(string(kind), a.ByKind[kind], b.ByKind[kind])
	}
	line("all", a.All, b.All)
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\ntop-%d overlap (|A∩B|/k): %.3f over %d queries answered by both\n", k, c.Overlap, c.Compared)
	return err
}

// count is n, or "a/b" when the two sides answered different numbers.
func count(a, b int) string {
	if a == b {
		return fmt.Sprint(a)
	}
	return fmt.Sprintf("%d/%d", a, b)
}

// metric formats a mean, or "-" when no query of the group was answered.
func metric(a Aggregate, v float64) string {
	if a.N == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", v)
}
