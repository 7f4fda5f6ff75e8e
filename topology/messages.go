package topology

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/omnirank/omnirank/storage"
)

// Vector is a float32 vector that travels as base64 of little-endian
// float32s: exact, compact and fast to encode.
type Vector []float32

// MarshalJSON implements json.Marshaler.
func (v Vector) MarshalJSON() ([]byte, error) {
	buf := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(f))
	}
	return json.Marshal(base64.StdEncoding.EncodeToString(buf))
}

// UnmarshalJSON implements json.Unmarshaler.
func (v *Vector) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("vector: %w", err)
	}
	buf, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return fmt.Errorf("vector: %w", err)
	}
	if len(buf)%4 != 0 {
		return fmt.Errorf("vector: %d bytes is not a whole number of float32s", len(buf))
	}
	out := make([]float32, len(buf)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*i:]))
	}
	*v = out
	return nil
}

// Job asks an extractor to encode one modality of one product for a space.
type Job struct {
	ProductID string `json:"product_id"`
	Space     string `json:"space"`
	Modality  string `json:"modality"`
	// Model is name@version of the model to run.
	Model string `json:"model"`
	// Revision of the product record that asked for the job.
	Revision uint64 `json:"revision"`
	// ContentHash identifies the input; features carry it back.
	ContentHash string `json:"content_hash"`
	// Key is the object key of the media (image, audio).
	Key string `json:"key,omitempty"`
	// Text is the text to encode (text modality).
	Text string `json:"text,omitempty"`
	// UploadedAt is when the triggering object was written (freshness).
	UploadedAt time.Time `json:"uploaded_at"`
	TraceID    string    `json:"trace_id,omitempty"`
}

// Features is one modality's vector for one product in one space.
type Features struct {
	ProductID   string    `json:"product_id"`
	Space       string    `json:"space"`
	Modality    string    `json:"modality"`
	Model       string    `json:"model"`
	Revision    uint64    `json:"revision"`
	ContentHash string    `json:"content_hash"`
	Vector      Vector    `json:"vector"`
	UploadedAt  time.Time `json:"uploaded_at"`
	TraceID     string    `json:"trace_id,omitempty"`
	// Rejected, when set, says why the extractor gave up on this content
	// (dead-lettered with this reason) and Vector is empty: the modality
	// will have no block until its content changes or the dead letter is
	// replayed, so fusion need not wait for it.
	Rejected string `json:"rejected,omitempty"`
}

// Block describes one modality block inside a joint embedding.
type Block struct {
	Modality string  `json:"modality"`
	Model    string  `json:"model"`
	Offset   int     `json:"offset"`
	Dim      int     `json:"dim"`
	Weight   float32 `json:"weight"`
	Present  bool    `json:"present"`
}

// Embedding is a product's joint vector in a space. A Deleted embedding is
// a tombstone: the product left the catalogue.
type Embedding struct {
	ProductID string  `json:"product_id"`
	Space     string  `json:"space"`
	Revision  uint64  `json:"revision"`
	Deleted   bool    `json:"deleted,omitempty"`
	Vector    Vector  `json:"vector,omitempty"`
	Blocks    []Block `json:"blocks,omitempty"`
	// Inputs is a digest of the content hashes fused; equal inputs give
	// equal vectors, so fusion skips republishing them.
	Inputs     string    `json:"inputs,omitempty"`
	UploadedAt time.Time `json:"uploaded_at"`
	TraceID    string    `json:"trace_id,omitempty"`
}

// ProductState is where a product is in the pipeline.
type ProductState string

// Product states.
const (
	// StatePending: some modality of the current content is still being
	// encoded or fused.
	StatePending ProductState = "pending"
	// StateIndexed: every modality with input is fused into the embedding.
	StateIndexed ProductState = "indexed"
	// StatePartial: final, but an extractor rejected (dead-lettered) the
	// input of some modality; the embedding holds the others and
	// ProductRecord.Error says which was rejected and why.
	StatePartial ProductState = "partial"
	// StateFailed: the product could not be ingested as it stands (bad
	// product.json, missing or oversize media, or every medium rejected).
	StateFailed ProductState = "failed"
)

// ProductRecord is the value kept in the products KV bucket.
type ProductRecord struct {
	Product storage.Product `json:"product"`
	// Revision increases with every change of the product's content.
	Revision uint64 `json:"revision"`
	// Hashes maps modality to the content hash of its current input; a
	// modality absent here has no input (no image, say).
	Hashes map[string]string `json:"hashes"`
	// Keys maps modality to the object key of its media.
	Keys       map[string]string `json:"keys,omitempty"`
	State      ProductState      `json:"state"`
	Error      string            `json:"error,omitempty"`
	UploadedAt time.Time         `json:"uploaded_at"`
	UpdatedAt  time.Time         `json:"updated_at"`
	// SpeechHash is the content hash (ETag-size, like Hashes) of the
	// product's first audio medium marked as speech; empty without one.
	// It is not a block of any space: its transcript joins the text
	// (issue 16).
	SpeechHash string `json:"speech_hash,omitempty"`
	// Transcript is what the recogniser heard in that audio, once
	// transcribed (nil before, and when it could not be); its text is part
	// of the text block's input (ingest.ProductText) and of the lexical
	// index.
	Transcript *Transcript `json:"transcript,omitempty"`
}

// Transcript is the value kept in the transcripts KV bucket under a
// product id (and, without Error, copied into its ProductRecord): what the
// speech recogniser heard in the product's speech-marked audio.
type Transcript struct {
	// AudioHash is the content hash of the audio transcribed
	// (ProductRecord.SpeechHash when it was queued): a transcript of other
	// audio is ignored.
	AudioHash string `json:"audio_hash"`
	// Text: the recognised words, lower case, joined by spaces.
	Text       string  `json:"text"`
	Confidence float64 `json:"confidence"`
	// Model is the recogniser, LanguageModel the version of the language
	// model it used.
	Model         string `json:"model,omitempty"`
	LanguageModel string `json:"language_model,omitempty"`
	// Error, when set, says why this audio could not be transcribed
	// (undecodable, too long, timed out): ingest does not queue it again
	// until the audio changes.
	Error string    `json:"error,omitempty"`
	Time  time.Time `json:"time"`
}

// IngestError is an operator-visible failure, kept in the errors bucket
// under the product id and carried by dead letters.
type IngestError struct {
	ProductID string    `json:"product_id"`
	ObjectKey string    `json:"object_key,omitempty"`
	Stage     string    `json:"stage"`
	Reason    string    `json:"reason"`
	Attempts  int       `json:"attempts,omitempty"`
	Time      time.Time `json:"time"`
}

// DeadLetter is a message a stage gave up on.
type DeadLetter struct {
	IngestError
	Subject  string `json:"subject"`
	Original []byte `json:"original,omitempty"`
}

// Feedback is one user interaction.
type Feedback struct {
	UserID    string    `json:"user_id"`
	ProductID string    `json:"product_id"`
	Kind      string    `json:"kind"`
	Time      time.Time `json:"time"`
	RequestID string    `json:"request_id,omitempty"`
}

// Impression is what one Recommend response showed (stream
// IMPRESSIONS): training joins it with feedback carrying its RequestID.
type Impression struct {
	RequestID string `json:"request_id"`
	UserID    string `json:"user_id,omitempty"`
	// Query names the request's inputs joined by "+" (text, image, audio,
	// like, unlike, user), "browse" with none.
	Query string `json:"query"`
	Space string `json:"space"`
	// Offset is the position of the page's first result in the ranking
	// (0 on the first page).
	Offset  int                `json:"offset"`
	Time    time.Time          `json:"time"`
	Results []ImpressionResult `json:"results"`
	// Experiment and Arm name the A/B experiment arm that answered
	// (serve --experiment); empty without one.
	Experiment string `json:"experiment,omitempty"`
	Arm        string `json:"arm,omitempty"`
}

// ImpressionResult is one shown product with the feature values the
// scorer used ("cosine", "block:<modality>", "cooccurrence", "next",
// "popularity", "freshness", "lexical").
type ImpressionResult struct {
	ProductID string `json:"product_id"`
	// Position is 1-based in the whole ranking (Offset + index + 1).
	Position int                `json:"position"`
	Score    float32            `json:"score"`
	Features map[string]float32 `json:"features"`
}

// Forgotten records a user erased from feedback (bucket BucketForgotten,
// key FeedbackUserToken). Rankers drop the user's events with a FEEDBACK
// stream sequence up to Seq (the stream's last sequence once the user's
// events were purged) and rebuild what they derived from them; later
// events are the user's new activity.
type Forgotten struct {
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
}
