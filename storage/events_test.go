package storage_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/omnirank/omnirank/storage"
)

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseEventsFixtures(t *testing.T) {
	tests := []struct {
		fixture string
		want    []storage.ObjectEvent
	}{
		{"versitygw_put.json", []storage.ObjectEvent{{
			Bucket: "omnirank", Key: "products/p1/product.json", Kind: storage.Created, Size: 5,
			ETag: "5d41402abc4b2a76b9719d911017c592", Time: mustTime("2026-11-26T22:31:53Z"), Sequencer: "1",
		}}},
		{"versitygw_delete.json", []storage.ObjectEvent{{
			Bucket: "omnirank", Key: "products/p1/product.json", Kind: storage.Removed,
			Time: mustTime("2026-11-26T22:31:53Z"), Sequencer: "2",
		}}},
		// versitygw sends keys raw: '+' and '%' are literal.
		{"versitygw_put_special_key.json", []storage.ObjectEvent{{
			Bucket: "omnirank", Key: "products/p 2/a+b%c é.json", Kind: storage.Created, Size: 5,
			ETag: "5d41402abc4b2a76b9719d911017c592", Time: mustTime("2026-11-26T22:31:53Z"), Sequencer: "3",
		}}},
		{"versitygw_test_event.json", nil},
		// MinIO URL-encodes keys form-style: '+' is a space, %2B a plus.
		{"minio_put.json", []storage.ObjectEvent{{
			Bucket: "omnirank", Key: "products/p 2/a+b%c é.json", Kind: storage.Created, Size: 1843,
			ETag: "0b4f3a7e1c9d2b8a6f5e4d3c2b1a0f9e", Time: mustTime("2026-03-14T09:26:53.589Z"), Sequencer: "17C9A4E1D3A1B2C4",
		}}},
		{"minio_delete.json", []storage.ObjectEvent{{
			Bucket: "omnirank", Key: "products/p1/front.jpg", Kind: storage.Removed,
			Time: mustTime("2026-03-14T09:27:01.002Z"), Sequencer: "17C9A4E3A0F7D9E1",
		}}},
		{"minio_multipart.json", []storage.ObjectEvent{{
			Bucket: "omnirank", Key: "models/text-starter/1/model.onnx", Kind: storage.Created, Size: 52428800,
			ETag: "9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d-4", Time: mustTime("2026-03-14T09:30:00Z"), Sequencer: "17C9A4F0000A0B0C",
		}}},
		// AWS omits the "s3:" prefix; the tagging record is skipped.
		{"aws_two_records.json", []storage.ObjectEvent{
			{
				Bucket: "shop-catalogue", Key: "products/sku-9/product.json", Kind: storage.Created, Size: 512,
				ETag: "d41d8cd98f00b204e9800998ecf8427e", Time: mustTime("2026-03-14T09:31:12.345678Z"), Sequencer: "0055AED6DCD90281E5",
			},
			{
				Bucket: "shop-catalogue", Key: "products/sku-8/audio/jingle(1).wav", Kind: storage.Removed,
				Time: mustTime("2026-03-14T09:31:14Z"), Sequencer: "0055AED6DCD90281E7",
			},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.fixture, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(testdataDir, "events", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got, err := storage.ParseEvents(data)
			if err != nil {
				t.Fatalf("ParseEvents: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %d events %+v, want %d", len(got), got, len(tc.want))
			}
			for i := range got {
				g, w := got[i], tc.want[i]
				if !g.Time.Equal(w.Time) {
					t.Errorf("event %d time %v, want %v", i, g.Time, w.Time)
				}
				g.Time, w.Time = time.Time{}, time.Time{}
				if g != w {
					t.Errorf("event %d =\n %+v\nwant\n %+v", i, g, w)
				}
			}
		})
	}
}

func TestParseEventsErrors(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"empty", ``},
		{"not json", `Records: []`},
		{"truncated", `{"Records":[{"eventName":"s3:ObjectCreated:Put"`},
		{"records not an array", `{"Records":{"eventName":"s3:ObjectCreated:Put"}}`},
		{"size is a string", `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k","size":"12"}}}]}`},
		{"missing key", `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"bucket":{"name":"b"},"object":{}}}]}`},
		{"missing bucket", `{"Records":[{"eventName":"s3:ObjectRemoved:Delete","s3":{"object":{"key":"k"}}}]}`},
		{"bad escape", `{"Records":[{"eventName":"s3:ObjectCreated:Put","s3":{"configurationId":"Config","bucket":{"name":"b"},"object":{"key":"a%zz"}}}]}`},
		{"bad time", `{"Records":[{"eventName":"s3:ObjectCreated:Put","eventTime":"yesterday","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := storage.ParseEvents([]byte(tc.data))
			if !errors.Is(err, storage.ErrBadEvent) {
				t.Fatalf("err = %v (events %+v), want ErrBadEvent", err, evs)
			}
		})
	}
}

func TestParseEventsIgnores(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"no records", `{}`},
		{"empty records", `{"Records":[]}`},
		{"unknown event only", `{"Records":[{"eventName":"s3:ObjectAcl:Put","s3":{"bucket":{"name":"b"},"object":{"key":"k"}}}]}`},
		{"unknown event without key", `{"Records":[{"eventName":"s3:Replication:OperationFailedReplication"}]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := storage.ParseEvents([]byte(tc.data))
			if err != nil || len(evs) != 0 {
				t.Fatalf("got %+v, %v; want no events, no error", evs, err)
			}
		})
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[storage.EventKind]string{storage.Created: "created", storage.Removed: "removed", 0: "EventKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}

// TestTriggerEventRoundTrip: what TriggerEvent writes, ParseEvents reads
// back as one Created event of that bucket, key and time, keys with
// characters that need escaping included.
func TestTriggerEventRoundTrip(t *testing.T) {
	at := mustTime("2026-12-05T10:11:12.345Z")
	tests := []struct {
		name string
		key  string
		at   time.Time
	}{
		{"product.json", "products/shoe-red/product.json", at},
		{"escaped characters", "products/a+b c%/product.json", at},
		{"no time", "products/x/product.json", time.Time{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data, err := storage.TriggerEvent("omnirank", tc.key, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			evs, err := storage.ParseEvents(data)
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != 1 {
				t.Fatalf("got %d events, want 1: %s", len(evs), data)
			}
			ev := evs[0]
			if ev.Bucket != "omnirank" || ev.Key != tc.key || ev.Kind != storage.Created || !ev.Time.Equal(tc.at) {
				t.Fatalf("got %+v, want bucket omnirank, key %q, created at %v", ev, tc.key, tc.at)
			}
		})
	}
}
