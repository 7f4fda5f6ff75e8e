package speech

import (
	"testing"

	"github.com/omnirank/omnirank/extractors/preprocess"
	"github.com/omnirank/omnirank/internal/speechtest"
)

// titles is a small catalogue for the recognition tests.
var titles = []string{
	"Red running shoes", "Velvet sofa", "Wooden chess set", "Stainless steel water bottle",
	"Leather wallet for men", "Wireless noise cancelling headphones", "Organic green tea",
	"Ceramic coffee mug", "Cotton bath towel", "Yoga mat with carrying strap", "Children's wooden building blocks",
	"Cast iron frying pan", "Blue denim jacket", "Garden hose with spray nozzle", "Desk lamp with USB charger",
	"Waterproof hiking backpack", "Silver pearl necklace", "Electric toothbrush", "Bamboo cutting board",
	"Wool winter scarf", "Smart fitness watch", "Bluetooth portable speaker", "Glass flower vase",
	"Kids rain boots", "Chef knife with wooden handle", "Scented soy candle", "Acoustic guitar strings",
	"Memory foam pillow", "Vintage film camera", "Stainless steel chef knife 8 inch",
}

// speak says text with espeak-ng (voice and words per minute) and returns
// the WAV bytes; it skips the test when espeak-ng is missing.
func speak(t testing.TB, text, voice string, speed int) []byte {
	t.Helper()
	return speechtest.Say(t, text, voice, speed)
}

// pcm16k decodes WAV bytes to 16 kHz mono with the project's decoder.
func pcm16k(t testing.TB, wav []byte) []float32 {
	t.Helper()
	s, err := preprocess.DecodeAudio(wav, preprocess.AudioSpec{SampleRate: SampleRate})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// needSphinx skips the test when PocketSphinx or its model is missing.
func needSphinx(t testing.TB) {
	t.Helper()
	if err := Available(); err != nil {
		t.Skipf("PocketSphinx not usable here: %v (make deps installs libpocketsphinx-dev and pocketsphinx-en-us)", err)
	}
}
