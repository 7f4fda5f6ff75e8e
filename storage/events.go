package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// EventKind says what happened to an object.
type EventKind int

// Event kinds. Every s3:ObjectCreated:* event (Put, Post, Copy,
// CompleteMultipartUpload) is Created; every s3:ObjectRemoved:* event
// (Delete, DeleteMarkerCreated, versitygw's DeleteObjects) is Removed.
const (
	Created EventKind = iota + 1
	Removed
)

// String returns "created" or "removed".
func (k EventKind) String() string {
	switch k {
	case Created:
		return "created"
	case Removed:
		return "removed"
	default:
		return fmt.Sprintf("EventKind(%d)", int(k))
	}
}

// ObjectEvent is one object change reported by the object store.
type ObjectEvent struct {
	Bucket string
	// Key is the object key, decoded (the AWS and MinIO formats URL-encode
	// it; versitygw sends it raw).
	Key  string
	Kind EventKind
	// Size is the object's size for Created events, 0 for Removed.
	Size int64
	// ETag without surrounding quotes; empty for Removed events.
	ETag string
	// Time the store handled the request (versitygw: second precision).
	Time time.Time
	// Sequencer orders events of one key as the store emitted them. Compare
	// only sequencers of the same key and store; versitygw's is a hex
	// counter that restarts with the gateway process.
	Sequencer string
}

// ErrBadEvent marks an event notification that cannot be understood:
// malformed JSON, or a record without a bucket or key. Errors wrapping it
// say what is wrong.
var ErrBadEvent = errors.New("bad event notification")

// versitygwConfigIDs are the configurationId values versitygw v1.8 writes
// (server-wide notifications; its per-bucket notification API is not
// implemented). They identify its records, whose keys are not URL-encoded.
var versitygwConfigIDs = map[string]bool{
	"webhook-global":  true,
	"nats-global":     true,
	"kafka-global":    true,
	"rabbitmq-global": true,
}

type eventMessage struct {
	// MinIO adds "EventName" and "Key" ("bucket/key") beside Records; the
	// records carry everything, so only Records is read.
	Records []eventRecord `json:"Records"`
}

type eventRecord struct {
	EventName string `json:"eventName"`
	EventTime string `json:"eventTime"`
	S3        struct {
		ConfigurationID string `json:"configurationId"`
		Bucket          struct {
			Name string `json:"name"`
		} `json:"bucket"`
		Object struct {
			Key       string  `json:"key"`
			Size      int64   `json:"size"`
			ETag      *string `json:"eTag"`
			Sequencer string  `json:"sequencer"`
		} `json:"object"`
	} `json:"s3"`
}

// ParseEvents decodes one S3 event notification message, as versitygw and
// MinIO publish to NATS (and AWS S3 to its targets): a JSON object with a
// "Records" array of AWS-style event records. It returns the object-created
// and object-removed events in order; records of other event names
// (tagging, ACL, restore…) are skipped; event names are accepted with and
// without the "s3:" prefix (AWS omits it), and a message without records (the
// s3:TestEvent versitygw sends when it connects) gives none. Malformed JSON,
// a record without a bucket or key, or a key with a bad URL escape is an
// error wrapping ErrBadEvent.
func ParseEvents(data []byte) ([]ObjectEvent, error) {
	var msg eventMessage
	if err := json.Unmarshal(data, &msg); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadEvent, err)
	}
	var out []ObjectEvent
	for i, r := range msg.Records {
		// MinIO and versitygw write "s3:ObjectCreated:Put"; AWS writes
		// "ObjectCreated:Put".
		name := strings.TrimPrefix(r.EventName, "s3:")
		var kind EventKind
		switch {
		case strings.HasPrefix(name, "ObjectCreated:"):
			kind = Created
		case strings.HasPrefix(name, "ObjectRemoved:"):
			kind = Removed
		default:
			continue
		}
		if r.S3.Bucket.Name == "" || r.S3.Object.Key == "" {
			return nil, fmt.Errorf("%w: record %d (%s): missing bucket or key", ErrBadEvent, i, r.EventName)
		}
		key := r.S3.Object.Key
		if !versitygwConfigIDs[r.S3.ConfigurationID] {
			// AWS and MinIO URL-encode keys, form-style ('+' is a space).
			k, err := url.QueryUnescape(key)
			if err != nil {
				return nil, fmt.Errorf("%w: record %d: key %q: %v", ErrBadEvent, i, key, err)
			}
			key = k
		}
		ev := ObjectEvent{
			Bucket:    r.S3.Bucket.Name,
			Key:       key,
			Kind:      kind,
			Sequencer: r.S3.Object.Sequencer,
		}
		if kind == Created {
			ev.Size = r.S3.Object.Size
			if r.S3.Object.ETag != nil {
				ev.ETag = strings.Trim(*r.S3.Object.ETag, `"`)
			}
		}
		if r.EventTime != "" {
			t, err := time.Parse(time.RFC3339Nano, r.EventTime)
			if err != nil {
				return nil, fmt.Errorf("%w: record %d: eventTime %q: %v", ErrBadEvent, i, r.EventTime, err)
			}
			ev.Time = t
		}
		out = append(out, ev)
	}
	return out, nil
}

// TriggerConfigurationID marks the event records omnirank writes itself
// (TriggerEvent), as versitygw's configuration ids mark its own.
const TriggerConfigurationID = "omnirank-trigger"

// TriggerEvent builds an S3 event notification, in the format ParseEvents
// reads, saying that key in bucket changed at the given time. Roles other
// than the object store publish it on topology.S3EventsSubject to make
// ingest sync a product again when something it reads besides the bucket
// changed (a transcript arriving in KV transcripts): events are triggers,
// not data, so ingest re-reads the bucket and the trigger cannot put
// anything into the catalogue that the bucket and KV do not hold. The
// record has no size or ETag (nothing was written); at is the event time,
// which ingest takes as the upload time of the change (zero: none, and
// ingest takes the message's time).
func TriggerEvent(bucket, key string, at time.Time) ([]byte, error) {
	var r eventRecord
	r.EventName = "s3:ObjectCreated:Trigger"
	if !at.IsZero() {
		r.EventTime = at.UTC().Format(time.RFC3339Nano)
	}
	r.S3.ConfigurationID = TriggerConfigurationID
	r.S3.Bucket.Name = bucket
	r.S3.Object.Key = url.QueryEscape(key) // AWS-style: ParseEvents unescapes
	data, err := json.Marshal(eventMessage{Records: []eventRecord{r}})
	if err != nil {
		return nil, fmt.Errorf("encode trigger event: %w", err)
	}
	return data, nil
}
