package samplecatalog

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Emoji is the part of one emoji.json record the catalogue uses.
type Emoji struct {
	Name         string   `json:"name"`
	Unified      string   `json:"unified"`
	Image        string   `json:"image"`
	ShortName    string   `json:"short_name"`
	ShortNames   []string `json:"short_names"`
	Category     string   `json:"category"`
	Subcategory  string   `json:"subcategory"`
	SortOrder    int      `json:"sort_order"`
	SheetX       int      `json:"sheet_x"`
	SheetY       int      `json:"sheet_y"`
	HasImgGoogle bool     `json:"has_img_google"`
}

// ID is the product id of the emoji: "emoji-" and its lower-case code
// points, e.g. "emoji-1f45f".
func (e Emoji) ID() string { return "emoji-" + strings.ToLower(e.Unified) }

// ParseEmojiJSON reads the emoji.json array of emoji-datasource.
// Records without a name, code point or image are an error: the file is
// then not the one this package was written against.
func ParseEmojiJSON(r io.Reader) ([]Emoji, error) {
	var all []Emoji
	if err := json.NewDecoder(r).Decode(&all); err != nil {
		return nil, fmt.Errorf("%w: decode emoji.json: %w", ErrSource, err)
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: emoji.json holds no records", ErrSource)
	}
	for i, e := range all {
		if e.Unified == "" || e.Image == "" {
			return nil, fmt.Errorf("%w: emoji.json record %d has no code point or image", ErrSource, i)
		}
	}
	return all, nil
}
