package samplecatalog

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/omnirank/omnirank/storage"
)

// ReadCatalog reads <dir>/catalog.jsonl. Media keys in the result are
// relative to dir (<id>/image.png), as in the file.
func ReadCatalog(dir string) ([]storage.Product, error) {
	file := filepath.Join(dir, CatalogFile)
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadCatalog, err)
	}
	var out []storage.Product
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64<<10), 4<<20)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		var p storage.Product
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			return nil, fmt.Errorf("%w: %s line %d: %w", ErrBadCatalog, file, line, err)
		}
		if p.ID == "" || p.Title == "" {
			return nil, fmt.Errorf("%w: %s line %d: product without id or title", ErrBadCatalog, file, line)
		}
		out = append(out, p)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrBadCatalog, file, err)
	}
	return out, nil
}

// ReadQueries reads <dir>/queries/queries.json.
func ReadQueries(dir string) (QuerySet, error) {
	file := filepath.Join(dir, QueriesDir, QueriesFile)
	data, err := os.ReadFile(file)
	if err != nil {
		return QuerySet{}, fmt.Errorf("%w: %w", ErrBadCatalog, err)
	}
	var qs QuerySet
	if err := json.Unmarshal(data, &qs); err != nil {
		return QuerySet{}, fmt.Errorf("%w: decode %s: %w", ErrBadCatalog, file, err)
	}
	return qs, nil
}
