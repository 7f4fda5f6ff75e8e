package server

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/omnirank/omnirank/ranker/lexical"
	"github.com/omnirank/omnirank/wordnet"
)

// openQueryExpander parses the WordNet database in dir (about a second
// and 80 MiB) and returns the lexical side's synonym expander.
func openQueryExpander(dir string, log *slog.Logger) (lexical.QueryExpander, error) {
	t0 := time.Now()
	db, err := wordnet.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("query expansion: %w", err)
	}
	e, err := lexical.NewWordNetExpander(db, wordnet.ExpanderConfig{})
	if err != nil {
		return nil, fmt.Errorf("query expansion: %w", err)
	}
	log.Info("query expansion: WordNet synonyms on the lexical side", "dir", dir, "took", time.Since(t0).Round(time.Millisecond))
	return e, nil
}
