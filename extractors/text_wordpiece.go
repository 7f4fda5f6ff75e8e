package extractors

import (
	"bytes"
	"context"
	"fmt"
	"unicode/utf8"

	"github.com/omnirank/omnirank/extractors/preprocess/wordpiece"
)

// wordpiecePreparer tokenizes with the BERT WordPiece tokenizer of the
// model folder; long texts become overlapping windows when the manifest
// sets a stride.
func wordpiecePreparer(man Manifest, vocab []byte, maxWindows int) (preparer, error) {
	t := man.Preprocess.Text
	opts := []wordpiece.Option{wordpiece.WithLowercase(t.Lowercase)}
	var (
		tok *wordpiece.Tokenizer
		err error
	)
	if t.Vocab == "tokenizer.json" {
		tok, err = wordpiece.FromTokenizerJSON(bytes.NewReader(vocab), opts...)
	} else {
		tok, err = wordpiece.FromVocab(bytes.NewReader(vocab), opts...)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s tokenizer %s: %v", ErrInvalidModel, man.ID(), t.Vocab, err)
	}
	return func(_ context.Context, data []byte) ([]unit, error) {
		if !utf8.Valid(data) {
			return nil, fmt.Errorf("%w: text is not valid UTF-8", ErrBadInput)
		}
		var (
			encs []wordpiece.Encoding
			err  error
		)
		if t.Stride > 0 {
			encs, err = tok.EncodeWindows(string(data), t.MaxLength, t.Stride)
		} else {
			var e wordpiece.Encoding
			e, err = tok.Encode(string(data), t.MaxLength)
			encs = []wordpiece.Encoding{e}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: tokenize: %v", ErrBadInput, err)
		}
		if len(encs) > maxWindows {
			encs = encs[:maxWindows]
		}
		us := make([]unit, len(encs))
		for i, e := range encs {
			us[i] = unit{ints: e.IDs, types: e.TypeIDs, mask: e.AttentionMask}
		}
		return us, nil
	}, nil
}
