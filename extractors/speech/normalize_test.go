package speech

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Red Running Shoes!", "red running shoes"},
		{"3 pack", "three pack"},
		{"42", "forty two"},
		{"100", "one hundred"},
		{"1,250 pieces", "one thousand two hundred fifty pieces"},
		{"2.5 litre", "two point five litre"},
		{"1000000", "one million"},
		{"USB3 hub", "usb three hub"},
		{"4K TV", "four k tv"},
		{"007", "zero zero seven"},
		{"3rd edition", "third edition"},
		{"21st century", "twenty first century"},
		{"20th", "twentieth"},
		{"12th", "twelfth"},
		{"Children's toys", "children's toys"},
		{"don't 'quote'", "don't quote"},
		{"Kids’ shoes", "kids shoes"},
		{"Crème brûlée", "creme brulee"},
		{"T-shirt, 100% cotton", "t shirt one hundred percent cotton"},
		{"salt & pepper", "salt and pepper"},
		{"  ...  ", ""},
		{"end. Next", "end next"},
		{"1234567890123", "one two three four five six seven eight nine zero one two three"},
		{"999999999999", "nine hundred ninety nine billion nine hundred ninety nine million nine hundred ninety nine thousand nine hundred ninety nine"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got := strings.Join(Normalize(c.in), " ")
			if got != c.want {
				t.Fatalf("Normalize(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestWER(t *testing.T) {
	cases := []struct {
		ref, hyp      string
		want          float64
		sub, del, ins int
	}{
		{"red running shoes", "red running shoes", 0, 0, 0, 0},
		{"Red running shoes!", "red running shoes", 0, 0, 0, 0},
		{"red running shoes", "red shoes", 1.0 / 3, 0, 1, 0},
		{"red running shoes", "bed running shoes", 1.0 / 3, 1, 0, 0},
		{"red shoes", "red running shoes", 0.5, 0, 0, 1},
		{"red shoes", "", 1, 0, 2, 0},
		{"", "", 0, 0, 0, 0},
		{"", "noise", 1, 0, 0, 1},
		{"a b", "c d e f", 2, 2, 0, 2},
		{"3 mugs", "three mugs", 0, 0, 0, 0},
	}
	for _, c := range cases {
		got := CountWER(c.ref, c.hyp)
		if w := WER(c.ref, c.hyp); math.Abs(w-c.want) > 1e-9 {
			t.Errorf("WER(%q, %q) = %v, want %v", c.ref, c.hyp, w, c.want)
		}
		if got.Substitutions != c.sub || got.Deletions != c.del || got.Insertions != c.ins {
			t.Errorf("CountWER(%q, %q) = %+v, want %d sub %d del %d ins", c.ref, c.hyp, got, c.sub, c.del, c.ins)
		}
	}
}

func TestSplitSentences(t *testing.T) {
	got := splitSentences("Soft cotton. 2.5 m long; machine washable\nBlue")
	want := []string{"Soft cotton", " 2.5 m long", " machine washable", "Blue"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}
