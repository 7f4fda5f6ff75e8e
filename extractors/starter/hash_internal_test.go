package starter

import (
	"hash/fnv"
	"testing"
)

// TestHashIsFNV1a: the inlined hash equals hash/fnv's FNV-1a over
// seed + kind + ":" + feature, the definition starter-text@1 is built on.
func TestHashIsFNV1a(t *testing.T) {
	tok, err := NewHashTokenizer(1<<16, 8)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		kind byte
		s    string
	}{{'w', "shoe"}, {'c', "<sh"}, {'w', ""}, {'c', "é>x"}} {
		h := fnv.New64a()
		_, _ = h.Write([]byte(hashSeed + string(c.kind) + ":" + c.s))
		if want := int64(h.Sum64() & (1<<16 - 1)); tok.id(c.kind, c.s) != want {
			t.Errorf("id(%c, %q) = %d, want %d", c.kind, c.s, tok.id(c.kind, c.s), want)
		}
	}
}
