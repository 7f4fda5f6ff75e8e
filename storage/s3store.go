package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config locates a bucket on an S3-compatible endpoint: the embedded
// gateway (package storage/s3gw), MinIO or AWS S3.
type S3Config struct {
	// Endpoint is host:port, without scheme. Required.
	Endpoint string
	// AccessKey and SecretKey: both set, or both empty for anonymous access.
	AccessKey, SecretKey string
	// Bucket is created if missing. Required.
	Bucket string
	// Region; empty lets minio-go discover it ("us-east-1" on the gateway).
	Region string
	// UseTLS selects https.
	UseTLS bool
}

// S3Store is the ObjectStore over any S3-compatible endpoint, through
// minio-go. It is safe for concurrent use.
type S3Store struct {
	client *minio.Client
	bucket string
	log    *slog.Logger
	retry  retryPolicy
}

var _ ObjectStore = (*S3Store)(nil)

type retryPolicy struct {
	attempts int
	base     time.Duration
	max      time.Duration
}

// S3Option configures NewS3Store.
type S3Option func(*s3Options) error

type s3Options struct {
	log        *slog.Logger
	retry      retryPolicy
	transport  http.RoundTripper
	wrap       func(http.RoundTripper) http.RoundTripper
	reqRetries int
}

// WithLogger sets the logger; slog.Default() otherwise.
func WithLogger(l *slog.Logger) S3Option {
	return func(s *s3Options) error {
		if l == nil {
			return fmt.Errorf("%w: nil logger", ErrInvalidArgument)
		}
		s.log = l
		return nil
	}
}

// WithStartupRetry bounds how NewS3Store retries transient failures while
// it checks or creates the bucket (the endpoint still starting, 5xx,
// throttling): at most attempts tries, sleeping base, 2·base, 4·base… capped
// at max between them. Default: 8 attempts, 50 ms, 2 s. Each request also
// gets minio-go's own retries.
func WithStartupRetry(attempts int, base, max time.Duration) S3Option {
	return func(s *s3Options) error {
		if attempts < 1 || base <= 0 || max < base {
			return fmt.Errorf("%w: retry attempts %d, base %v, max %v", ErrInvalidArgument, attempts, base, max)
		}
		s.retry = retryPolicy{attempts: attempts, base: base, max: max}
		return nil
	}
}

// WithTransport sets the HTTP transport minio-go uses (custom TLS roots,
// connection limits).
func WithTransport(rt http.RoundTripper) S3Option {
	return func(s *s3Options) error {
		if rt == nil {
			return fmt.Errorf("%w: nil transport", ErrInvalidArgument)
		}
		s.transport = rt
		return nil
	}
}

// WithTransportWrapper wraps the HTTP transport minio-go uses (the one
// WithTransport set, else minio-go's default for the endpoint's scheme),
// e.g. to send every request's trace context.
func WithTransportWrapper(wrap func(http.RoundTripper) http.RoundTripper) S3Option {
	return func(s *s3Options) error {
		if wrap == nil {
			return fmt.Errorf("%w: nil transport wrapper", ErrInvalidArgument)
		}
		s.wrap = wrap
		return nil
	}
}

// WithRequestRetries sets how many times minio-go tries each request on
// network errors and 5xx answers (it backs off between tries). Default 3.
func WithRequestRetries(n int) S3Option {
	return func(s *s3Options) error {
		if n < 1 {
			return fmt.Errorf("%w: request retries %d", ErrInvalidArgument, n)
		}
		s.reqRetries = n
		return nil
	}
}

// NewS3Store connects to the bucket cfg names, creating it if missing.
// Transient errors are retried with bounded exponential backoff (see
// WithStartupRetry); ctx bounds the whole call.
func NewS3Store(ctx context.Context, cfg S3Config, opts ...S3Option) (*S3Store, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	o := s3Options{
		log:        slog.Default(),
		retry:      retryPolicy{attempts: 8, base: 50 * time.Millisecond, max: 2 * time.Second},
		reqRetries: 3,
	}
	for _, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: nil S3Option", ErrInvalidArgument)
		}
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	s := &S3Store{bucket: cfg.Bucket, log: o.log, retry: o.retry}
	mo := &minio.Options{
		Secure:     cfg.UseTLS,
		Region:     cfg.Region,
		Transport:  o.transport,
		MaxRetries: o.reqRetries,
	}
	if cfg.AccessKey != "" {
		mo.Creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	}
	if o.wrap != nil {
		base := o.transport
		if base == nil {
			t, err := minio.DefaultTransport(cfg.UseTLS)
			if err != nil {
				return nil, fmt.Errorf("s3 transport for %s: %w", cfg.Endpoint, err)
			}
			base = t
		}
		mo.Transport = o.wrap(base)
	}
	client, err := minio.New(cfg.Endpoint, mo)
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", cfg.Endpoint, err)
	}
	s.client = client
	if err := s.ensureBucket(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (c S3Config) validate() error {
	switch {
	case c.Endpoint == "":
		return fmt.Errorf("%w: S3 endpoint is required", ErrInvalidArgument)
	case strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("%w: S3 endpoint %q must be host:port without a scheme (use UseTLS)", ErrInvalidArgument, c.Endpoint)
	case c.Bucket == "":
		return fmt.Errorf("%w: S3 bucket is required", ErrInvalidArgument)
	case (c.AccessKey == "") != (c.SecretKey == ""):
		return fmt.Errorf("%w: S3 access key and secret key go together", ErrInvalidArgument)
	}
	if _, _, err := net.SplitHostPort(c.Endpoint); err != nil {
		return fmt.Errorf("%w: S3 endpoint %q: %v", ErrInvalidArgument, c.Endpoint, err)
	}
	return nil
}

func (s *S3Store) ensureBucket(ctx context.Context) error {
	delay := s.retry.base
	var err error
	for attempt := 1; ; attempt++ {
		err = s.tryEnsureBucket(ctx)
		if err == nil || !transient(err) || attempt >= s.retry.attempts {
			break
		}
		s.log.Warn("storage: bucket not reachable yet, retrying", "bucket", s.bucket, "attempt", attempt, "delay", delay, "err", err)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("open bucket %s: %w (last error: %v)", s.bucket, ctx.Err(), err)
		case <-t.C:
		}
		delay = min(2*delay, s.retry.max)
	}
	if err != nil {
		return fmt.Errorf("open bucket %s: %w", s.bucket, err)
	}
	return nil
}

func (s *S3Store) tryEnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return err
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{})
	if err != nil {
		switch minio.ToErrorResponse(err).Code {
		case "BucketAlreadyOwnedByYou", "BucketAlreadyExists":
			return nil // created concurrently
		}
		return err
	}
	s.log.Info("storage: created bucket", "bucket", s.bucket)
	return nil
}

// transient reports whether err may go away on retry.
func transient(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return true
	}
	resp := minio.ToErrorResponse(err)
	switch {
	case resp.StatusCode >= 500, resp.StatusCode == http.StatusTooManyRequests:
		return true
	case resp.Code == "SlowDown", resp.Code == "RequestTimeout", resp.Code == "ServiceUnavailable":
		return true
	}
	// Connection refused and resets surface as url.Error strings.
	msg := err.Error()
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "connection reset") || strings.Contains(msg, "EOF")
}

// Bucket names the bucket.
func (s *S3Store) Bucket() string { return s.bucket }

// Client is the underlying minio-go client, for operations the ObjectStore
// interface does not cover (presigned URLs, multipart tuning).
func (s *S3Store) Client() *minio.Client { return s.client }

// PutObject stores data under key.
func (s *S3Store) PutObject(ctx context.Context, key string, data []byte, contentType string) error {
	if err := s.put(ctx, key, bytes.NewReader(data), int64(len(data)), contentType); err != nil {
		return fmt.Errorf("put object %s: %w", key, err)
	}
	return nil
}

// PutStream stores exactly size bytes from r under key.
func (s *S3Store) PutStream(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if size < 0 {
		return fmt.Errorf("put object %s: %w: size %d (the size must be known)", key, ErrInvalidArgument, size)
	}
	if r == nil {
		return fmt.Errorf("put object %s: %w: nil reader", key, ErrInvalidArgument)
	}
	er := &exactReader{r: r, size: size}
	err := s.put(ctx, key, er, size, contentType)
	if er.short {
		// minio-go reports a short body in many ways; say what happened.
		return fmt.Errorf("put object %s: %w: reader ended after %d of %d bytes", key, io.ErrUnexpectedEOF, er.n, size)
	}
	if err != nil {
		return fmt.Errorf("put object %s: %w", key, err)
	}
	return nil
}

// exactReader fails with io.ErrUnexpectedEOF when r ends before size bytes.
// It also hides any io.Seeker of r, so a failing body is never re-sent.
type exactReader struct {
	r     io.Reader
	size  int64
	n     int64
	short bool
}

func (e *exactReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	e.n += int64(n)
	if err == io.EOF && e.n < e.size {
		e.short = true
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

func (s *S3Store) put(ctx context.Context, key string, r io.Reader, size int64, contentType string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidArgument, err)
	}
	if contentType == "" {
		contentType = "application/octet-stream"
	}
	// Content-MD5 with an unsigned payload instead of minio-go's default
	// streaming signature over plain HTTP: versitygw v1.8 stores the
	// streaming request's "Content-Encoding: aws-chunked" as object metadata,
	// and an empty streaming body leaves bytes on the connection that it
	// answers with a stray 400, which the next request on that pooled
	// connection receives. Content-MD5 still lets the store verify the body.
	_, err := s.client.PutObject(ctx, s.bucket, key, r, size, minio.PutObjectOptions{
		ContentType:          contentType,
		SendContentMd5:       true,
		DisableContentSha256: true,
	})
	return mapErr(ctx, err)
}

// GetObject returns the content of key, at most maxBytes bytes.
func (s *S3Store) GetObject(ctx context.Context, key string, maxBytes int64) ([]byte, error) {
	if err := checkKey(key); err != nil {
		return nil, fmt.Errorf("get object %s: %w: %v", key, ErrInvalidArgument, err)
	}
	if maxBytes <= 0 {
		return nil, fmt.Errorf("get object %s: %w: maxBytes %d", key, ErrInvalidArgument, maxBytes)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("get object %s: %w", key, mapErr(ctx, err))
	}
	defer obj.Close()
	// Stat sends the GET and reads the response headers only.
	info, err := obj.Stat()
	if err != nil {
		return nil, fmt.Errorf("get object %s: %w", key, mapErr(ctx, err))
	}
	if info.Size > maxBytes {
		return nil, fmt.Errorf("get object %s: %w: %d bytes, limit %d", key, ErrTooLarge, info.Size, maxBytes)
	}
	data, err := readBody(obj, info.Size, maxBytes)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, fmt.Errorf("get object %s: %w", key, err)
		}
		return nil, fmt.Errorf("get object %s: %w", key, mapErr(ctx, err))
	}
	return data, nil
}

// readBody reads an object's body of the announced size (negative:
// unknown) into one buffer of that size: io.ReadAll would grow its buffer
// step by step, copying a large model several times over while it comes
// in (which showed as live uploads stalled behind a campaign's model
// load). A body longer than announced, or than maxBytes, is ErrTooLarge.
func readBody(r io.Reader, size, maxBytes int64) ([]byte, error) {
	if size < 0 {
		data, err := io.ReadAll(io.LimitReader(r, maxBytes+1))
		if err == nil && int64(len(data)) > maxBytes {
			return nil, fmt.Errorf("%w: over %d bytes", ErrTooLarge, maxBytes)
		}
		return data, err
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, err
	}
	var extra [1]byte
	if n, _ := r.Read(extra[:]); n > 0 {
		return nil, fmt.Errorf("%w: body longer than its announced %d bytes", ErrTooLarge, size)
	}
	return data, nil
}

// StatObject describes key.
func (s *S3Store) StatObject(ctx context.Context, key string) (ObjectInfo, error) {
	if err := checkKey(key); err != nil {
		return ObjectInfo{}, fmt.Errorf("stat object %s: %w: %v", key, ErrInvalidArgument, err)
	}
	info, err := s.client.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return ObjectInfo{}, fmt.Errorf("stat object %s: %w", key, mapErr(ctx, err))
	}
	return toInfo(info), nil
}

// DeleteObject removes key; a missing key is not an error.
func (s *S3Store) DeleteObject(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return fmt.Errorf("delete object %s: %w: %v", key, ErrInvalidArgument, err)
	}
	err := mapErr(ctx, s.client.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{}))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete object %s: %w", key, err)
	}
	return nil
}

// List returns every key under prefix.
func (s *S3Store) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := s.walk(ctx, prefix, func(o minio.ObjectInfo) { keys = append(keys, o.Key) })
	if err != nil {
		return nil, err
	}
	return keys, nil
}

// ListObjects returns every object under prefix.
func (s *S3Store) ListObjects(ctx context.Context, prefix string) ([]ObjectInfo, error) {
	var infos []ObjectInfo
	err := s.walk(ctx, prefix, func(o minio.ObjectInfo) { infos = append(infos, toInfo(o)) })
	if err != nil {
		return nil, err
	}
	return infos, nil
}

func (s *S3Store) walk(ctx context.Context, prefix string, fn func(minio.ObjectInfo)) error {
	// Cancelling stops minio-go's listing goroutine when we leave early.
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for o := range s.client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if o.Err != nil {
			return fmt.Errorf("list objects %s: %w", prefix, mapErr(ctx, o.Err))
		}
		if strings.HasSuffix(o.Key, "/") && o.Size == 0 {
			continue // folder marker, not an object
		}
		fn(o)
	}
	// minio-go closes the channel on cancellation without an error.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("list objects %s: %w", prefix, err)
	}
	return nil
}

func toInfo(o minio.ObjectInfo) ObjectInfo {
	return ObjectInfo{
		Key:          o.Key,
		Size:         o.Size,
		ETag:         strings.Trim(o.ETag, `"`),
		LastModified: o.LastModified,
		ContentType:  o.ContentType,
	}
}

// mapErr turns minio-go errors into the package's sentinels, keeping the
// original text, and surfaces context errors.
func mapErr(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("%w (%v)", cerr, err)
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case "NoSuchKey", "NoSuchBucket", "NotFound":
		return fmt.Errorf("%w (%s)", ErrNotFound, resp.Code)
	}
	if resp.StatusCode == http.StatusNotFound {
		return fmt.Errorf("%w (%v)", ErrNotFound, err)
	}
	return err
}
