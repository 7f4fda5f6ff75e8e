package samplecatalog

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestTitle(t *testing.T) {
	tests := []struct{ name, want string }{
		{"NECKTIE", "Necktie"},
		{"T-SHIRT", "T-Shirt"},
		{"  HIGH-HEELED SHOE ", "High-Heeled Shoe"},
		{"WOMANS HAT", "Women's Hat"},
		{"MANS SHOE", "Men's Shoe"},
		{"ATHLETIC SHOE", "Running Shoe"},
		{"EAR OF MAIZE", "Corn on the Cob"},
		{"CUP OF TEA WITH LEMON", "Cup of Tea with Lemon"},
		{"OF MICE AND MEN", "Of Mice and Men"},
		{"DVD", "DVD"},
		{"RESCUE WORKER’S HELMET", "Rescue Worker's Helmet"},
		{"PAPER’S EDGE", "Paper's Edge"},
		{"jack-o-lantern", "Jack-O-Lantern"},
		{"hocho", "Kitchen Knife"},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Title(tt.name); got != tt.want {
				t.Errorf("Title(%q) = %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestMap(t *testing.T) {
	e := func(name, sub string) Emoji {
		return Emoji{Name: name, Unified: "1F600", Image: "1f600.png", Subcategory: sub, HasImgGoogle: true}
	}
	noGoogle := e("JEANS", "clothing")
	noGoogle.HasImgGoogle = false
	tests := []struct {
		in        Emoji
		ok        bool
		title     string
		category  string
		plushLike bool
	}{
		{e("ATHLETIC SHOE", "clothing"), true, "Running Shoe", "clothing/shoes", false},
		{e("JEANS", "clothing"), true, "Jeans", "clothing/apparel", false},
		{e("WOMANS BOOTS", "clothing"), true, "Women's Boots", "clothing/shoes", false},
		{e("BILLED CAP", "clothing"), true, "Baseball Cap", "clothing/hats", false},
		{e("LIPSTICK", "clothing"), true, "Lipstick", "beauty/makeup", false},
		{e("HAIR PICK", "clothing"), true, "Hair Pick", "clothing/accessories", false},
		{e("BEER MUG", "drink"), true, "Beer Mug", "drinks/beer-wine-spirits", false},
		{e("HOT BEVERAGE", "drink"), true, "Hot Coffee", "drinks/coffee-tea", false},
		{e("BICYCLE", "transport-ground"), true, "Bicycle", "sports/wheels", false},
		{e("TAXI", "transport-ground"), true, "Taxi", "vehicles/road", false},
		{e("DOG", "animal-mammal"), true, "Plush Dog", "toys/plush", true},
		{e("DOG FACE", "animal-mammal"), true, "Dog Face Cushion", "home/cushions", true},
		{e("HAMMER", "tool"), true, "Hammer", "tools/hand-tools", false},
		{e("TOOLBOX", "tool"), true, "Toolbox", "tools/workshop", false},
		{e("DAGGER", "tool"), false, "", "", false},
		{e("PAW PRINTS", "animal-mammal"), false, "", "", false},
		{e("SPEAKER WITH CANCELLATION STROKE", "sound"), false, "", "", false},
		{e("EGYPT FLAG", "country-flag"), false, "", "", false},
		{e("", "clothing"), false, "", "", false},
		{noGoogle, false, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in.Subcategory+"/"+tt.in.Name, func(t *testing.T) {
			m, ok := Map(tt.in)
			if ok != tt.ok {
				t.Fatalf("Map ok = %v, want %v (%+v)", ok, tt.ok, m)
			}
			if !ok {
				return
			}
			if m.Title != tt.title || strings.Join(m.Category, "/") != tt.category || m.Plush != tt.plushLike {
				t.Errorf("Map = %q %v plush=%v, want %q %s plush=%v", m.Title, m.Category, m.Plush, tt.title, tt.category, tt.plushLike)
			}
		})
	}
}

func TestCategoryPath(t *testing.T) {
	tests := []struct{ sub, title, want string }{
		{"clothing", "Hiking Boot", "clothing/shoes"},
		{"clothing", "Scarf", "clothing/apparel"},
		{"clothing", "Sunglasses", "clothing/eyewear"},
		{"household", "Soap Bar", "home/bathroom"},
		{"household", "Fire Extinguisher", "home/household"},
		{"light & video", "Flashlight", "home/lighting"},
		{"light & video", "Camera", "electronics/photo-video"},
		{"sport", "Soccer Ball", "sports/balls"},
		{"sport", "Ice Skate", "sports/winter"},
		{"country-flag", "Egypt Flag", ""},
	}
	for _, tt := range tests {
		t.Run(tt.sub+"/"+tt.title, func(t *testing.T) {
			if got := strings.Join(CategoryPath(tt.sub, tt.title), "/"); got != tt.want {
				t.Errorf("CategoryPath(%q, %q) = %q, want %q", tt.sub, tt.title, got, tt.want)
			}
		})
	}
}

func TestCategoryPathReturnsACopy(t *testing.T) {
	p := CategoryPath("clothing", "Jeans")
	p[0] = "changed"
	if got := CategoryPath("clothing", "Jeans")[0]; got != "clothing" {
		t.Fatalf("mapping table changed through a returned path: %q", got)
	}
}

func testEmojis() []Emoji {
	mk := func(order int, name, sub string) Emoji {
		return Emoji{Name: name, Unified: strings.ReplaceAll(strings.ToUpper(name), " ", "-"), Image: "x.png", Subcategory: sub, SortOrder: order, HasImgGoogle: true}
	}
	return []Emoji{
		mk(9, "JEANS", "clothing"),
		mk(1, "ATHLETIC SHOE", "clothing"),
		mk(2, "HIKING BOOT", "clothing"),
		mk(3, "T-SHIRT", "clothing"),
		mk(4, "GRAPES", "food-fruit"),
		mk(5, "MELON", "food-fruit"),
		mk(6, "HAMMER", "tool"),
		mk(7, "EGYPT FLAG", "country-flag"),
		mk(8, "DOG", "animal-mammal"),
		mk(10, "DOG", "animal-mammal"), // same title: the first wins
		mk(11, "SOCCER BALL", "sport"),
	}
}

func TestSelect(t *testing.T) {
	all := testEmojis()
	tests := []struct {
		limit int
		want  []string
	}{
		// One per category path first (clothing/shoes, clothing/apparel,
		// food/fruit, tools/hand-tools, toys/plush, sports/balls), in sort order.
		{limit: 6, want: []string{"Running Shoe", "T-Shirt", "Grapes", "Hammer", "Plush Dog", "Soccer Ball"}},
		{limit: 3, want: []string{"Running Shoe", "T-Shirt", "Grapes"}},
		// Second round: the second of each path that has one.
		{limit: 8, want: []string{"Running Shoe", "Hiking Boot", "T-Shirt", "Grapes", "Hammer", "Plush Dog", "Jeans", "Soccer Ball"}},
		{limit: 0, want: []string{"Running Shoe", "Hiking Boot", "T-Shirt", "Grapes", "Melon", "Hammer", "Plush Dog", "Jeans", "Soccer Ball"}},
		{limit: 100, want: []string{"Running Shoe", "Hiking Boot", "T-Shirt", "Grapes", "Melon", "Hammer", "Plush Dog", "Jeans", "Soccer Ball"}},
	}
	for _, tt := range tests {
		got := Select(all, tt.limit)
		var titles []string
		for _, c := range got {
			titles = append(titles, c.Title)
		}
		if !slices.Equal(titles, tt.want) {
			t.Errorf("Select(limit %d) = %q, want %q", tt.limit, titles, tt.want)
		}
	}
}

func TestParseEmojiJSON(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  error
		wantN    int
	}{
		{"good", `[{"name":"JEANS","unified":"1F456","image":"1f456.png","short_names":["jeans"],"category":"Objects","subcategory":"clothing","sort_order":3,"has_img_google":true}]`, nil, 1},
		{"not json", `{{{`, ErrSource, 0},
		{"empty", `[]`, ErrSource, 0},
		{"no image", `[{"name":"JEANS","unified":"1F456"}]`, ErrSource, 0},
		{"object", `{"name":"JEANS"}`, ErrSource, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseEmojiJSON(strings.NewReader(tt.in))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if len(got) != tt.wantN {
				t.Fatalf("got %d records, want %d", len(got), tt.wantN)
			}
			if tt.wantN > 0 && (got[0].ID() != "emoji-1f456" || got[0].Subcategory != "clothing" || !got[0].HasImgGoogle) {
				t.Errorf("record = %+v", got[0])
			}
		})
	}
}
