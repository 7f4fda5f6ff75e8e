package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Catalogue limits. docs/CATALOG.md lists them for merchants; change both
// together.
const (
	MaxProductBytes     = 1 << 20 // product.json size
	MaxIDLen            = 128
	MaxTitleChars       = 500
	MaxDescriptionBytes = 32 << 10
	MaxBrandChars       = 200
	MaxCategoryLevels   = 10
	MaxCategoryChars    = 100
	MaxAttributes       = 100
	MaxAttrKeyChars     = 100
	MaxAttrValueChars   = 1000
	MaxMedia            = 32
	MaxMediaKeyBytes    = 512
	MaxContentTypeBytes = 255
)

// Media kinds.
const (
	MediaImage = "image"
	MediaAudio = "audio"
)

// ErrInvalidProduct is matched (errors.Is) by every *ValidationError, so
// callers can tell a bad record, never worth retrying, from a store error.
var ErrInvalidProduct = errors.New("invalid product")

// ValidationError lists everything wrong with one product record.
type ValidationError struct {
	// ProductID is the record's id as written (possibly invalid), or ""
	// when the record could not be decoded far enough to read it.
	ProductID string
	Problems  []string
}

// Error names the product and every problem.
func (e *ValidationError) Error() string {
	var b strings.Builder
	if e.ProductID == "" {
		b.WriteString("invalid product record")
	} else {
		fmt.Fprintf(&b, "invalid product %q", truncate(e.ProductID, MaxIDLen+8))
	}
	switch len(e.Problems) {
	case 0:
	case 1:
		b.WriteString(": ")
		b.WriteString(e.Problems[0])
	default:
		fmt.Fprintf(&b, ": %d problems: ", len(e.Problems))
		b.WriteString(strings.Join(e.Problems, "; "))
	}
	return b.String()
}

// Is makes errors.Is(err, ErrInvalidProduct) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidProduct }

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidID reports whether id is a valid product id:
// ^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$ (safe as a folder name and a NATS
// subject token once '.' is mapped).
func ValidID(id string) bool { return idPattern.MatchString(id) }

// ParseProduct decodes and validates one product.json. Every failure is a
// *ValidationError (errors.As-able, errors.Is ErrInvalidProduct): invalid
// UTF-8 (with its byte offset), malformed JSON (with its byte offset), an
// unknown field, data after the JSON object, a record over 1 MiB, or any
// problem Validate finds.
func ParseProduct(data []byte) (*Product, error) {
	if len(data) > MaxProductBytes {
		return nil, &ValidationError{Problems: []string{fmt.Sprintf("record is %d bytes, limit %d", len(data), MaxProductBytes)}}
	}
	if !utf8.Valid(data) {
		off := invalidUTF8Offset(data)
		return nil, &ValidationError{Problems: []string{fmt.Sprintf("invalid UTF-8 at byte %d", off)}}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var p Product
	if err := dec.Decode(&p); err != nil {
		return nil, &ValidationError{ProductID: p.ID, Problems: []string{jsonProblem(err, dec)}}
	}
	end := dec.InputOffset()
	if rest := bytes.TrimLeft(data[end:], " \t\r\n"); len(rest) > 0 {
		off := len(data) - len(rest)
		return nil, &ValidationError{ProductID: p.ID, Problems: []string{
			fmt.Sprintf("trailing data after the JSON object at byte %d: %q", off, truncate(string(rest), 16)),
		}}
	}
	// Empty lists decode as empty, non-nil values; make them nil so a
	// record means the same thing however it spells "nothing".
	if len(p.Category) == 0 {
		p.Category = nil
	}
	if len(p.Attributes) == 0 {
		p.Attributes = nil
	}
	if len(p.Media) == 0 {
		p.Media = nil
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return &p, nil
}

func invalidUTF8Offset(data []byte) int {
	for i := 0; i < len(data); {
		r, n := utf8.DecodeRune(data[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(data)
}

// jsonProblem describes a decoding error with its byte offset.
func jsonProblem(err error, dec *json.Decoder) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the record"
		}
		return fmt.Sprintf("malformed JSON at byte %d: %s must be %s, not %s", te.Offset, field, jsonKind(te.Type.Kind().String()), te.Value)
	case errors.Is(err, io.EOF):
		return "empty record: want a JSON object"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Sprintf("malformed JSON at byte %d: unexpected end of input", dec.InputOffset())
	default:
		// Unknown fields and numbers out of float64 range land here.
		msg := strings.TrimPrefix(err.Error(), "json: ")
		return fmt.Sprintf("malformed JSON at byte %d: %s", dec.InputOffset(), msg)
	}
}

func jsonKind(k string) string {
	switch k {
	case "struct", "map":
		return "an object"
	case "slice", "array":
		return "an array"
	case "float64":
		return "a number"
	}
	return "a " + k
}

// Validate checks every field against the catalogue rules (docs/CATALOG.md)
// and returns a *ValidationError listing every problem, or nil.
func (p *Product) Validate() error {
	if p == nil {
		return &ValidationError{Problems: []string{"no product"}}
	}
	var probs []string
	add := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }
	checkText := func(field, s string) {
		if !utf8.ValidString(s) {
			add("%s is not valid UTF-8", field)
		}
		if i := strings.IndexFunc(s, isBadControl); i >= 0 {
			add("%s has a control character at byte %d", field, i)
		}
	}

	switch {
	case p.ID == "":
		add("missing id")
	case !ValidID(p.ID):
		add("id %q is invalid: want 1-%d letters, digits, '.', '_' or '-', starting with a letter or digit", truncate(p.ID, MaxIDLen+8), MaxIDLen)
	}

	if strings.TrimSpace(p.Title) == "" {
		add("missing title")
	} else if n := utf8.RuneCountInString(p.Title); n > MaxTitleChars {
		add("title is %d characters, limit %d", n, MaxTitleChars)
	}
	checkText("title", p.Title)

	if n := len(p.Description); n > MaxDescriptionBytes {
		add("description is %d bytes, limit %d", n, MaxDescriptionBytes)
	}
	if !utf8.ValidString(p.Description) {
		add("description is not valid UTF-8")
	}

	if n := utf8.RuneCountInString(p.Brand); n > MaxBrandChars {
		add("brand is %d characters, limit %d", n, MaxBrandChars)
	}
	checkText("brand", p.Brand)

	if len(p.Category) > MaxCategoryLevels {
		add("category has %d levels, limit %d", len(p.Category), MaxCategoryLevels)
	}
	for i, c := range p.Category {
		switch n := utf8.RuneCountInString(c); {
		case strings.TrimSpace(c) == "":
			add("category[%d] is empty", i)
		case n > MaxCategoryChars:
			add("category[%d] is %d characters, limit %d", i, n, MaxCategoryChars)
		}
		checkText(fmt.Sprintf("category[%d]", i), c)
	}

	switch {
	case math.IsNaN(p.Price) || math.IsInf(p.Price, 0):
		add("price %v is not a number", p.Price)
	case p.Price < 0:
		add("price %v is negative", p.Price)
	}
	switch {
	case p.Currency != "" && !validCurrency(p.Currency):
		add("currency %q is not 3 upper-case letters (ISO 4217, e.g. EUR)", truncate(p.Currency, 16))
	case p.Currency == "" && p.Price != 0:
		add("missing currency: a price needs an ISO 4217 code such as EUR")
	}

	if len(p.Attributes) > MaxAttributes {
		add("%d attributes, limit %d", len(p.Attributes), MaxAttributes)
	}
	for _, k := range slices.Sorted(maps.Keys(p.Attributes)) {
		v := p.Attributes[k]
		switch n := utf8.RuneCountInString(k); {
		case strings.TrimSpace(k) == "":
			add("attribute with an empty name")
		case n > MaxAttrKeyChars:
			add("attribute name %q… is %d characters, limit %d", truncate(k, 20), n, MaxAttrKeyChars)
		}
		if n := utf8.RuneCountInString(v); n > MaxAttrValueChars {
			add("attribute %q is %d characters, limit %d", truncate(k, 40), n, MaxAttrValueChars)
		}
		checkText(fmt.Sprintf("attribute name %q", truncate(k, 40)), k)
		checkText(fmt.Sprintf("attribute %q", truncate(k, 40)), v)
	}

	if len(p.Media) > MaxMedia {
		add("%d media, limit %d", len(p.Media), MaxMedia)
	}
	seen := make(map[string]int, len(p.Media))
	for i, m := range p.Media {
		if prob := mediaKeyProblem(m.Key); prob != "" {
			add("media[%d] key %q %s", i, truncate(m.Key, 80), prob)
		} else if j, dup := seen[m.Key]; dup {
			add("media[%d] key %q duplicates media[%d]", i, m.Key, j)
		} else {
			seen[m.Key] = i
		}
		switch m.Kind {
		case MediaImage, MediaAudio:
		case "":
			add("media[%d] is missing its kind (image or audio)", i)
		default:
			add("media[%d] kind %q is not image or audio", i, truncate(m.Kind, 20))
		}
		if m.Speech && m.Kind == MediaImage {
			add("media[%d] is an image marked as speech (only audio can be)", i)
		}
		if len(m.ContentType) > MaxContentTypeBytes {
			add("media[%d] content_type is %d bytes, limit %d", i, len(m.ContentType), MaxContentTypeBytes)
		}
		checkText(fmt.Sprintf("media[%d] content_type", i), m.ContentType)
	}

	if len(probs) == 0 {
		return nil
	}
	return &ValidationError{ProductID: p.ID, Problems: probs}
}

// mediaKeyProblem says what is wrong with a media key, or "".
func mediaKeyProblem(k string) string {
	switch {
	case k == "":
		return "is empty"
	case len(k) > MaxMediaKeyBytes:
		return fmt.Sprintf("is %d bytes, limit %d", len(k), MaxMediaKeyBytes)
	case !utf8.ValidString(k):
		return "is not valid UTF-8"
	case strings.HasPrefix(k, "/"):
		return "is absolute: want a path relative to the product folder"
	case strings.Contains(k, ".."):
		return `contains ".."`
	case strings.ContainsRune(k, '\\'):
		return "contains a backslash"
	case strings.IndexFunc(k, unicode.IsControl) >= 0:
		return "contains a control character"
	case path.Clean(k) != k:
		return fmt.Sprintf("is not a clean path (want %q)", path.Clean(k))
	case k == ProductFile:
		return "names the product record itself"
	}
	return ""
}

// isBadControl matches control characters other than tab and newlines.
func isBadControl(r rune) bool {
	return unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
}

func validCurrency(c string) bool {
	if len(c) != 3 {
		return false
	}
	for i := range 3 {
		if c[i] < 'A' || c[i] > 'Z' {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// MarshalProduct validates p and encodes it as product.json: indented JSON,
// HTML characters unescaped, attributes in key order, with a final newline.
// ParseProduct(MarshalProduct(p)) returns an equal product.
func MarshalProduct(p *Product) ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(p); err != nil {
		return nil, fmt.Errorf("encode product %s: %w", p.ID, err)
	}
	if buf.Len() > MaxProductBytes {
		return nil, &ValidationError{ProductID: p.ID, Problems: []string{fmt.Sprintf("record is %d bytes, limit %d", buf.Len(), MaxProductBytes)}}
	}
	return buf.Bytes(), nil
}

// ProductIDFromKey splits an object key under products/ into the product id
// and the file within its folder: "products/p1/img/a.jpg" gives ("p1",
// "img/a.jpg", true). ok is false for keys outside products/, invalid ids,
// and folder keys without a file.
func ProductIDFromKey(key string) (id, file string, ok bool) {
	rest, found := strings.CutPrefix(key, ProductsPrefix)
	if !found {
		return "", "", false
	}
	id, file, found = strings.Cut(rest, "/")
	if !found || file == "" || strings.HasSuffix(file, "/") || !ValidID(id) {
		return "", "", false
	}
	return id, file, true
}

// IsProductRecordKey reports whether key is some product's product.json.
func IsProductRecordKey(key string) bool {
	_, file, ok := ProductIDFromKey(key)
	return ok && file == ProductFile
}
