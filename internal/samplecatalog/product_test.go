package samplecatalog

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strings"
	"testing"
)

func TestPrice(t *testing.T) {
	tests := []struct {
		category []string
		lo, hi   float64
	}{
		{[]string{"food", "fruit"}, 0.8, 14},
		{[]string{"food", "deli"}, 2.5, 19},
		{[]string{"vehicles", "road"}, 1999, 39999},
		{[]string{"vehicles", "parts"}, 19, 249},
		{[]string{"clothing", "shoes"}, 8, 189},
		{[]string{"unknown"}, 2, 99},
		{nil, 2, 99},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.category, "/"), func(t *testing.T) {
			distinct := map[float64]bool{}
			for i := range 300 {
				id := fmt.Sprintf("emoji-%x", 0x1f300+i)
				p := Price(id, tt.category)
				if p != Price(id, tt.category) {
					t.Fatalf("Price(%s) not deterministic", id)
				}
				// Rounding moves a price at most 10 below or above its range.
				if p < math.Min(tt.lo-1, 0.99) || p > tt.hi+10 {
					t.Fatalf("Price(%s, %v) = %v outside [%v, %v]", id, tt.category, p, tt.lo, tt.hi)
				}
				cents := math.Round(p*100) - 100*math.Floor(p)
				if cents != 49 && cents != 99 {
					t.Fatalf("Price(%s) = %v: want a .49 or .99 ending", id, p)
				}
				distinct[p] = true
			}
			if len(distinct) < 20 {
				t.Errorf("only %d distinct prices over 300 ids", len(distinct))
			}
		})
	}
}

func TestBrand(t *testing.T) {
	tests := []struct {
		category []string
		pool     []string
	}{
		{[]string{"clothing", "shoes"}, brands["clothing"]},
		{[]string{"food", "fruit"}, brands["food"]},
		{[]string{"health", "medical"}, brands["health"]},
		{[]string{"nowhere"}, []string{"Omni Basics"}},
		{nil, []string{"Omni Basics"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.category, "/"), func(t *testing.T) {
			seen := map[string]bool{}
			for i := range 100 {
				id := fmt.Sprintf("emoji-%x", 0x1f400+i)
				b := Brand(id, tt.category)
				if !slices.Contains(tt.pool, b) {
					t.Fatalf("Brand(%s, %v) = %q, not in %q", id, tt.category, b, tt.pool)
				}
				if b != Brand(id, tt.category) {
					t.Fatalf("Brand(%s) not deterministic", id)
				}
				seen[b] = true
			}
			if len(seen) != len(tt.pool) {
				t.Errorf("100 ids used %d of %d brands", len(seen), len(tt.pool))
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	tests := []struct {
		name     string
		title    string
		brand    string
		category []string
		attrs    map[string]string
		aliases  []string
		want     []string
		unwanted string
	}{
		{"colour and material", "Jeans", "Kestrel", []string{"clothing", "apparel"}, map[string]string{"colour": "blue", "material": "denim"}, nil,
			[]string{"Kestrel", "apparel", "Made of denim, in blue."}, ""},
		{"material only", "Hammer", "Ironbark", []string{"tools", "hand-tools"}, map[string]string{"material": "steel"}, nil,
			[]string{"Ironbark", "hand tools", "Made of steel."}, ""},
		{"colour only", "Pager", "Voltaro", []string{"electronics", "phones"}, map[string]string{"colour": "grey"}, nil,
			[]string{"Voltaro", "phones", "Finished in grey."}, ""},
		{"aliases", "Flip-Flop", "Kestrel", []string{"clothing", "shoes"}, nil, []string{"thong sandal"},
			[]string{"Kestrel", "shoes", "Also known as thong sandal."}, ""},
		{"readable leaf", "Beer Mug", "Brookfield", []string{"drinks", "beer-wine-spirits"}, nil, nil,
			[]string{"beer, wine and spirits"}, ""},
		{"food colour not spelled out", "Tangerine", "Golden Crate", []string{"food", "fruit"}, map[string]string{"colour": "orange"}, nil,
			[]string{"Golden Crate", "fruit"}, "Finished in"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "emoji-" + strings.ToLower(tt.title)
			if tt.unwanted != "" && strings.Contains(Describe(id, tt.title, tt.brand, tt.category, tt.attrs, tt.aliases), tt.unwanted) {
				t.Errorf("description says %q", tt.unwanted)
			}
			d := Describe(id, tt.title, tt.brand, tt.category, tt.attrs, tt.aliases)
			if d != Describe(id, tt.title, tt.brand, tt.category, tt.attrs, tt.aliases) {
				t.Fatal("not deterministic")
			}
			if !strings.Contains(strings.ToLower(d), strings.ToLower(tt.title)) {
				t.Errorf("%q does not name %q", d, tt.title)
			}
			for _, w := range tt.want {
				if !strings.Contains(d, w) {
					t.Errorf("%q lacks %q", d, w)
				}
			}
			if !strings.HasSuffix(d, ".") || strings.Contains(d, "%!") {
				t.Errorf("badly formed: %q", d)
			}
		})
	}
}

func TestDescribeVaries(t *testing.T) {
	firsts := map[string]bool{}
	for i := range 60 {
		d := Describe(fmt.Sprintf("emoji-%x", 0x1f500+i), "Jeans", "Kestrel", []string{"clothing", "apparel"}, nil, nil)
		firsts[strings.SplitN(d, ".", 2)[0]] = true
	}
	if len(firsts) < len(openers)-1 {
		t.Errorf("60 ids gave %d different opening sentences, want at least %d", len(firsts), len(openers)-1)
	}
}

func TestAliases(t *testing.T) {
	tests := []struct {
		title      string
		shortNames []string
		want       []string
	}{
		{"Flip-Flop", []string{"thong_sandal"}, []string{"thong sandal"}},
		{"Jeans", []string{"jeans"}, nil},
		{"Women's Hat", []string{"womans_hat"}, nil},
		{"Fountain Pen", []string{"lower_left_fountain_pen"}, nil},
		{"Pencil", []string{"pencil2"}, nil},
		{"Envelope", []string{"email", "envelope"}, []string{"email"}},
		{"Books", []string{"book"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			if got := Aliases(tt.title, tt.shortNames); !slices.Equal(got, tt.want) {
				t.Errorf("Aliases(%q, %q) = %q, want %q", tt.title, tt.shortNames, got, tt.want)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	tests := []struct {
		title, imageColour string
		want               map[string]string
	}{
		{"Green Apple", "red", map[string]string{"colour": "green"}},
		{"Jeans", "blue", map[string]string{"colour": "blue", "material": "denim"}},
		{"T-Shirt", "", map[string]string{"material": "cotton"}},
		{"Gold Medal", "yellow", map[string]string{"colour": "gold"}},
		{"Men's Shoe", "brown", map[string]string{"colour": "brown", "material": "leather"}},
		{"Microscope", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			got := Attributes(tt.title, tt.imageColour)
			if len(got) != len(tt.want) {
				t.Fatalf("Attributes(%q, %q) = %v, want %v", tt.title, tt.imageColour, got, tt.want)
			}
			for k, v := range tt.want {
				if got[k] != v {
					t.Errorf("Attributes(%q)[%s] = %q, want %q", tt.title, k, got[k], v)
				}
			}
		})
	}
}

func TestColourName(t *testing.T) {
	tests := []struct {
		r, g, b float64
		want    string
	}{
		{1, 0, 0, "red"}, {0, 0.8, 0, "green"}, {0, 0, 1, "blue"}, {1, 1, 0, "yellow"},
		{1, 0.5, 0, "orange"}, {0.45, 0.25, 0.05, "brown"}, {0.5, 0, 0.8, "purple"},
		{1, 0.6, 0.7, "pink"}, {0.05, 0.05, 0.05, "black"}, {0.95, 0.95, 0.95, "white"}, {0.5, 0.5, 0.5, "grey"},
	}
	for _, tt := range tests {
		if got := colourName(tt.r, tt.g, tt.b); got != tt.want {
			t.Errorf("colourName(%v, %v, %v) = %q, want %q", tt.r, tt.g, tt.b, got, tt.want)
		}
	}
}

func TestDominantColour(t *testing.T) {
	filled := func(c color.Color, border color.Color) image.Image {
		img := image.NewNRGBA(image.Rect(0, 0, 16, 16))
		for y := range 16 {
			for x := range 16 {
				if x == 0 || y == 0 || x == 15 || y == 15 {
					img.Set(x, y, border)
				} else {
					img.Set(x, y, c)
				}
			}
		}
		return img
	}
	tests := []struct {
		name string
		img  image.Image
		want string
	}{
		{"blue with black outline", filled(color.NRGBA{20, 60, 230, 255}, color.NRGBA{0, 0, 0, 255}), "blue"},
		{"half-transparent red", filled(color.NRGBA{230, 20, 20, 200}, color.NRGBA{0, 0, 0, 0}), "red"},
		{"transparent", filled(color.NRGBA{230, 20, 20, 10}, color.NRGBA{0, 0, 0, 0}), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := DominantColour(tt.img); got != tt.want {
				t.Errorf("DominantColour = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestNewProduct(t *testing.T) {
	c := Candidate{
		Emoji:   Emoji{Name: "THONG SANDAL", Unified: "1FA74", ShortNames: []string{"thong_sandal"}},
		Mapping: Mapping{Title: "Flip-Flop", Category: []string{"clothing", "shoes"}},
	}
	p := NewProduct(c, "blue")
	if p.ID != "emoji-1fa74" || p.Title != "Flip-Flop" || p.Currency != Currency || p.Brand == "" || p.Price <= 0 {
		t.Fatalf("product = %+v", p)
	}
	if p.Attributes["colour"] != "blue" || p.Attributes["material"] != "rubber" {
		t.Errorf("attributes = %v", p.Attributes)
	}
	if !strings.Contains(p.Description, "thong sandal") {
		t.Errorf("description %q lacks the alias", p.Description)
	}
	v := VoiceText(p)
	if !strings.HasPrefix(v, "Flip-Flop. ") || strings.Count(v, ".") > 3 {
		t.Errorf("voice text %q", v)
	}
	c.Category[0] = "changed"
	if p.Category[0] != "clothing" {
		t.Error("product shares its category slice with the candidate")
	}
}
