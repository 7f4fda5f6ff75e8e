package storage_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/omnirank/omnirank/storage"
)

func BenchmarkParseProduct(b *testing.B) {
	data := []byte(validJSON)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := storage.ParseProduct(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEvents(b *testing.B) {
	for _, fixture := range []string{"versitygw_put.json", "minio_put.json"} {
		b.Run(fixture, func(b *testing.B) {
			data, err := os.ReadFile(filepath.Join(testdataDir, "events", fixture))
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if evs, err := storage.ParseEvents(data); err != nil || len(evs) != 1 {
					b.Fatal(evs, err)
				}
			}
		})
	}
}

// BenchmarkS3Store measures round trips through minio-go and the embedded
// gateway (loopback HTTP, files on local disk).
func BenchmarkS3Store(b *testing.B) {
	s := newGatewayStore(b, "bench")
	ctx := context.Background()
	for _, size := range []int{1 << 10, 64 << 10, 1 << 20} {
		data := make([]byte, size)
		key := fmt.Sprintf("bench/%d.bin", size)
		b.Run(fmt.Sprintf("Put/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if err := s.PutObject(ctx, key, data, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("Get/%dKiB", size>>10), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				if _, err := s.GetObject(ctx, key, int64(size)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("Stat", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.StatObject(ctx, "bench/1024.bin"); err != nil {
				b.Fatal(err)
			}
		}
	})
}
