package samplecatalog

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/omnirank/omnirank/eval"
)

// EvalFile is the labelled query file for `omnirank eval`, written beside
// queries.json: the same queries, each with its expected product as the one
// relevant id, media paths relative to the queries folder.
const EvalFile = "eval.jsonl"

// EvalQueries turns the sample queries into labelled queries of package
// eval (one relevant product each).
func EvalQueries(qs QuerySet) ([]eval.Query, error) {
	out := make([]eval.Query, 0, len(qs.Queries))
	for _, q := range qs.Queries {
		if q.Expect == "" {
			return nil, fmt.Errorf("%w: query %s expects no product", ErrBadCatalog, q.ID)
		}
		eq := eval.Query{ID: q.ID, Relevant: []string{q.Expect}}
		var media *string
		switch q.Kind {
		case "text":
			eq.Text = q.Text
		case "image":
			media = &eq.Image
		case "audio":
			media = &eq.Audio
		default:
			return nil, fmt.Errorf("%w: query %s has unknown kind %q", ErrBadCatalog, q.ID, q.Kind)
		}
		if media != nil {
			if q.Path == "" {
				return nil, fmt.Errorf("%w: %s query %s has no path", ErrBadCatalog, q.Kind, q.ID)
			}
			rel, err := filepath.Rel(QueriesDir, filepath.FromSlash(q.Path))
			if err != nil {
				return nil, fmt.Errorf("%w: query %s path %q: %w", ErrBadCatalog, q.ID, q.Path, err)
			}
			*media = filepath.ToSlash(rel)
		}
		out = append(out, eq)
	}
	return out, nil
}

// writeEvalQueries writes EvalFile into the queries folder dir.
func writeEvalQueries(dir string, qs []Query) error {
	eqs, err := EvalQueries(QuerySet{Queries: qs})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf) // one object per line
	for _, q := range eqs {
		if err := enc.Encode(q); err != nil {
			return fmt.Errorf("encode query %s: %w", q.ID, err)
		}
	}
	file := filepath.Join(dir, EvalFile)
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", file, err)
	}
	return nil
}
