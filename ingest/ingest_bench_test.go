package ingest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/omnirank/omnirank/ingest"
	"github.com/omnirank/omnirank/natsembed/natstest"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/storage/s3gw"
	"github.com/omnirank/omnirank/topology"
)

// BenchmarkSyncReplay measures what one transcript lookup adds to a sync:
// "replay" is SyncProduct of an unchanged product without speech audio (a
// replayed event or a reconcile: product.json read, one stat, and the
// products, errors and transcripts KV reads), "transcript-get" the one
// KV transcripts read of it alone (a miss). Real embedded NATS and S3.
//
//	go test -run '^$' -bench BenchmarkSyncReplay -benchtime 2000x ./ingest/
func BenchmarkSyncReplay(b *testing.B) {
	ctx := context.Background()
	js := natstest.JetStream(b)
	if err := topology.Ensure(ctx, js, topology.DefaultOptions(), topology.Modalities); err != nil {
		b.Fatal(err)
	}
	st, err := spaces.NewStore(ctx, js)
	if err != nil {
		b.Fatal(err)
	}
	sp := spaces.Space{Name: "bench", Blocks: []spaces.Block{{Modality: "text", Model: "t@1", Dim: 4, Weight: 1},
		{Modality: "image", Model: "i@1", Dim: 4, Weight: 1}}}
	if err := st.Put(ctx, sp); err != nil {
		b.Fatal(err)
	}
	if err := st.SetActive(ctx, sp.Name, 0); err != nil {
		b.Fatal(err)
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	gw, err := s3gw.Start(ctx, s3gw.Config{Dir: filepath.Join(b.TempDir(), "objects"), Addr: "127.0.0.1:0",
		AccessKey: "benchaccess", SecretKey: "benchsecretbenchsecret", Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = gw.Close() })
	store, err := storage.NewS3Store(ctx, storage.S3Config{Endpoint: gw.Endpoint(), AccessKey: "benchaccess",
		SecretKey: "benchsecretbenchsecret", Bucket: "omnirank", Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	in, err := ingest.New(ctx, js, store, ingest.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	const n = 20
	for i := range n {
		id := fmt.Sprintf("p%02d", i)
		p := storage.Product{ID: id, Title: "Product " + id, Description: "A thing.", Category: []string{"misc"},
			Media: []storage.Media{{Key: "image.png", Kind: "image", ContentType: "image/png"}}}
		data, _ := json.Marshal(p)
		if err := store.PutObject(ctx, storage.MediaKey(id, "image.png"), []byte("not really a png"), "image/png"); err != nil {
			b.Fatal(err)
		}
		if err := store.PutObject(ctx, storage.ProductKey(id), data, "application/json"); err != nil {
			b.Fatal(err)
		}
		if err := in.SyncProduct(ctx, id, 0, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("replay", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if err := in.SyncProduct(ctx, fmt.Sprintf("p%02d", i%n), 0, time.Now()); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("transcript-get", func(b *testing.B) {
		kv, err := js.KeyValue(ctx, topology.BucketTranscripts)
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			if _, err := kv.Get(ctx, fmt.Sprintf("p%02d", i%n)); err == nil {
				b.Fatal("transcript found, want a miss")
			}
			i++
		}
	})
}
