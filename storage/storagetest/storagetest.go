// Package storagetest owns the conformance suite every storage.ObjectStore
// backend must pass (one suite, every backend), and helpers to open a store
// on an external S3 endpoint named by environment variables.
//
// Run it from a backend's tests:
//
//	func TestS3Store(t *testing.T) {
//		storagetest.Run(t, func(t *testing.T) storage.ObjectStore { return store })
//	}
//
// The suite writes only under a fresh random prefix per run and deletes what
// it wrote, so it is safe against a shared bucket.
package storagetest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/omnirank/omnirank/storage"
)

// Environment variables that point the suite at an external S3 endpoint
// (MinIO, AWS S3, a standalone versitygw).
const (
	EnvEndpoint  = "OMNIRANK_TEST_S3_ENDPOINT" // host:port; unset skips
	EnvAccessKey = "OMNIRANK_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "OMNIRANK_TEST_S3_SECRET_KEY"
	EnvBucket    = "OMNIRANK_TEST_S3_BUCKET" // default "omnirank-test"
	EnvRegion    = "OMNIRANK_TEST_S3_REGION"
	EnvTLS       = "OMNIRANK_TEST_S3_TLS" // "1" or "true" for https
)

// ExternalS3 opens the store named by the OMNIRANK_TEST_S3_* variables, or
// skips the test when OMNIRANK_TEST_S3_ENDPOINT is unset.
func ExternalS3(t testing.TB) *storage.S3Store {
	t.Helper()
	ep := os.Getenv(EnvEndpoint)
	if ep == "" {
		t.Skipf("%s not set: no external S3 endpoint to test against", EnvEndpoint)
	}
	bucket := os.Getenv(EnvBucket)
	if bucket == "" {
		bucket = "omnirank-test"
	}
	tlsOn := os.Getenv(EnvTLS)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := storage.NewS3Store(ctx, storage.S3Config{
		Endpoint:  ep,
		AccessKey: os.Getenv(EnvAccessKey),
		SecretKey: os.Getenv(EnvSecretKey),
		Bucket:    bucket,
		Region:    os.Getenv(EnvRegion),
		UseTLS:    tlsOn == "1" || strings.EqualFold(tlsOn, "true"),
	})
	if err != nil {
		t.Fatalf("open external S3 store: %v", err)
	}
	return s
}

// Run runs the conformance suite against the stores newStore returns. It
// calls newStore once per subtest; returning the same store each time is
// fine.
func Run(t *testing.T, newStore func(t *testing.T) storage.ObjectStore) {
	t.Helper()
	prefix := "storagetest/" + randomHex(8) + "/"
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.ObjectStore, prefix string)
	}{
		{"PutGetRoundTrip", testPutGetRoundTrip},
		{"PutStream", testPutStream},
		{"PutStreamBadArguments", testPutStreamBadArguments},
		{"Overwrite", testOverwrite},
		{"Stat", testStat},
		{"NotFound", testNotFound},
		{"TooLarge", testTooLarge},
		{"Delete", testDelete},
		{"List", testList},
		{"InvalidKeys", testInvalidKeys},
		{"CancelledContext", testCancelledContext},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			if s.Bucket() == "" {
				t.Fatal("Bucket() is empty")
			}
			p := prefix + tc.name + "/"
			t.Cleanup(func() { cleanup(t, s, p) })
			tc.fn(t, s, p)
		})
	}
}

func cleanup(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	keys, err := s.List(ctx, prefix)
	if err != nil {
		t.Errorf("cleanup: list %s: %v", prefix, err)
		return
	}
	for _, k := range keys {
		if err := s.DeleteObject(ctx, k); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func md5hex(b []byte) string {
	h := md5.Sum(b)
	return hex.EncodeToString(h[:])
}

func testPutGetRoundTrip(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	tests := []struct {
		name string
		key  string
		data []byte
		ct   string
	}{
		{"empty", "empty.bin", []byte{}, "application/octet-stream"},
		{"json", "products/p1/product.json", []byte(`{"id":"p1","title":"Mug"}`), "application/json"},
		{"binary 1MiB", "blob/one-mib.bin", randomBytes(1 << 20), ""},
		{"space and plus", "odd keys/a+b c.txt", []byte("plus and space"), "text/plain"},
		{"percent", "odd keys/100%25 real %.txt", []byte("percent"), "text/plain"},
		{"unicode", "odd keys/café/ñandú 🦆.txt", []byte("unicode"), "text/plain; charset=utf-8"},
		{"deep", "a/b/c/d/e/f/g/h.txt", []byte("deep"), "text/plain"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := prefix + tc.key
			if err := s.PutObject(ctx, key, tc.data, tc.ct); err != nil {
				t.Fatalf("PutObject: %v", err)
			}
			got, err := s.GetObject(ctx, key, int64(len(tc.data))+1)
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Fatalf("GetObject returned %d bytes (md5 %s), want %d (md5 %s)", len(got), md5hex(got), len(tc.data), md5hex(tc.data))
			}
			info, err := s.StatObject(ctx, key)
			if err != nil {
				t.Fatalf("StatObject: %v", err)
			}
			if info.Key != key || info.Size != int64(len(tc.data)) {
				t.Errorf("StatObject = key %q size %d, want %q %d", info.Key, info.Size, key, len(tc.data))
			}
			if info.ETag != md5hex(tc.data) {
				t.Errorf("ETag = %q, want the content MD5 %q", info.ETag, md5hex(tc.data))
			}
			wantCT := tc.ct
			if wantCT == "" {
				wantCT = "application/octet-stream"
			}
			if info.ContentType != wantCT {
				t.Errorf("ContentType = %q, want %q", info.ContentType, wantCT)
			}
			keys, err := s.List(ctx, key)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if !slices.Contains(keys, key) {
				t.Errorf("List(%q) = %q, missing the key", key, keys)
			}
		})
	}
}

// shortReader yields n bytes, then fails or ends.
type shortReader struct {
	r   io.Reader
	err error
}

func (s *shortReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err == io.EOF && s.err != nil {
		return n, s.err
	}
	return n, err
}

func testPutStream(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	data := randomBytes(3<<20 + 17)
	tests := []struct {
		name    string
		key     string
		r       func() io.Reader
		size    int64
		wantErr bool
	}{
		{"exact size", "exact.bin", func() io.Reader { return bytes.NewReader(data) }, int64(len(data)), false},
		{"zero", "zero.bin", func() io.Reader { return bytes.NewReader(nil) }, 0, false},
		{"reader ends early", "short.bin", func() io.Reader { return bytes.NewReader(data[:1000]) }, int64(len(data)), true},
		{"reader fails", "fails.bin", func() io.Reader {
			return &shortReader{r: bytes.NewReader(data[:5000]), err: errors.New("disk on fire")}
		}, int64(len(data)), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key := prefix + tc.key
			err := s.PutStream(ctx, key, tc.r(), tc.size, "application/octet-stream")
			if tc.wantErr {
				if err == nil {
					t.Fatal("PutStream succeeded, want an error")
				}
				if !strings.Contains(err.Error(), key) {
					t.Errorf("error %q does not name the key", err)
				}
				if _, err := s.StatObject(ctx, key); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("after a failed PutStream, StatObject err = %v, want ErrNotFound", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PutStream: %v", err)
			}
			got, err := s.GetObject(ctx, key, tc.size+1)
			if err != nil {
				t.Fatalf("GetObject: %v", err)
			}
			if !bytes.Equal(got, data[:tc.size]) {
				t.Fatalf("content differs: %d bytes, want %d", len(got), tc.size)
			}
		})
	}
}

func testPutStreamBadArguments(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	err := s.PutStream(ctx, prefix+"unknown-size", bytes.NewReader([]byte("x")), -1, "")
	if !errors.Is(err, storage.ErrInvalidArgument) {
		t.Errorf("PutStream size -1: err = %v, want ErrInvalidArgument", err)
	}
	err = s.PutStream(ctx, prefix+"nil-reader", nil, 3, "")
	if !errors.Is(err, storage.ErrInvalidArgument) {
		t.Errorf("PutStream nil reader: err = %v, want ErrInvalidArgument", err)
	}
}

func testOverwrite(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	key := prefix + "obj"
	first, second := []byte("first version"), []byte("second, longer version")
	if err := s.PutObject(ctx, key, first, "text/plain"); err != nil {
		t.Fatal(err)
	}
	a, err := s.StatObject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutObject(ctx, key, second, "text/markdown"); err != nil {
		t.Fatal(err)
	}
	b, err := s.StatObject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.GetObject(ctx, key, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, second) {
		t.Errorf("after overwrite got %q, want %q", got, second)
	}
	if a.ETag == b.ETag {
		t.Errorf("ETag unchanged (%q) after overwrite with other content", a.ETag)
	}
	if b.ContentType != "text/markdown" {
		t.Errorf("ContentType = %q after overwrite, want text/markdown", b.ContentType)
	}
}

func testStat(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	key := prefix + "stat.json"
	data := []byte(`{"stat":true}`)
	before := time.Now().Add(-time.Minute) // tolerate clock skew with the store
	if err := s.PutObject(ctx, key, data, "application/json"); err != nil {
		t.Fatal(err)
	}
	info, err := s.StatObject(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if info.LastModified.Before(before) || info.LastModified.After(time.Now().Add(time.Minute)) {
		t.Errorf("LastModified = %v, want about now", info.LastModified)
	}
	objs, err := s.ListObjects(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		t.Fatalf("ListObjects(%q) = %d objects, want 1", key, len(objs))
	}
	if objs[0].Key != info.Key || objs[0].Size != info.Size || objs[0].ETag != info.ETag {
		t.Errorf("ListObjects entry %+v disagrees with StatObject %+v", objs[0], info)
	}
}

func testNotFound(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	key := prefix + "no/such/key.json"
	_, err := s.GetObject(ctx, key, 100)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetObject missing: err = %v, want ErrNotFound", err)
	} else if !strings.Contains(err.Error(), key) {
		t.Errorf("GetObject error %q does not name the key", err)
	}
	_, err = s.StatObject(ctx, key)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("StatObject missing: err = %v, want ErrNotFound", err)
	}
	keys, err := s.List(ctx, prefix+"no/")
	if err != nil || len(keys) != 0 {
		t.Errorf("List of an empty prefix = %q, %v; want none, nil", keys, err)
	}
}

func testTooLarge(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	data := randomBytes(4096)
	key := prefix + "big.bin"
	if err := s.PutObject(ctx, key, data, ""); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		limit   int64
		wantErr error
	}{
		{4095, storage.ErrTooLarge},
		{1, storage.ErrTooLarge},
		{4096, nil},
		{1 << 30, nil},
		{0, storage.ErrInvalidArgument},
		{-5, storage.ErrInvalidArgument},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.limit), func(t *testing.T) {
			got, err := s.GetObject(ctx, key, tc.limit)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if got != nil {
					t.Errorf("returned %d bytes with the error", len(got))
				}
				return
			}
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("GetObject limit %d: %d bytes, %v", tc.limit, len(got), err)
			}
		})
	}
}

func testDelete(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	key := prefix + "gone.txt"
	if err := s.PutObject(ctx, key, []byte("bye"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteObject(ctx, key); err != nil {
		t.Fatalf("DeleteObject: %v", err)
	}
	if _, err := s.GetObject(ctx, key, 10); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetObject after delete: err = %v, want ErrNotFound", err)
	}
	if err := s.DeleteObject(ctx, key); err != nil {
		t.Errorf("DeleteObject of a deleted key: %v, want nil", err)
	}
	if err := s.DeleteObject(ctx, prefix+"never/existed"); err != nil {
		t.Errorf("DeleteObject of a missing key: %v, want nil", err)
	}
	if keys, err := s.List(ctx, prefix); err != nil || len(keys) != 0 {
		t.Errorf("List after delete = %q, %v; want none", keys, err)
	}
}

func testList(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	rel := []string{
		"products/a/product.json",
		"products/a/img/front.jpg",
		"products/ab/product.json",
		"products/b/product.json",
		"models/text/1/model.onnx",
		"top.txt",
	}
	sizes := map[string]int64{}
	for i, k := range rel {
		data := bytes.Repeat([]byte{'x'}, i+1)
		sizes[prefix+k] = int64(len(data))
		if err := s.PutObject(ctx, prefix+k, data, ""); err != nil {
			t.Fatal(err)
		}
	}
	withPrefix := func(ks ...string) []string {
		out := make([]string, len(ks))
		for i, k := range ks {
			out[i] = prefix + k
		}
		return out
	}
	tests := []struct {
		sub  string
		want []string
	}{
		{"", withPrefix("models/text/1/model.onnx", "products/a/img/front.jpg", "products/a/product.json", "products/ab/product.json", "products/b/product.json", "top.txt")},
		{"products/", withPrefix("products/a/img/front.jpg", "products/a/product.json", "products/ab/product.json", "products/b/product.json")},
		{"products/a/", withPrefix("products/a/img/front.jpg", "products/a/product.json")},
		{"products/a", withPrefix("products/a/img/front.jpg", "products/a/product.json", "products/ab/product.json")},
		{"models/", withPrefix("models/text/1/model.onnx")},
		{"nothing/", nil},
	}
	for _, tc := range tests {
		t.Run(tc.sub, func(t *testing.T) {
			keys, err := s.List(ctx, prefix+tc.sub)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(keys, tc.want) {
				t.Errorf("List(%q) =\n %q\nwant\n %q", tc.sub, keys, tc.want)
			}
			infos, err := s.ListObjects(ctx, prefix+tc.sub)
			if err != nil {
				t.Fatal(err)
			}
			if len(infos) != len(tc.want) {
				t.Fatalf("ListObjects(%q) = %d objects, want %d", tc.sub, len(infos), len(tc.want))
			}
			for i, in := range infos {
				if in.Key != tc.want[i] || in.Size != sizes[in.Key] || in.ETag == "" || in.LastModified.IsZero() {
					t.Errorf("ListObjects[%d] = %+v, want key %q size %d with ETag and time", i, in, tc.want[i], sizes[tc.want[i]])
				}
			}
		})
	}
}

func testInvalidKeys(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	tests := []struct {
		name string
		key  string
	}{
		{"empty", ""},
		{"too long", prefix + strings.Repeat("k", storage.MaxKeyLen)},
		{"bad utf8", prefix + "bad\xff.txt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.PutObject(ctx, tc.key, []byte("x"), ""); !errors.Is(err, storage.ErrInvalidArgument) {
				t.Errorf("PutObject: err = %v, want ErrInvalidArgument", err)
			}
			if _, err := s.GetObject(ctx, tc.key, 10); !errors.Is(err, storage.ErrInvalidArgument) {
				t.Errorf("GetObject: err = %v, want ErrInvalidArgument", err)
			}
			if _, err := s.StatObject(ctx, tc.key); !errors.Is(err, storage.ErrInvalidArgument) {
				t.Errorf("StatObject: err = %v, want ErrInvalidArgument", err)
			}
			if err := s.DeleteObject(ctx, tc.key); !errors.Is(err, storage.ErrInvalidArgument) {
				t.Errorf("DeleteObject: err = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func testCancelledContext(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	key := prefix + "cancelled.txt"
	checks := []struct {
		name string
		call func() error
	}{
		{"PutObject", func() error { return s.PutObject(ctx, key, []byte("x"), "") }},
		{"GetObject", func() error { _, err := s.GetObject(ctx, key, 10); return err }},
		{"StatObject", func() error { _, err := s.StatObject(ctx, key); return err }},
		{"List", func() error { _, err := s.List(ctx, prefix); return err }},
		{"ListObjects", func() error { _, err := s.ListObjects(ctx, prefix); return err }},
	}
	for _, c := range checks {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: err = %v, want context.Canceled", c.name, err)
		}
	}
}

func testConcurrent(t *testing.T, s storage.ObjectStore, prefix string) {
	ctx := testCtx(t)
	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers*perWorker)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				key := fmt.Sprintf("%sw%d/%d", prefix, w, i)
				data := []byte(key)
				if err := s.PutObject(ctx, key, data, "text/plain"); err != nil {
					errs <- err
					continue
				}
				got, err := s.GetObject(ctx, key, 1024)
				if err != nil {
					errs <- err
				} else if !bytes.Equal(got, data) {
					errs <- fmt.Errorf("%s: got %q", key, got)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	keys, err := s.List(ctx, prefix)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != workers*perWorker {
		t.Errorf("List found %d keys, want %d", len(keys), workers*perWorker)
	}
}
