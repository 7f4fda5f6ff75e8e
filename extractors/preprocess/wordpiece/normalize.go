package wordpiece

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer is the BERT basic tokenisation front end: clean text, space out
// CJK ideographs, lowercase, strip accents.
type normalizer struct {
	clean        bool
	chineseChars bool
	lowercase    bool
	stripAccents bool
}

// isWhitespace reports the characters BERT turns into a plain space: tab,
// newline, carriage return, the Zs space separators and the line / paragraph
// separators.
func isWhitespace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '\u2028', '\u2029':
		return true
	}
	return r > 0x7f && unicode.Is(unicode.Zs, r)
}

// isControl reports the characters BERT drops: control (Cc), format (Cf),
// private-use (Co) and surrogate (Cs) code points, except tab, newline and
// carriage return, which count as whitespace.
func isControl(r rune) bool {
	switch r {
	case '\t', '\n', '\r':
		return false
	}
	if r < 0x80 {
		return r < 0x20 || r == 0x7f
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs)
}

// isPunct reports BERT punctuation: every ASCII non-alphanumeric printable
// character, and every Unicode P* character.
func isPunct(r rune) bool {
	if r < 0x80 {
		return (r >= 0x21 && r <= 0x2f) || (r >= 0x3a && r <= 0x40) || (r >= 0x5b && r <= 0x60) || (r >= 0x7b && r <= 0x7e)
	}
	return unicode.IsPunct(r)
}

// isCJK reports the CJK Unified Ideograph blocks BERT splits into single
// characters (the ranges in Google's original tokenization.py).
func isCJK(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) ||
		(r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) ||
		(r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) ||
		(r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) ||
		(r >= 0x2F800 && r <= 0x2FA1F)
}

// caseIgnorableExtra are the Word_Break MidLetter, MidNumLet and
// Single_Quote characters, which Unicode counts as Case_Ignorable besides
// the Mn, Me, Cf, Lm and Sk categories.
var caseIgnorableExtra = &unicode.RangeTable{R16: []unicode.Range16{
	{Lo: 0x0027, Hi: 0x0027, Stride: 1},
	{Lo: 0x002E, Hi: 0x002E, Stride: 1},
	{Lo: 0x003A, Hi: 0x003A, Stride: 1},
	{Lo: 0x00B7, Hi: 0x00B7, Stride: 1},
	{Lo: 0x0387, Hi: 0x0387, Stride: 1},
	{Lo: 0x055F, Hi: 0x055F, Stride: 1},
	{Lo: 0x05F4, Hi: 0x05F4, Stride: 1},
	{Lo: 0x2018, Hi: 0x2019, Stride: 1},
	{Lo: 0x2024, Hi: 0x2024, Stride: 1},
	{Lo: 0x2027, Hi: 0x2027, Stride: 1},
	{Lo: 0xFE13, Hi: 0xFE13, Stride: 1},
	{Lo: 0xFE52, Hi: 0xFE52, Stride: 1},
	{Lo: 0xFE55, Hi: 0xFE55, Stride: 1},
	{Lo: 0xFF07, Hi: 0xFF07, Stride: 1},
	{Lo: 0xFF0E, Hi: 0xFF0E, Stride: 1},
	{Lo: 0xFF1A, Hi: 0xFF1A, Stride: 1},
}}

func isCaseIgnorable(r rune) bool {
	return unicode.In(r, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk, caseIgnorableExtra)
}

func isCased(r rune) bool {
	return unicode.In(r, unicode.Lu, unicode.Ll, unicode.Lt, unicode.Other_Lowercase, unicode.Other_Uppercase)
}

// finalSigma applies Unicode's Final_Sigma condition to the capital sigma at
// rs[i]: preceded by a cased letter (skipping case-ignorables) and not
// followed by one.
func finalSigma(rs []rune, i int) bool {
	before := false
	for j := i - 1; j >= 0; j-- {
		if isCaseIgnorable(rs[j]) {
			continue
		}
		before = isCased(rs[j])
		break
	}
	if !before {
		return false
	}
	for j := i + 1; j < len(rs); j++ {
		if isCaseIgnorable(rs[j]) {
			continue
		}
		return !isCased(rs[j])
	}
	return true
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// normalize applies the front end to one section of valid UTF-8 text (the
// caller has split off special tokens). Whitespace comes out as ' '.
func (n *normalizer) normalize(s string) string {
	if isASCII(s) {
		return n.normalizeASCII(s)
	}
	rs := make([]rune, 0, len(s))
	for _, r := range s {
		if n.clean {
			if r == 0 || r == unicode.ReplacementChar || isControl(r) {
				continue
			}
			if isWhitespace(r) {
				r = ' '
			}
		}
		if n.chineseChars && isCJK(r) {
			rs = append(rs, ' ', r, ' ')
			continue
		}
		rs = append(rs, r)
	}
	if n.lowercase {
		out := make([]rune, 0, len(rs))
		for i, r := range rs {
			switch r {
			case 'Σ':
				if finalSigma(rs, i) {
					out = append(out, 'ς')
				} else {
					out = append(out, 'σ')
				}
			case 'İ': // full lowercase mapping: i + combining dot above
				out = append(out, 'i', '\u0307')
			default:
				out = append(out, unicode.ToLower(r))
			}
		}
		rs = out
	}
	if !n.stripAccents {
		return string(rs)
	}
	d := norm.NFD.String(string(rs))
	var b strings.Builder
	b.Grow(len(d))
	for _, r := range d {
		if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func (n *normalizer) normalizeASCII(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\t' || c == '\n' || c == '\r':
			if n.clean {
				c = ' '
			}
		case c < 0x20 || c == 0x7f:
			if n.clean {
				continue
			}
		case n.lowercase && c >= 'A' && c <= 'Z':
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b)
}
