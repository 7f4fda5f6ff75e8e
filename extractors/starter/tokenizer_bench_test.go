package starter_test

import (
	"testing"

	"github.com/omnirank/omnirank/extractors/starter"
)

// BenchmarkFeatures: starter-hash tokenisation of one product title.
func BenchmarkFeatures(b *testing.B) {
	tok, err := starter.NewHashTokenizer(starter.TextBuckets, starter.TextMaxLength)
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, text string }{
		{"ascii", "Wireless noise-cancelling headphones, black, with USB-C charging case and travel bag"},
		{"accents", "Crème brûlée caramelising torch for the pâtissier, refillable, with safety lock"},
	} {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, _, err := tok.Features(c.text); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
