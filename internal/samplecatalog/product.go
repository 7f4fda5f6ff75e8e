package samplecatalog

import (
	"fmt"
	"hash/fnv"
	"image"
	"math"
	"slices"
	"strings"

	"github.com/omnirank/omnirank/storage"
)

// Currency is the currency of every sample price.
const Currency = "EUR"

// hashUnit maps (salt, id) to a number in [0, 1), the same on every run.
func hashUnit(salt, id string) float64 {
	h := fnv.New64a()
	h.Write([]byte(salt))
	h.Write([]byte{0})
	h.Write([]byte(id))
	// FNV's high bits barely move when only the last bytes differ
	// (emoji-1f45f, emoji-1f460): finish with the splitmix64 mixer.
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return float64(x>>11) / float64(1<<53)
}

// pick chooses one of n items for (salt, id).
func pick(salt, id string, n int) int { return int(hashUnit(salt, id) * float64(n)) }

type priceRange struct{ lo, hi float64 }

// priceRanges by category path; the longest matching prefix wins.
var priceRanges = map[string]priceRange{
	"":                         {2, 99},
	"food":                     {0.8, 14},
	"food/deli":                {2.5, 19},
	"drinks":                   {0.9, 9},
	"drinks/beer-wine-spirits": {4, 65},
	"drinks/coffee-tea":        {2, 29},
	"home":                     {4, 129},
	"home/furniture":           {49, 1299},
	"clothing":                 {8, 189},
	"clothing/jewellery":       {19, 899},
	"beauty":                   {4, 39},
	"electronics":              {9, 1299},
	"music":                    {12, 1499},
	"tools":                    {3, 149},
	"office":                   {0.8, 39},
	"office/furniture":         {39, 399},
	"books":                    {2.5, 35},
	"health":                   {2, 89},
	"health/mobility":          {89, 2499},
	"science":                  {9, 799},
	"sports":                   {5, 399},
	"toys":                     {3, 59},
	"crafts":                   {1.5, 39},
	"party":                    {1.5, 29},
	"vehicles":                 {1999, 39999},
	"vehicles/parts":           {19, 249},
	"vehicles/marine-gear":     {19, 249},
	"travel":                   {29, 349},
	"outdoor":                  {9, 349},
	"garden":                   {2.5, 59},
	"baby":                     {3, 29},
}

func rangeFor(category []string) priceRange {
	for n := len(category); n >= 0; n-- {
		if r, ok := priceRanges[strings.Join(category[:n], "/")]; ok {
			return r
		}
	}
	return priceRanges[""]
}

// Price is the sample price of a product: log-uniform in its category's
// range, from a hash of the id, with a shop-like ending (x.49 or x.99
// below 20, x.99 above, whole tens less a cent above 1000).
func Price(id string, category []string) float64 {
	r := rangeFor(category)
	p := r.lo * math.Pow(r.hi/r.lo, hashUnit("price", id))
	switch {
	case p < 1:
		return 0.99
	case p < 20:
		if pick("cents", id, 2) == 0 {
			return math.Floor(p) + 0.49
		}
		return math.Floor(p) + 0.99
	case p < 1000:
		return math.Floor(p) + 0.99
	default:
		return math.Round(p/10)*10 - 0.01
	}
}

// brands is the made-up brands per top-level category.
var brands = map[string][]string{
	"food":        {"Harvest Lane", "Golden Crate", "Tidepool Pantry"},
	"drinks":      {"Brookfield", "Copper Kettle", "Harvest Lane"},
	"home":        {"Juniper & Oak", "Hearthwell", "Nordbo"},
	"clothing":    {"Kestrel", "Linden Row", "Northwind Supply"},
	"beauty":      {"Linden Row", "Solenne"},
	"electronics": {"Brightline", "Voltaro", "Nimbus Labs"},
	"music":       {"Resonant", "Oddfellow Audio"},
	"tools":       {"Ironbark", "Forge & Field", "Northwind Supply"},
	"office":      {"Papermill", "Inkwell & Co"},
	"books":       {"Papermill", "Inkwell & Co"},
	"health":      {"Carewell"},
	"science":     {"Nimbus Labs", "Alembic Works"},
	"sports":      {"Kestrel", "Summit Line", "Velocita"},
	"toys":        {"Puddle & Pip", "Oddfellow", "Tiny Giant"},
	"crafts":      {"Knit & Knot", "Papermill"},
	"party":       {"Confetti Co", "Puddle & Pip"},
	"vehicles":    {"Velocita", "Roadwise", "Ironbark"},
	"travel":      {"Wayfarer", "Summit Line"},
	"outdoor":     {"Summit Line", "Wayfarer", "Northwind Supply"},
	"garden":      {"Green Thumb", "Juniper & Oak"},
	"baby":        {"Puddle & Pip"},
}

// Brand is the made-up brand of a product, chosen from its top-level
// category's brands by a hash of the id.
func Brand(id string, category []string) string {
	top := ""
	if len(category) > 0 {
		top = category[0]
	}
	b, ok := brands[top]
	if !ok {
		return "Omni Basics"
	}
	return b[pick("brand", id, len(b))]
}

// colourWords are colours a title can name.
var colourWords = []string{"red", "green", "blue", "orange", "yellow", "black", "white", "brown", "purple", "pink", "gold", "silver", "bronze"}

// ColourFromTitle is the colour a title names, or "".
func ColourFromTitle(title string) string {
	words := titleWords(title)
	for _, c := range colourWords {
		if slices.Contains(words, c) {
			return c
		}
	}
	return ""
}

// materials by title word; the first word of the title found here wins.
var materials = map[string]string{
	"jeans": "denim", "t-shirt": "cotton", "shirt": "polyester", "socks": "cotton", "scarf": "wool",
	"gloves": "wool", "coat": "wool", "dress": "cotton", "kimono": "silk", "sari": "silk",
	"necktie": "silk", "swimsuit": "nylon", "bikini": "nylon", "briefs": "cotton", "shorts": "cotton",
	"blouse": "linen", "shoe": "leather", "boot": "leather", "boots": "leather", "sandal": "leather",
	"flip-flop": "rubber", "ballet": "satin", "hat": "felt", "cap": "cotton", "helmet": "polycarbonate",
	"purse": "leather", "handbag": "leather", "satchel": "leather", "pouch": "canvas", "ring": "silver",
	"crown": "gold-plated brass", "beads": "wood", "fan": "bamboo",
	"hammer": "steel", "axe": "steel", "pick": "steel", "wrench": "chrome vanadium steel", "screwdriver": "steel",
	"saw": "steel", "shovel": "steel", "ladder": "aluminium", "toolbox": "steel", "clamp": "cast iron",
	"chains": "steel", "hook": "steel", "chair": "wood", "bed": "wood", "sofa": "fabric",
	"bucket": "plastic", "basket": "wicker", "broom": "wood", "teapot": "ceramic", "teacup": "porcelain",
	"glass": "glass", "mug": "glass", "chopsticks": "bamboo", "spoon": "stainless steel", "knife": "stainless steel",
	"jar": "glass", "amphora": "terracotta", "candle": "wax", "guitar": "spruce", "violin": "maple",
	"banjo": "maple", "harp": "walnut", "saxophone": "brass", "trumpet": "brass", "flute": "nickel silver",
	"drum": "maple", "accordion": "wood", "maracas": "gourd", "plush": "polyester", "cushion": "cotton",
	"umbrella": "nylon", "kite": "ripstop nylon", "skateboard": "maple", "bicycle": "aluminium",
	"briefcase": "leather", "luggage": "polycarbonate", "tent": "polyester", "wheelchair": "aluminium",
	"crutch": "aluminium", "ruler": "plastic", "scissors": "stainless steel", "pencil": "cedar",
	"notebook": "paper", "ledger": "paper", "yarn": "wool", "thread": "cotton", "needle": "steel",
	"abacus": "wood", "frying": "cast iron", "pan": "carbon steel", "pot": "stainless steel",
}

// MaterialFromTitle is the material a product of that title is made of,
// when the table knows it, or "".
func MaterialFromTitle(title string) string {
	for _, w := range titleWords(title) {
		if m, ok := materials[w]; ok {
			return m
		}
	}
	return ""
}

// DominantColour names the most common colour of the opaque pixels of an
// image, from a small palette (red, orange, yellow, green, blue, purple,
// pink, brown, black, white, grey). It returns "" for a fully transparent
// image.
func DominantColour(img image.Image) string {
	counts := map[string]int{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			if a < 0x8000 {
				continue
			}
			// Undo premultiplication so that edge pixels keep their hue.
			rf, gf, bf := float64(r)/float64(a), float64(g)/float64(a), float64(bl)/float64(a)
			counts[colourName(rf, gf, bf)]++
		}
	}
	best, bestN := "", 0
	for _, c := range []string{"red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white", "grey"} {
		if counts[c] > bestN {
			best, bestN = c, counts[c]
		}
	}
	return best
}

// colourName names an RGB colour with components in [0, 1].
func colourName(r, g, b float64) string {
	mx := max(r, g, b)
	mn := min(r, g, b)
	v := mx
	s := 0.0
	if mx > 0 {
		s = (mx - mn) / mx
	}
	switch {
	case v < 0.2:
		return "black"
	case s < 0.18:
		if v > 0.85 {
			return "white"
		}
		return "grey"
	}
	var h float64
	d := mx - mn
	switch mx {
	case r:
		h = math.Mod((g-b)/d, 6)
	case g:
		h = (b-r)/d + 2
	default:
		h = (r-g)/d + 4
	}
	h *= 60
	if h < 0 {
		h += 360
	}
	switch {
	case h < 15 || h >= 345:
		if s < 0.5 && v > 0.7 {
			return "pink"
		}
		return "red"
	case h < 45:
		if v < 0.6 {
			return "brown"
		}
		return "orange"
	case h < 70:
		if v < 0.5 {
			return "brown"
		}
		return "yellow"
	case h < 170:
		return "green"
	case h < 260:
		return "blue"
	case h < 300:
		return "purple"
	default:
		return "pink"
	}
}

// Attributes are a product's attributes: colour (named by the title, else
// the dominant colour of its picture; "" skips it) and material when the
// title says what it is made of.
func Attributes(title, imageColour string) map[string]string {
	attrs := map[string]string{}
	if c := ColourFromTitle(title); c != "" {
		attrs["colour"] = c
	} else if imageColour != "" {
		attrs["colour"] = imageColour
	}
	if m := MaterialFromTitle(title); m != "" {
		attrs["material"] = m
	}
	if len(attrs) == 0 {
		return nil
	}
	return attrs
}

// openers are the first sentence of a description: %[1]s title, %[2]s
// brand, %[3]s category leaf, %[4]s title in lower case, %[5]s article.
var openers = []string{
	"%[1]s by %[2]s, part of our %[3]s range.",
	"The %[4]s from %[2]s, a favourite on the %[3]s shelf.",
	"%[2]s makes this %[4]s for the %[3]s aisle.",
	"%[5]s %[4]s from the %[2]s %[3]s collection.",
	"Meet the %[4]s by %[2]s, picked for our %[3]s corner.",
}

// closers per top-level category: a second sentence of the description.
var closers = map[string][]string{
	"food":        {"Best enjoyed fresh.", "Packed the day it ships.", "A pantry favourite for quick meals.", "Sourced from growers we know by name."},
	"drinks":      {"Serve chilled or warm, as you like it.", "Made for sharing.", "A classic pour for any time of day."},
	"home":        {"Built for daily use at home.", "Easy to clean and made to last.", "Fits small flats and big houses alike.", "Designed in a calm, simple style."},
	"clothing":    {"Comfortable for everyday wear.", "Cut for an easy fit.", "Goes with almost everything in your wardrobe.", "Made to be worn for years."},
	"beauty":      {"Long-lasting and gentle.", "A small luxury for every day."},
	"electronics": {"Plug in and go.", "Comes with a two-year warranty.", "Tested to work for thousands of hours.", "Simple to set up."},
	"music":       {"Rich, clear sound.", "Loved by beginners and professionals.", "Tuned and checked before it ships."},
	"tools":       {"Balanced in the hand for precise work.", "Made for the workshop and the weekend.", "Tough enough for daily jobs."},
	"office":      {"Keeps your desk in order.", "A desk essential.", "Made for home offices and busy teams."},
	"books":       {"Printed on acid-free paper.", "A good companion for long evenings.", "Ready for notes, lists and ideas."},
	"health":      {"Part of a well-stocked first-aid kit.", "Made to medical standards."},
	"science":     {"Lab-grade quality for schools and makers.", "Precise, sturdy and easy to use."},
	"sports":      {"Match-ready and built to take a beating.", "For training days and game days.", "Approved by our sports team."},
	"toys":        {"Safe for children aged three and up.", "Sparks hours of play.", "A gift that gets played with."},
	"crafts":      {"For makers of every level.", "Everything a weekend project needs."},
	"party":       {"Makes any celebration brighter.", "Party-ready out of the box."},
	"vehicles":    {"Inspected and ready to ride.", "Delivered with a full service history.", "Built for the long road."},
	"travel":      {"Light, tough and ready for the trip.", "Cabin-friendly and easy to carry."},
	"outdoor":     {"Ready for trails, camps and long weekends.", "Weatherproof and light to carry."},
	"garden":      {"Grown in peat-free compost.", "Brightens any windowsill or border."},
	"baby":        {"Gentle and easy to clean."},
}

// edible categories get no "Finished in <colour>" sentence.
var edible = map[string]bool{"food": true, "drinks": true, "garden": true}

// Describe builds a product description from its title, brand, category
// path and attributes, and the emoji's other names: two or three
// sentences, chosen by a hash of the id so that neighbouring products
// read differently.
func Describe(id, title, brand string, category []string, attrs map[string]string, aliases []string) string {
	leaf, top := "general", ""
	if len(category) > 0 {
		top = category[0]
		leaf = LeafName(category[len(category)-1])
	}
	lower := lowerTitle(title)
	sentences := []string{fmt.Sprintf(openers[pick("opener", id, len(openers))], title, brand, leaf, lower, article(lower))}
	if c := closers[top]; len(c) > 0 {
		sentences = append(sentences, c[pick("closer", id, len(c))])
	}
	switch colour, material := attrs["colour"], attrs["material"]; {
	case colour != "" && material != "":
		sentences = append(sentences, fmt.Sprintf("Made of %s, in %s.", material, colour))
	case material != "":
		sentences = append(sentences, fmt.Sprintf("Made of %s.", material))
	case colour != "" && !edible[top]:
		sentences = append(sentences, fmt.Sprintf("Finished in %s.", colour))
	}
	if len(aliases) > 0 {
		sentences = append(sentences, "Also known as "+strings.Join(aliases, ", ")+".")
	}
	return strings.Join(sentences, " ")
}

// Aliases are the emoji's short names, in words, that add something to
// the title: those whose words are not all in it already.
func Aliases(title string, shortNames []string) []string {
	words := titleWords(title)
	var out []string
	for _, sn := range shortNames {
		if strings.HasPrefix(sn, "lower_left_") || strings.ContainsAny(sn, "0123456789") {
			continue
		}
		alias := strings.ReplaceAll(sn, "_", " ")
		novel := false
		for _, w := range titleWords(alias) {
			switch w {
			case "womans":
				w = "women"
			case "mans":
				w = "men"
			}
			if !slices.Contains(words, w) && !slices.Contains(words, w+"s") && !slices.Contains(words, strings.TrimSuffix(w, "s")) {
				novel = true
			}
		}
		if novel && !slices.Contains(out, alias) {
			out = append(out, alias)
		}
	}
	return out
}

// leafNames reads category slugs that do not read well with the hyphens
// made spaces.
var leafNames = map[string]string{
	"beer-wine-spirits": "beer, wine and spirits",
	"coffee-tea":        "coffee and tea",
	"photo-video":       "photo and video",
	"asian":             "Asian food",
	"plush":             "plush toy",
	"road":              "road vehicle",
	"wheels":            "wheeled sports",
	"equipment":         "sports equipment",
	"parts":             "vehicle parts",
}

// LeafName is how a description names a category slug.
func LeafName(slug string) string {
	if n, ok := leafNames[slug]; ok {
		return n
	}
	return strings.ReplaceAll(slug, "-", " ")
}

// lowerTitle lower-cases a title for use inside a sentence, keeping
// acronyms.
func lowerTitle(title string) string {
	words := strings.Fields(title)
	for i, w := range words {
		if !acronyms[w] {
			words[i] = strings.ToLower(w)
		}
	}
	return strings.Join(words, " ")
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "An"
	}
	return "A"
}

// VoiceText is what the voice-over of a product says.
func VoiceText(p storage.Product) string {
	first := p.Description
	if i := strings.Index(first, ". "); i >= 0 {
		first = first[:i+1]
	}
	return p.Title + ". " + first
}

// NewProduct builds the product record of a candidate. imageColour is the
// dominant colour of its picture ("" when unknown); media is attached by
// the caller.
func NewProduct(c Candidate, imageColour string) storage.Product {
	id := c.Emoji.ID()
	brand := Brand(id, c.Category)
	attrs := Attributes(c.Title, imageColour)
	var aliases []string
	if !c.Plush {
		aliases = Aliases(c.Title, c.Emoji.ShortNames)
	}
	return storage.Product{
		ID:          id,
		Title:       c.Title,
		Description: Describe(id, c.Title, brand, c.Category, attrs, aliases),
		Category:    slices.Clone(c.Category),
		Brand:       brand,
		Price:       Price(id, c.Category),
		Currency:    Currency,
		Attributes:  attrs,
	}
}
