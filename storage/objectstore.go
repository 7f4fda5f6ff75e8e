package storage

import (
	"context"
	"errors"
	"io"
	"time"
	"unicode/utf8"
)

// Sentinel errors of the object store. Errors returned by ObjectStore
// methods wrap them and name the key: errors.Is(err, ErrNotFound).
var (
	// ErrNotFound: the object (or its bucket) does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrTooLarge: the object is bigger than the caller's limit.
	ErrTooLarge = errors.New("object too large")
	// ErrInvalidArgument: a bad key, size, limit or config; never retried.
	ErrInvalidArgument = errors.New("invalid argument")
)

// MaxKeyLen is the longest object key S3 accepts, in bytes.
const MaxKeyLen = 1024

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key  string
	Size int64
	// ETag as the store reports it, without quotes. For single-part uploads
	// on versitygw, MinIO and S3 it is the hex MD5 of the content.
	ETag         string
	LastModified time.Time
	// ContentType is empty in listings (S3 ListObjects does not report it);
	// StatObject fills it.
	ContentType string
}

// ObjectStore is the bucket omnirank keeps its catalogue, models and
// snapshots in. Keys are relative to the bucket. Implementations are safe
// for concurrent use; every method honours ctx.
type ObjectStore interface {
	// PutObject stores data under key, replacing any object there.
	PutObject(ctx context.Context, key string, data []byte, contentType string) error
	// PutStream stores exactly size bytes read from r under key. size is
	// required (≥ 0): an unknown size makes minio-go buffer hundreds of MB.
	// A reader that ends early fails the call and stores nothing.
	PutStream(ctx context.Context, key string, r io.Reader, size int64, contentType string) error
	// GetObject returns the content of key. It fails with ErrNotFound when
	// the key does not exist and with ErrTooLarge when the object is bigger
	// than maxBytes (> 0), reading at most maxBytes+1 bytes.
	GetObject(ctx context.Context, key string, maxBytes int64) ([]byte, error)
	// StatObject describes key, or fails with ErrNotFound.
	StatObject(ctx context.Context, key string) (ObjectInfo, error)
	// DeleteObject removes key. Deleting a missing key is not an error.
	DeleteObject(ctx context.Context, key string) error
	// List returns every key that starts with prefix, recursively, in
	// lexical order.
	List(ctx context.Context, prefix string) ([]string, error)
	// ListObjects is List with sizes, ETags and modification times.
	ListObjects(ctx context.Context, prefix string) ([]ObjectInfo, error)
	// Bucket names the bucket.
	Bucket() string
}

// checkKey rejects keys no S3 store accepts.
func checkKey(key string) error {
	switch {
	case key == "":
		return errors.New("empty key")
	case len(key) > MaxKeyLen:
		return errors.New("key longer than 1024 bytes")
	case !utf8.ValidString(key):
		return errors.New("key is not valid UTF-8")
	}
	return nil
}
