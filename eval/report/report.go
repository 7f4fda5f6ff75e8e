// Package report writes an offline evaluation report (issue 12, item 6):
// report.md and report.html beside PNG plots drawn with gonum.org/v1/plot —
// the metrics against the cutoff k, a per-modality ablation (each block of
// the space alone, against all blocks as served) and, when given, the arms
// of an A/B experiment. `omnirank eval --report DIR` fills it; the numbers
// in report.md are the ones `omnirank eval --json` prints for the same run.
package report

import (
	"fmt"
	"html/template"
	"image/color"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/omnirank/omnirank/eval"
	"github.com/omnirank/omnirank/experiment"
)

// Row is one line of the ablation: a configuration and its evaluation.
type Row struct {
	Name   string         `json:"name"`
	Result eval.Aggregate `json:"all"`
	// Queries were asked (those the configuration can answer), Failed of
	// them failed.
	Queries int `json:"queries"`
	Failed  int `json:"failed"`
}

// Data is what a report shows.
type Data struct {
	// Main is the evaluation as omnirank eval --json prints it.
	Main eval.Result
	// Curve is the metrics at k = 1..len(Curve) (eval.Curve).
	Curve []eval.CurvePoint
	// Ablation compares the space's blocks alone and together.
	Ablation []Row
	// Experiment, when set, is an A/B report (omnirank experiment report
	// --json).
	Experiment *experiment.Report
	Generated  time.Time
}

// Files the report writes, relative to its folder.
const (
	Markdown    = "report.md"
	HTML        = "report.html"
	CurvePNG    = "metrics_vs_k.png"
	AblationPNG = "ablation.png"
)

// Write writes the report into dir (created if missing) and returns the
// paths written.
func Write(dir string, d Data) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	var written []string
	if len(d.Curve) > 0 {
		if err := curvePlot(d.Curve, filepath.Join(dir, CurvePNG)); err != nil {
			return nil, err
		}
		written = append(written, filepath.Join(dir, CurvePNG))
	}
	if len(d.Ablation) > 0 {
		if err := ablationPlot(d.Ablation, d.Main.K, filepath.Join(dir, AblationPNG)); err != nil {
			return nil, err
		}
		written = append(written, filepath.Join(dir, AblationPNG))
	}
	for _, f := range []struct {
		name  string
		write func(io.Writer, Data) error
	}{{Markdown, writeMarkdown}, {HTML, writeHTML}} {
		path := filepath.Join(dir, f.name)
		if err := writeFile(path, d, f.write); err != nil {
			return nil, err
		}
		written = append(written, path)
	}
	return written, nil
}

func writeFile(path string, d Data, write func(io.Writer, Data) error) (err error) {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("report: %w", cerr)
		}
	}()
	if err := write(f, d); err != nil {
		return fmt.Errorf("report %s: %w", filepath.Base(path), err)
	}
	return nil
}

// Num formats a metric as the report prints it (4 decimals).
func Num(v float64) string { return fmt.Sprintf("%.4f", v) }

func curvePlot(c []eval.CurvePoint, path string) error {
	p := plot.New()
	p.Title.Text = "Metrics against k"
	p.X.Label.Text = "k"
	p.Y.Label.Text = "mean over queries"
	p.Y.Min, p.Y.Max = 0, 1
	series := func(get func(eval.CurvePoint) float64) plotter.XYs {
		xy := make(plotter.XYs, len(c))
		for i, pt := range c {
			xy[i].X, xy[i].Y = float64(pt.K), get(pt)
		}
		return xy
	}
	if err := plotutil.AddLinePoints(p,
		"Recall@k", series(func(p eval.CurvePoint) float64 { return p.Recall }),
		"NDCG@k", series(func(p eval.CurvePoint) float64 { return p.NDCG }),
		"MRR@k", series(func(p eval.CurvePoint) float64 { return p.MRR })); err != nil {
		return fmt.Errorf("report: plot: %w", err)
	}
	p.Legend.Top = false
	if err := p.Save(7*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("report: save %s: %w", filepath.Base(path), err)
	}
	return nil
}

func ablationPlot(rows []Row, k int, path string) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Per-modality ablation at k = %d", k)
	p.Y.Label.Text = "mean over queries"
	p.Y.Min, p.Y.Max = 0, 1.25 // room for the legend above the bars
	w := vg.Points(14)
	names := make([]string, len(rows))
	for i, r := range rows {
		names[i] = r.Name
	}
	for i, m := range []struct {
		name string
		get  func(eval.Aggregate) float64
		c    color.Color
	}{
		{"Recall", func(a eval.Aggregate) float64 { return a.Recall }, plotutil.Color(0)},
		{"NDCG", func(a eval.Aggregate) float64 { return a.NDCG }, plotutil.Color(1)},
		{"MRR", func(a eval.Aggregate) float64 { return a.MRR }, plotutil.Color(2)},
	} {
		vals := make(plotter.Values, len(rows))
		for j, r := range rows {
			vals[j] = m.get(r.Result)
		}
		b, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return fmt.Errorf("report: plot: %w", err)
		}
		b.Color, b.LineStyle.Width = m.c, 0
		b.Offset = w * vg.Length(i-1)
		p.Add(b)
		p.Legend.Add(m.name, b)
	}
	p.Legend.Top = true
	p.NominalX(names...)
	if err := p.Save(vg.Length(max(6, 1.5*float64(len(rows))))*vg.Inch, 4*vg.Inch, path); err != nil {
		return fmt.Errorf("report: save %s: %w", filepath.Base(path), err)
	}
	return nil
}

// tables are the report's rows as strings, shared by Markdown and HTML.
type tables struct {
	Data
	Kinds    [][]string // kind, n, recall, ndcg, mrr
	Ablation [][]string // name, queries, failed, recall, ndcg, mrr
	Arms     [][]string
	Diffs    []string
	HasCurve bool
	CurvePNG string
	AblPNG   string
	Curve    [][]string // k, recall, ndcg, mrr at a few k
}

func makeTables(d Data) tables {
	t := tables{Data: d, HasCurve: len(d.Curve) > 0, CurvePNG: CurvePNG, AblPNG: AblationPNG}
	for _, kind := range sortedKinds(d.Main.ByKind) {
		a := d.Main.ByKind[kind]
		t.Kinds = append(t.Kinds, []string{string(kind), fmt.Sprint(a.N), Num(a.Recall), Num(a.NDCG), Num(a.MRR)})
	}
	a := d.Main.All
	t.Kinds = append(t.Kinds, []string{"all", fmt.Sprint(a.N), Num(a.Recall), Num(a.NDCG), Num(a.MRR)})
	for _, r := range d.Ablation {
		t.Ablation = append(t.Ablation, []string{r.Name, fmt.Sprint(r.Queries), fmt.Sprint(r.Failed), Num(r.Result.Recall), Num(r.Result.NDCG), Num(r.Result.MRR)})
	}
	for _, pt := range d.Curve {
		if pt.K == 1 || pt.K == 5 || pt.K%10 == 0 || pt.K == len(d.Curve) {
			t.Curve = append(t.Curve, []string{fmt.Sprint(pt.K), Num(pt.Recall), Num(pt.NDCG), Num(pt.MRR)})
		}
	}
	if e := d.Experiment; e != nil {
		pct := func(i experiment.Interval) string {
			return fmt.Sprintf("%.2f%% [%.2f, %.2f]", 100*i.Rate, 100*i.Low, 100*i.High)
		}
		for _, arm := range e.Arms {
			t.Arms = append(t.Arms, []string{arm.Arm, fmt.Sprint(arm.Users), fmt.Sprint(arm.Impressions), fmt.Sprint(arm.Clicks), fmt.Sprint(arm.Purchases), pct(arm.CTR), pct(arm.Conversion)})
		}
		if len(e.Arms) == 2 {
			diff := func(what string, x experiment.Difference) string {
				return fmt.Sprintf("%s − %s, %s: %+.2f pp [%+.2f, %+.2f], z = %.2f, p = %.3g", e.Arms[1].Arm, e.Arms[0].Arm, what, 100*x.Diff, 100*x.Low, 100*x.High, x.Z, x.P)
			}
			t.Diffs = []string{diff("CTR", e.CTRDiff), diff("conversion", e.ConversionDiff)}
		}
	}
	return t
}

func sortedKinds(m map[eval.Kind]eval.Aggregate) []eval.Kind {
	var out []eval.Kind
	for _, k := range []eval.Kind{eval.KindText, eval.KindImage, eval.KindAudio, eval.KindLike, eval.KindUser, eval.KindMixed} {
		if _, ok := m[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

func mdTable(w *strings.Builder, head []string, rows [][]string) {
	w.WriteString("| " + strings.Join(head, " | ") + " |\n|")
	for range head {
		w.WriteString("---|")
	}
	w.WriteString("\n")
	for _, r := range rows {
		w.WriteString("| " + strings.Join(r, " | ") + " |\n")
	}
	w.WriteString("\n")
}

func writeMarkdown(out io.Writer, d Data) error {
	t := makeTables(d)
	var w strings.Builder
	fmt.Fprintf(&w, "# omnirank evaluation report\n\nSpace `%s`, k = %d, %d queries (%d failed); generated %s.\n\n",
		d.Main.Space, d.Main.K, d.Main.Queries, d.Main.Failed, d.Generated.UTC().Format(time.RFC3339))
	w.WriteString("## Metrics at k (as `omnirank eval --json`)\n\n")
	mdTable(&w, []string{"kind", "n", fmt.Sprintf("Recall@%d", d.Main.K), fmt.Sprintf("NDCG@%d", d.Main.K), fmt.Sprintf("MRR@%d", d.Main.K)}, t.Kinds)
	if t.HasCurve {
		fmt.Fprintf(&w, "## Metrics against k\n\n![metrics against k](%s)\n\n", CurvePNG)
		mdTable(&w, []string{"k", "Recall", "NDCG", "MRR"}, t.Curve)
	}
	if len(t.Ablation) > 0 {
		fmt.Fprintf(&w, "## Per-modality ablation at k = %d\n\n![ablation](%s)\n\n", d.Main.K, AblationPNG)
		mdTable(&w, []string{"configuration", "queries", "failed", "Recall", "NDCG", "MRR"}, t.Ablation)
	}
	if len(t.Arms) > 0 {
		fmt.Fprintf(&w, "## Experiment %s\n\n", d.Experiment.Experiment)
		mdTable(&w, []string{"arm", "users", "impressions", "clicks", "purchases", "CTR (95% CI)", "conversion (95% CI)"}, t.Arms)
		for _, s := range t.Diffs {
			w.WriteString("- " + s + "\n")
		}
	}
	_, err := io.WriteString(out, w.String())
	return err
}

var page = template.Must(template.New("report").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>omnirank evaluation report</title>
<style>body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}td:first-child,th:first-child{text-align:left}img{max-width:100%}</style>
</head><body>
<h1>omnirank evaluation report</h1>
<p>Space <code>{{.Main.Space}}</code>, k = {{.Main.K}}, {{.Main.Queries}} queries ({{.Main.Failed}} failed); generated {{.Generated.UTC.Format "2006-01-02T15:04:05Z07:00"}}.</p>
<h2>Metrics at k</h2>
<table><tr><th>kind</th><th>n</th><th>Recall@{{.Main.K}}</th><th>NDCG@{{.Main.K}}</th><th>MRR@{{.Main.K}}</th></tr>
{{range .Kinds}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
{{if .HasCurve}}<h2>Metrics against k</h2>
<img src="{{.CurvePNG}}" alt="Recall, NDCG and MRR against k">
<table><tr><th>k</th><th>Recall</th><th>NDCG</th><th>MRR</th></tr>
{{range .Curve}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .Ablation}}<h2>Per-modality ablation at k = {{.Main.K}}</h2>
<img src="{{.AblPNG}}" alt="Recall, NDCG and MRR per configuration">
<table><tr><th>configuration</th><th>queries</th><th>failed</th><th>Recall</th><th>NDCG</th><th>MRR</th></tr>
{{range .Ablation}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>{{end}}
{{if .Arms}}<h2>Experiment {{.Experiment.Experiment}}</h2>
<table><tr><th>arm</th><th>users</th><th>impressions</th><th>clicks</th><th>purchases</th><th>CTR (95% CI)</th><th>conversion (95% CI)</th></tr>
{{range .Arms}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>
{{end}}</table>
<ul>{{range .Diffs}}<li>{{.}}</li>{{end}}</ul>{{end}}
</body></html>
`))

func writeHTML(w io.Writer, d Data) error { return page.Execute(w, makeTables(d)) }
