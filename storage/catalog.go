package storage

// Product is one catalogue record, stored in the bucket as
// products/<id>/product.json. docs/CATALOG.md documents the format.
type Product struct {
	ID          string            `json:"id"`
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	Category    []string          `json:"category,omitempty"`
	Brand       string            `json:"brand,omitempty"`
	Price       float64           `json:"price,omitempty"`
	Currency    string            `json:"currency,omitempty"`
	Attributes  map[string]string `json:"attributes,omitempty"`
	Media       []Media           `json:"media,omitempty"`
}

// Media names one media object of a product. Key is relative to the
// product's folder: the object lives at products/<id>/<key>.
type Media struct {
	Key         string `json:"key"`
	Kind        string `json:"kind"` // "image" or "audio"
	ContentType string `json:"content_type,omitempty"`
	// Speech marks audio as spoken words (a voice-over): it is transcribed
	// at ingest and the transcript joins the product's text (issue 16).
	Speech bool `json:"speech,omitempty"`
}

// Bucket layout.
const (
	// ProductsPrefix holds one folder per product.
	ProductsPrefix = "products/"
	// ProductFile is the name of the product record inside its folder.
	ProductFile = "product.json"
	// ModelsPrefix holds models/<name>/<version>/.
	ModelsPrefix = "models/"
	// SnapshotsPrefix holds ranker index snapshots.
	SnapshotsPrefix = "snapshots/"
	// SpeechLMPrefix holds the catalogue's speech language models,
	// speech/lm/<version>/ (issue 16).
	SpeechLMPrefix = "speech/lm/"
)

// ProductKey is the object key of a product's record.
func ProductKey(id string) string { return ProductsPrefix + id + "/" + ProductFile }

// MediaKey is the object key of one media object of a product.
func MediaKey(id, key string) string { return ProductsPrefix + id + "/" + key }
