package wordpiece

import (
	"strings"
	"testing"
)

// BenchmarkEncode reports throughput over the golden sentences (mixed
// scripts) and over plain ASCII product titles.
func BenchmarkEncode(b *testing.B) {
	tok := loadBERT(b)
	var mixed []string
	for _, g := range loadGolden(b) {
		mixed = append(mixed, g.Text)
	}
	titles := []string{
		"Samsung Galaxy S23 Ultra 256GB Phantom Black (Unlocked)",
		"Nike Air Max 90 Men's Running Shoes - Size 10.5",
		"Organic Fair-Trade Coffee Beans, 2 lb (907 g), Dark Roast",
		"Sony WH-1000XM5 Wireless Noise-Cancelling Headphones",
		"KitchenAid Artisan 5-Qt. Stand Mixer KSM150PSER, Empire Red",
	}
	for _, set := range []struct {
		name  string
		texts []string
	}{{"golden-mixed", mixed}, {"ascii-titles", titles}} {
		b.Run(set.name, func(b *testing.B) {
			n := 0
			for _, s := range set.texts {
				n += len(s)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				for _, s := range set.texts {
					if _, err := tok.Encode(s, 512); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(set.texts))/b.Elapsed().Seconds(), "sentences/s")
		})
	}
	long := strings.Repeat("wireless bluetooth headphones with noise cancelling, 30h battery. ", 2000)
	b.Run("truncate-130KB-to-128", func(b *testing.B) {
		for b.Loop() {
			if _, err := tok.Encode(long, 128); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		loadBERT(b)
	}
}
