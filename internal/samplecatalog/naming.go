package samplecatalog

import (
	"slices"
	"strings"
	"unicode"
)

// titleOverrides renames emoji whose Unicode names read oddly as product
// titles. Keys are emoji.json names (upper case).
var titleOverrides = map[string]string{
	"ATHLETIC SHOE":                     "Running Shoe",
	"MANS SHOE":                         "Men's Shoe",
	"WOMANS CLOTHES":                    "Women's Blouse",
	"THONG SANDAL":                      "Flip-Flop",
	"BILLED CAP":                        "Baseball Cap",
	"RESCUE WORKER’S HELMET":            "Rescue Worker's Helmet",
	"HOCHO":                             "Kitchen Knife",
	"BLACK TELEPHONE":                   "Desk Telephone",
	"BLACK NIB":                         "Pen Nib",
	"BLACK SCISSORS":                    "Scissors",
	"LOWER LEFT FOUNTAIN PEN":           "Fountain Pen",
	"EAR OF MAIZE":                      "Corn on the Cob",
	"EAR OF RICE":                       "Rice Sheaf",
	"ELECTRIC TORCH":                    "Flashlight",
	"ELECTRIC LIGHT BULB":               "Light Bulb",
	"COUCH AND LAMP":                    "Sofa and Floor Lamp",
	"PISTOL":                            "Water Pistol",
	"PERSONAL COMPUTER":                 "Laptop Computer",
	"MOBILE PHONE":                      "Smartphone",
	"FISHING POLE AND FISH":             "Fishing Rod",
	"SKI AND SKI BOOT":                  "Skis and Ski Boots",
	"RUNNING SHIRT WITH SASH":           "Running Shirt",
	"TENNIS RACQUET AND BALL":           "Tennis Racquet",
	"BASKETBALL AND HOOP":               "Basketball",
	"CRICKET BAT AND BALL":              "Cricket Bat",
	"FIELD HOCKEY STICK AND BALL":       "Field Hockey Stick",
	"ICE HOCKEY STICK AND PUCK":         "Ice Hockey Stick",
	"LACROSSE STICK AND BALL":           "Lacrosse Stick",
	"TABLE TENNIS PADDLE AND BALL":      "Table Tennis Paddle",
	"BADMINTON RACQUET AND SHUTTLECOCK": "Badminton Racquet",
	"FLAG IN HOLE":                      "Golf Flag",
	"DIRECT HIT":                        "Dartboard",
	"HOT BEVERAGE":                      "Hot Coffee",
	"COOKING":                           "Frying Pan",
	"FORK AND KNIFE WITH PLATE":         "Dinner Plate Set",
	"BOTTLE WITH POPPING CORK":          "Sparkling Wine",
	"TEACUP WITHOUT HANDLE":             "Teacup",
	"SAKE BOTTLE AND CUP":               "Sake Set",
	"CUP WITH STRAW":                    "Soda Cup",
	"SHALLOW PAN OF FOOD":               "Paella Pan",
	"POT OF FOOD":                       "Stew Pot",
	"BOWL WITH SPOON":                   "Cereal Bowl",
	"STEAMING BOWL":                     "Ramen Bowl",
	"FISH CAKE WITH SWIRL DESIGN":       "Fish Cake",
	"SOFT ICE CREAM":                    "Soft-Serve Ice Cream",
	"DRUM WITH DRUMSTICKS":              "Snare Drum",
	"MUSICAL KEYBOARD":                  "Keyboard Piano",
	"HEADPHONE":                         "Headphones",
	"PUBLIC ADDRESS LOUDSPEAKER":        "Loudspeaker",
	"CHEERING MEGAPHONE":                "Megaphone",
	"SPEAKER":                           "Bookshelf Speaker",
	"LEFT-POINTING MAGNIFYING GLASS":    "Magnifying Glass",
	"NOTEBOOK WITH DECORATIVE COVER":    "Decorated Notebook",
	"CLOSED MAILBOX WITH RAISED FLAG":   "Mailbox",
	"CLAMP":                             "Bench Clamp",
	"BALANCE SCALE":                     "Balance Scale",
	"CARD FILE BOX":                     "Card File Box",
	"TEAR-OFF CALENDAR":                 "Tear-Off Calendar",
	"SPIRAL NOTEPAD":                    "Spiral Notepad",
	"BAR OF SOAP":                       "Soap Bar",
	"ROLL OF PAPER":                     "Paper Towel Roll",
	"MANTELPIECE CLOCK":                 "Mantel Clock",
	"HOURGLASS WITH FLOWING SAND":       "Sand Timer",
	"UMBRELLA WITH RAIN DROPS":          "Rain Umbrella",
	"CLOSED UMBRELLA":                   "Folding Umbrella",
	"EARTH GLOBE EUROPE-AFRICA":         "Desk Globe",
	"GLOBE WITH MERIDIANS":              "Wire Globe",
	"BELLHOP BELL":                      "Service Bell",
	"WRAPPED PRESENT":                   "Gift Box",
	"JAPANESE DOLLS":                    "Hina Dolls",
	"FIREWORK SPARKLER":                 "Sparkler",
	"ADMISSION TICKETS":                 "Event Tickets",
	"SPOOL OF THREAD":                   "Thread Spool",
	"BALL OF YARN":                      "Yarn Ball",
	"FRAMED PICTURE":                    "Framed Picture",
	"ARTIST PALETTE":                    "Artist Palette",
	"FIRST PLACE MEDAL":                 "Gold Medal",
	"SECOND PLACE MEDAL":                "Silver Medal",
	"THIRD PLACE MEDAL":                 "Bronze Medal",
	"RECREATIONAL VEHICLE":              "Camper Van",
	"ARTICULATED LORRY":                 "Semi Truck",
	"AUTOMOBILE":                        "Family Car",
	"MOTOR SCOOTER":                     "Motor Scooter",
	"SCOOTER":                           "Kick Scooter",
	"SMALL AIRPLANE":                    "Light Aircraft",
	"AIRPLANE":                          "Passenger Jet",
	"MOTOR BOAT":                        "Motorboat",
	"HIGH-SPEED TRAIN WITH BULLET NOSE": "Bullet Train",
	"RING BUOY":                         "Life Ring",
	"KIWIFRUIT":                         "Kiwi Fruit",
	"AUBERGINE":                         "Aubergine",
	"LEAFY GREEN":                       "Leafy Greens",
	"CUT OF MEAT":                       "Steak",
	"MEAT ON BONE":                      "Rib on the Bone",
	"POULTRY LEG":                       "Chicken Drumstick",
	"BAGUETTE BREAD":                    "Baguette",
	"BEVERAGE BOX":                      "Juice Box",
	"MATE DRINK":                        "Yerba Mate",
	"SATELLITE ANTENNA":                 "Satellite Dish",
	"PAGE WITH CURL":                    "Parchment Paper",
	"BOOKMARK TABS":                     "Bookmark Tabs",
	"LOCK":                              "Padlock",
	"CLOSED LOCK WITH KEY":              "Lock and Key Set",
	"OLD KEY":                           "Antique Key",
	"TIMER CLOCK":                       "Kitchen Timer",
	"POTTED PLANT":                      "Potted Plant",
	"EVERGREEN TREE":                    "Fir Sapling",
	"DECIDUOUS TREE":                    "Oak Sapling",
	"WHITE FLOWER":                      "White Flower Bunch",
	"CHERRY BLOSSOM":                    "Cherry Blossom Branch",
	"SEEDLING":                          "Seedling Tray",
	"HERB":                              "Basil Herb Pot",
}

// smallWords stay lower case inside a title.
var smallWords = map[string]bool{"and": true, "of": true, "on": true, "the": true, "with": true, "in": true, "a": true, "for": true}

// acronyms stay upper case inside a title.
var acronyms = map[string]bool{"DVD": true, "DNA": true, "TV": true}

// Title turns an emoji.json name into a shop-like title: the override
// table first, else title case with small words kept lower case
// ("CORN ON THE COB" → "Corn on the Cob"), hyphenated words capitalised on
// both sides ("T-SHIRT" → "T-Shirt"), "MANS"/"WOMANS" spelled as
// possessives and typographic apostrophes made plain.
func Title(name string) string {
	name = strings.TrimSpace(name)
	if t, ok := titleOverrides[strings.ToUpper(name)]; ok {
		return t
	}
	name = strings.ReplaceAll(name, "’", "'")
	words := strings.Fields(name)
	for i, w := range words {
		up := strings.ToUpper(w)
		switch {
		case up == "MANS":
			words[i] = "Men's"
		case up == "WOMANS":
			words[i] = "Women's"
		case acronyms[up]:
			words[i] = up
		case i > 0 && smallWords[strings.ToLower(w)]:
			words[i] = strings.ToLower(w)
		default:
			parts := strings.Split(w, "-")
			for j, p := range parts {
				parts[j] = capitalise(p)
			}
			words[i] = strings.Join(parts, "-")
		}
	}
	return strings.Join(words, " ")
}

func capitalise(w string) string {
	r := []rune(strings.ToLower(w))
	if len(r) == 0 {
		return ""
	}
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// rule maps one emoji subcategory to a shop category path. When only is
// set, just those emoji names are products; refine moves names holding a
// keyword to a more precise path.
type rule struct {
	path   []string
	only   []string
	refine []refinement
	plush  bool // animals: sold as plush toys (faces as cushions)
}

type refinement struct {
	words []string // any whole word (or phrase) of the lower-case title
	path  []string
}

var animalRule = rule{path: []string{"toys", "plush"}, plush: true}

// subcategoryRules is the mapping table from emoji.json subcategory to a
// shop category path. Subcategories not listed are not products.
var subcategoryRules = map[string]rule{
	"clothing": {path: []string{"clothing", "apparel"}, refine: []refinement{
		{[]string{"shoe", "boot", "boots", "sandal", "shoes", "flip-flop"}, []string{"clothing", "shoes"}},
		{[]string{"hat", "cap", "helmet", "crown"}, []string{"clothing", "hats"}},
		{[]string{"purse", "handbag", "pouch", "satchel", "bags"}, []string{"clothing", "bags"}},
		{[]string{"eyeglasses", "sunglasses", "goggles"}, []string{"clothing", "eyewear"}},
		{[]string{"ring", "gem", "beads"}, []string{"clothing", "jewellery"}},
		{[]string{"lipstick"}, []string{"beauty", "makeup"}},
		{[]string{"fan", "pick"}, []string{"clothing", "accessories"}},
	}},
	"food-fruit":     {path: []string{"food", "fruit"}},
	"food-vegetable": {path: []string{"food", "vegetables"}},
	"food-prepared":  {path: []string{"food", "deli"}, refine: []refinement{{[]string{"pan", "pot"}, []string{"home", "kitchen"}}}},
	"food-asian":     {path: []string{"food", "asian"}},
	"food-sweet":     {path: []string{"food", "sweets"}},
	"drink": {path: []string{"drinks", "soft-drinks"}, refine: []refinement{
		{[]string{"wine", "sake", "beer", "cocktail", "tropical", "tumbler", "clinking"}, []string{"drinks", "beer-wine-spirits"}},
		{[]string{"coffee", "teapot", "teacup", "mate", "milk"}, []string{"drinks", "coffee-tea"}},
		{[]string{"baby"}, []string{"baby", "feeding"}},
	}},
	"dishware":           {path: []string{"home", "kitchen"}},
	"household":          {path: []string{"home", "household"}, refine: []refinement{{[]string{"toilet", "shower", "bathtub", "plunger", "soap", "toothbrush", "razor", "lotion", "sponge", "towel"}, []string{"home", "bathroom"}}, {[]string{"bed", "sofa", "chair", "mirror"}, []string{"home", "furniture"}}, {[]string{"broom", "bucket", "basket"}, []string{"home", "cleaning"}}}},
	"musical-instrument": {path: []string{"music", "instruments"}},
	"music":              {path: []string{"electronics", "audio"}, only: []string{"MUSICAL SCORE", "STUDIO MICROPHONE", "LEVEL SLIDER", "CONTROL KNOBS", "MICROPHONE", "HEADPHONE", "RADIO"}, refine: []refinement{{[]string{"score"}, []string{"music", "sheet-music"}}}},
	"sound":              {path: []string{"electronics", "audio"}, only: []string{"SPEAKER", "PUBLIC ADDRESS LOUDSPEAKER", "CHEERING MEGAPHONE", "POSTAL HORN", "BELL"}, refine: []refinement{{[]string{"horn", "bell"}, []string{"music", "instruments"}}}},
	"tool": {path: []string{"tools", "hand-tools"}, only: []string{"HAMMER", "AXE", "PICK", "HAMMER AND PICK", "HAMMER AND WRENCH", "BOOMERANG", "BOW AND ARROW", "CARPENTRY SAW", "WRENCH", "SCREWDRIVER", "NUT AND BOLT", "GEAR", "CLAMP", "BALANCE SCALE", "CHAINS", "HOOK", "TOOLBOX", "MAGNET", "LADDER", "SHOVEL"}, refine: []refinement{
		{[]string{"toolbox", "ladder", "shovel", "clamp"}, []string{"tools", "workshop"}},
		{[]string{"nut", "bolt", "gear", "chains", "hook", "magnet"}, []string{"tools", "hardware"}},
		{[]string{"boomerang", "arrow"}, []string{"sports", "outdoor"}},
	}},
	"office":     {path: []string{"office", "supplies"}, only: []string{"BRIEFCASE", "FILE FOLDER", "OPEN FILE FOLDER", "CARD INDEX DIVIDERS", "CALENDAR", "TEAR-OFF CALENDAR", "SPIRAL NOTEPAD", "SPIRAL CALENDAR", "CARD INDEX", "CLIPBOARD", "PUSHPIN", "ROUND PUSHPIN", "PAPERCLIP", "LINKED PAPERCLIPS", "STRAIGHT RULER", "TRIANGULAR RULER", "BLACK SCISSORS", "CARD FILE BOX", "FILE CABINET", "WASTEBASKET"}, refine: []refinement{{[]string{"cabinet", "wastebasket"}, []string{"office", "furniture"}}}},
	"writing":    {path: []string{"office", "writing"}, only: []string{"PENCIL", "BLACK NIB", "FOUNTAIN PEN", "PEN", "PAINTBRUSH", "CRAYON"}},
	"book-paper": {path: []string{"books", "stationery"}, only: []string{"NOTEBOOK WITH DECORATIVE COVER", "CLOSED BOOK", "OPEN BOOK", "GREEN BOOK", "BLUE BOOK", "ORANGE BOOK", "BOOKS", "NOTEBOOK", "LEDGER", "PAGE WITH CURL", "SCROLL", "NEWSPAPER", "BOOKMARK TABS", "BOOKMARK", "LABEL"}, refine: []refinement{{[]string{"book", "books"}, []string{"books", "reading"}}}},
	"mail":       {path: []string{"office", "mail"}, only: []string{"ENVELOPE", "PACKAGE", "CLOSED MAILBOX WITH RAISED FLAG", "POSTBOX", "INBOX TRAY", "OUTBOX TRAY"}},
	"computer":   {path: []string{"electronics", "computers"}, only: []string{"BATTERY", "ELECTRIC PLUG", "PERSONAL COMPUTER", "DESKTOP COMPUTER", "PRINTER", "KEYBOARD", "COMPUTER MOUSE", "TRACKBALL", "MINIDISC", "FLOPPY DISK", "OPTICAL DISC", "DVD", "ABACUS"}, refine: []refinement{{[]string{"abacus"}, []string{"toys", "learning"}}}},
	"phone":      {path: []string{"electronics", "phones"}, only: []string{"MOBILE PHONE", "BLACK TELEPHONE", "PAGER", "FAX MACHINE"}},
	"light & video": {path: []string{"electronics", "photo-video"}, only: []string{"MOVIE CAMERA", "FILM PROJECTOR", "CLAPPER BOARD", "TELEVISION", "CAMERA", "CAMERA WITH FLASH", "VIDEO CAMERA", "VIDEOCASSETTE", "LEFT-POINTING MAGNIFYING GLASS", "CANDLE", "ELECTRIC LIGHT BULB", "ELECTRIC TORCH", "IZAKAYA LANTERN", "DIYA LAMP"}, refine: []refinement{
		{[]string{"candle", "bulb", "flashlight", "lantern", "lamp"}, []string{"home", "lighting"}},
		{[]string{"magnifying"}, []string{"office", "supplies"}},
	}},
	"lock":          {path: []string{"home", "security"}, only: []string{"LOCK", "CLOSED LOCK WITH KEY", "KEY", "OLD KEY"}},
	"medical":       {path: []string{"health", "medical"}, only: []string{"PILL", "ADHESIVE BANDAGE", "CRUTCH", "STETHOSCOPE", "SYRINGE"}},
	"science":       {path: []string{"science", "lab"}, only: []string{"ALEMBIC", "TEST TUBE", "PETRI DISH", "MICROSCOPE", "TELESCOPE", "SATELLITE ANTENNA"}},
	"sport":         {path: []string{"sports", "equipment"}, refine: []refinement{{[]string{"ball", "baseball", "softball", "basketball", "volleyball", "football"}, []string{"sports", "balls"}}, {[]string{"skate", "skis", "sled", "curling"}, []string{"sports", "winter"}}, {[]string{"shirt", "uniform"}, []string{"sports", "clothing"}}}},
	"award-medal":   {path: []string{"sports", "trophies"}, only: []string{"TROPHY", "SPORTS MEDAL", "FIRST PLACE MEDAL", "SECOND PLACE MEDAL", "THIRD PLACE MEDAL"}},
	"game":          {path: []string{"toys", "games"}, only: []string{"DIRECT HIT", "YO-YO", "KITE", "PISTOL", "BILLIARDS", "CRYSTAL BALL", "MAGIC WAND", "VIDEO GAME", "JOYSTICK", "GAME DIE", "JIGSAW PUZZLE PIECE", "TEDDY BEAR", "PINATA", "MIRROR BALL", "NESTING DOLLS", "CHESS PAWN", "FLOWER PLAYING CARDS"}, refine: []refinement{{[]string{"teddy", "nesting", "yo-yo", "kite", "pinata", "pistol", "wand"}, []string{"toys", "classic"}}, {[]string{"video", "joystick"}, []string{"electronics", "gaming"}}}},
	"arts & crafts": {path: []string{"crafts", "sewing"}, only: []string{"FRAMED PICTURE", "ARTIST PALETTE", "SPOOL OF THREAD", "SEWING NEEDLE", "BALL OF YARN", "KNOT"}, refine: []refinement{{[]string{"palette"}, []string{"crafts", "art"}}, {[]string{"picture"}, []string{"home", "decor"}}}},
	"event":         {path: []string{"party", "seasonal"}, only: []string{"JACK-O-LANTERN", "CHRISTMAS TREE", "FIREWORK SPARKLER", "FIRECRACKER", "BALLOON", "PARTY POPPER", "CONFETTI BALL", "JAPANESE DOLLS", "CARP STREAMER", "WIND CHIME", "RIBBON", "WRAPPED PRESENT", "ADMISSION TICKETS"}},
	"transport-ground": {path: []string{"vehicles", "road"}, only: []string{"STEAM LOCOMOTIVE", "HIGH-SPEED TRAIN WITH BULLET NOSE", "TRAM CAR", "BUS", "MINIBUS", "AMBULANCE", "FIRE ENGINE", "POLICE CAR", "TAXI", "AUTOMOBILE", "RECREATIONAL VEHICLE", "PICKUP TRUCK", "DELIVERY TRUCK", "ARTICULATED LORRY", "TRACTOR", "RACING CAR", "MOTORCYCLE", "MOTOR SCOOTER", "MANUAL WHEELCHAIR", "MOTORIZED WHEELCHAIR", "AUTO RICKSHAW", "BICYCLE", "SCOOTER", "SKATEBOARD", "ROLLER SKATE", "WHEEL", "OIL DRUM"}, refine: []refinement{
		{[]string{"bicycle", "kick", "skateboard", "skate"}, []string{"sports", "wheels"}},
		{[]string{"wheelchair"}, []string{"health", "mobility"}},
		{[]string{"locomotive", "train", "tram"}, []string{"toys", "model-trains"}},
		{[]string{"wheel", "drum"}, []string{"vehicles", "parts"}},
	}},
	"transport-water":  {path: []string{"vehicles", "boats"}, refine: []refinement{{[]string{"anchor", "life"}, []string{"vehicles", "marine-gear"}}}},
	"transport-air":    {path: []string{"vehicles", "aircraft"}, only: []string{"AIRPLANE", "SMALL AIRPLANE", "PARACHUTE", "HELICOPTER", "ROCKET"}, refine: []refinement{{[]string{"parachute"}, []string{"sports", "outdoor"}}, {[]string{"rocket"}, []string{"toys", "classic"}}}},
	"hotel":            {path: []string{"travel", "luggage"}, refine: []refinement{{[]string{"bell"}, []string{"office", "supplies"}}}},
	"time":             {path: []string{"home", "clocks"}, only: []string{"HOURGLASS", "HOURGLASS WITH FLOWING SAND", "WATCH", "ALARM CLOCK", "STOPWATCH", "TIMER CLOCK", "MANTELPIECE CLOCK"}, refine: []refinement{{[]string{"watch", "stopwatch"}, []string{"clothing", "watches"}}}},
	"sky & weather":    {path: []string{"clothing", "umbrellas"}, only: []string{"UMBRELLA", "CLOSED UMBRELLA", "UMBRELLA WITH RAIN DROPS", "THERMOMETER"}, refine: []refinement{{[]string{"thermometer"}, []string{"home", "household"}}}},
	"place-geographic": {path: []string{"outdoor", "camping"}, only: []string{"CAMPING"}},
	"place-other":      {path: []string{"outdoor", "camping"}, only: []string{"TENT", "CAROUSEL HORSE", "PLAYGROUND SLIDE"}, refine: []refinement{{[]string{"carousel", "slide"}, []string{"toys", "outdoor-play"}}}},
	"place-map":        {path: []string{"outdoor", "navigation"}, only: []string{"COMPASS", "WORLD MAP", "EARTH GLOBE EUROPE-AFRICA", "GLOBE WITH MERIDIANS"}, refine: []refinement{{[]string{"globe"}, []string{"home", "decor"}}}},
	"plant-flower":     {path: []string{"garden", "flowers"}, only: []string{"BOUQUET", "CHERRY BLOSSOM", "WHITE FLOWER", "LOTUS", "ROSE", "HIBISCUS", "SUNFLOWER", "BLOSSOM", "TULIP", "HYACINTH"}},
	"plant-other":      {path: []string{"garden", "plants"}, only: []string{"SEEDLING", "POTTED PLANT", "EVERGREEN TREE", "DECIDUOUS TREE", "PALM TREE", "CACTUS", "HERB", "SHAMROCK", "FOUR LEAF CLOVER", "MUSHROOM"}, refine: []refinement{{[]string{"mushroom"}, []string{"food", "vegetables"}}}},
	"animal-mammal":    animalRule,
	"animal-bird":      {path: animalRule.path, plush: true, only: []string{"TURKEY", "CHICKEN", "ROOSTER", "BABY CHICK", "BIRD", "PENGUIN", "DOVE", "EAGLE", "DUCK", "SWAN", "OWL", "DODO", "FLAMINGO", "PEACOCK", "PARROT", "GOOSE", "PHOENIX"}},
	"animal-amphibian": animalRule,
	"animal-reptile":   animalRule,
	"animal-marine":    {path: animalRule.path, plush: true, only: []string{"WHALE", "DOLPHIN", "SEAL", "FISH", "TROPICAL FISH", "BLOWFISH", "SHARK", "OCTOPUS", "JELLYFISH", "CRAB", "LOBSTER", "SQUID"}},
	"animal-bug":       {path: animalRule.path, plush: true, only: []string{"SNAIL", "BUTTERFLY", "BUG", "ANT", "HONEYBEE", "BEETLE", "LADY BEETLE", "SPIDER", "WORM"}},
}

// excluded are emoji of otherwise mapped subcategories that are not
// products: symbols, duplicates, weapons and things no shop sells.
var excluded = map[string]bool{
	"PAW PRINTS": true, "PIG NOSE": true, "SERVICE DOG": true, "GUIDE DOG": true,
	"BISON": true, "MAMMOTH": true, "WATER BUFFALO": true, "OX": true, "BOAR": true,
	"HUMAN FACE": true,
}

// Mapping is the shop view of one emoji: its product title and category
// path.
type Mapping struct {
	Title    string
	Category []string
	Plush    bool
}

// Map says whether an emoji is a product, and if so its title and shop
// category path. It is a pure function of the record.
func Map(e Emoji) (Mapping, bool) {
	if e.Name == "" || !e.HasImgGoogle || excluded[strings.ToUpper(e.Name)] {
		return Mapping{}, false
	}
	r, ok := subcategoryRules[e.Subcategory]
	if !ok {
		return Mapping{}, false
	}
	name := strings.ToUpper(e.Name)
	if len(r.only) > 0 && !slices.Contains(r.only, name) {
		return Mapping{}, false
	}
	if r.plush {
		base, face := strings.CutSuffix(name, " FACE")
		if face {
			return Mapping{Title: Title(base) + " Face Cushion", Category: []string{"home", "cushions"}, Plush: true}, true
		}
		return Mapping{Title: "Plush " + Title(base), Category: slices.Clone(r.path), Plush: true}, true
	}
	title := Title(e.Name)
	return Mapping{Title: title, Category: categoryFor(r, title)}, true
}

// CategoryPath is the shop category path of a title under an emoji
// subcategory, or nil when the subcategory is not mapped. It ignores the
// subcategory's product list: Map applies that.
func CategoryPath(subcategory, title string) []string {
	r, ok := subcategoryRules[subcategory]
	if !ok {
		return nil
	}
	return categoryFor(r, title)
}

func categoryFor(r rule, title string) []string {
	words := titleWords(title)
	for _, ref := range r.refine {
		for _, w := range ref.words {
			if slices.Contains(words, w) {
				return slices.Clone(ref.path)
			}
		}
	}
	return slices.Clone(r.path)
}

// titleWords is the lower-case words of a title, with hyphenated words
// both whole and split ("t-shirt", "t", "shirt").
func titleWords(title string) []string {
	var out []string
	for _, w := range strings.Fields(strings.ToLower(title)) {
		w = strings.Trim(w, ".,'")
		w = strings.TrimSuffix(w, "'s")
		out = append(out, w)
		if strings.Contains(w, "-") {
			out = append(out, strings.Split(w, "-")...)
		}
	}
	return out
}

// Candidate is an emoji that maps to a product.
type Candidate struct {
	Emoji Emoji
	Mapping
}

// Select picks up to limit products from the emoji records: every record
// Map accepts, first title wins when two map to the same title, then a
// round robin over category paths (in the order the paths first appear)
// so that a small limit still covers many categories. The result is in
// emoji sort order. limit <= 0 means all.
func Select(all []Emoji, limit int) []Candidate {
	sorted := slices.Clone(all)
	slices.SortStableFunc(sorted, func(a, b Emoji) int { return a.SortOrder - b.SortOrder })
	seen := map[string]bool{}
	groups := map[string][]Candidate{}
	var order []string
	total := 0
	for _, e := range sorted {
		m, ok := Map(e)
		if !ok || seen[m.Title] {
			continue
		}
		seen[m.Title] = true
		key := strings.Join(m.Category, "/")
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], Candidate{Emoji: e, Mapping: m})
		total++
	}
	if limit <= 0 || limit > total {
		limit = total
	}
	out := make([]Candidate, 0, limit)
	for round := 0; len(out) < limit; round++ {
		for _, key := range order {
			if g := groups[key]; round < len(g) && len(out) < limit {
				out = append(out, g[round])
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Candidate) int { return a.Emoji.SortOrder - b.Emoji.SortOrder })
	return out
}
