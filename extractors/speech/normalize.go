package speech

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Normalize turns text into the words a recogniser says and hears: lower
// case, accents dropped, numbers as words ("3" → three, "42" → forty two,
// "2.5" → two point five, "1,000" → one thousand, "3rd" → third; numbers
// with a leading zero or over twelve digits digit by digit), letters and
// digits split ("usb3" → usb three), "&" → and, "%" → percent, every other
// punctuation mark a word break (hyphens too), and apostrophes kept inside
// words ("children's", "don't") but not at their ends. Language models,
// queries and WER all use it.
func Normalize(text string) []string {
	var out []string
	for _, tok := range tokenize(text) {
		out = append(out, expand(tok)...)
	}
	return out
}

// tokenize splits folded text into runs of letters, digits and inner
// apostrophes, keeping "2.5" and "1,000" whole and turning & and % into
// words.
func tokenize(text string) []string {
	rs := []rune(fold(text))
	var toks []string
	var cur []rune
	flush := func() {
		// Apostrophes only inside a word.
		for len(cur) > 0 && cur[len(cur)-1] == '\'' {
			cur = cur[:len(cur)-1]
		}
		if len(cur) > 0 {
			toks = append(toks, string(cur))
		}
		cur = cur[:0]
	}
	isDigit := func(i int) bool { return i >= 0 && i < len(rs) && rs[i] >= '0' && rs[i] <= '9' }
	for i, r := range rs {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			cur = append(cur, r)
		case r == '\'':
			if len(cur) > 0 && i+1 < len(rs) && unicode.IsLetter(rs[i+1]) {
				cur = append(cur, r)
			} else {
				flush()
			}
		case r == '.' && isDigit(i-1) && isDigit(i+1) && len(cur) > 0:
			cur = append(cur, r)
		case r == ',' && isDigit(i-1) && isDigit(i+1) && isDigit(i+2) && isDigit(i+3) && !isDigit(i+4) && len(cur) > 0:
			// a thousands separator: skip it
		case r == '&':
			flush()
			toks = append(toks, "and")
		case r == '%':
			flush()
			toks = append(toks, "percent")
		default:
			flush()
		}
	}
	flush()
	return toks
}

// fold lower-cases text, maps typographic apostrophes to ' and drops
// combining marks after compatibility decomposition (é → e, ﬁ → fi).
func fold(text string) string {
	var b strings.Builder
	for _, r := range norm.NFKD.String(text) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == '’' || r == '‘' || r == 'ʼ':
			r = '\''
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// expand turns one token into words: letter and digit runs split, numbers
// spelled out.
func expand(tok string) []string {
	var out []string
	rs := []rune(tok)
	for i := 0; i < len(rs); {
		j := i
		if isNum(rs[i]) {
			for j < len(rs) && (isNum(rs[j]) || rs[j] == '.' || rs[j] == ',') {
				j++
			}
			num := string(rs[i:j])
			// An ordinal suffix: 1st, 22nd, 3rd, 4th.
			if k := j + 2; k == len(rs) && !strings.ContainsAny(num, ".,") {
				if suf := string(rs[j:k]); suf == "st" || suf == "nd" || suf == "rd" || suf == "th" {
					out = append(out, ordinal(numberWords(num))...)
					return out
				}
			}
			out = append(out, numberWords(num)...)
		} else {
			for j < len(rs) && !isNum(rs[j]) {
				j++
			}
			if w := strings.Trim(string(rs[i:j]), "'"); w != "" {
				out = append(out, w)
			}
		}
		i = j
	}
	return out
}

func isNum(r rune) bool { return r >= '0' && r <= '9' }

var (
	ones = []string{"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
		"ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"}
	tens   = []string{"", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"}
	scales = []struct {
		v    int64
		name string
	}{{1_000_000_000, "billion"}, {1_000_000, "million"}, {1000, "thousand"}, {100, "hundred"}}
)

// numberWords spells a digit string: thousands separators removed, a
// decimal point read as "point" followed by its digits one by one.
func numberWords(s string) []string {
	s = strings.ReplaceAll(s, ",", "")
	if whole, frac, ok := strings.Cut(s, "."); ok {
		out := numberWords(whole)
		if frac == "" {
			return out
		}
		out = append(out, "point")
		return append(out, digits(strings.ReplaceAll(frac, ".", ""))...)
	}
	if s == "" {
		return nil
	}
	if len(s) > 12 || (len(s) > 1 && s[0] == '0') {
		return digits(s)
	}
	var n int64
	for _, c := range s {
		n = n*10 + int64(c-'0')
	}
	return cardinal(n)
}

func digits(s string) []string {
	out := make([]string, 0, len(s))
	for _, c := range s {
		out = append(out, ones[c-'0'])
	}
	return out
}

// cardinal spells 0 ≤ n < 10^12 without "and".
func cardinal(n int64) []string {
	if n < 20 {
		return []string{ones[n]}
	}
	if n < 100 {
		out := []string{tens[n/10]}
		if n%10 != 0 {
			out = append(out, ones[n%10])
		}
		return out
	}
	for _, sc := range scales {
		if n >= sc.v {
			out := append(cardinal(n/sc.v), sc.name)
			if n%sc.v != 0 {
				out = append(out, cardinal(n%sc.v)...)
			}
			return out
		}
	}
	return nil // unreachable
}

var ordinals = map[string]string{"one": "first", "two": "second", "three": "third", "five": "fifth",
	"eight": "eighth", "nine": "ninth", "twelve": "twelfth"}

// ordinal turns the last word of a cardinal into its ordinal.
func ordinal(ws []string) []string {
	if len(ws) == 0 {
		return ws
	}
	last := ws[len(ws)-1]
	switch o, ok := ordinals[last]; {
	case ok:
		last = o
	case strings.HasSuffix(last, "y"):
		last = strings.TrimSuffix(last, "y") + "ieth"
	default:
		last += "th"
	}
	ws[len(ws)-1] = last
	return ws
}

// WERCounts are the edit operations between a reference and a hypothesis.
type WERCounts struct {
	Reference     int // words in the reference
	Substitutions int
	Deletions     int
	Insertions    int
}

// Errors is substitutions + deletions + insertions.
func (c WERCounts) Errors() int { return c.Substitutions + c.Deletions + c.Insertions }

// Rate is Errors / Reference; with an empty reference 0 for an empty
// hypothesis and 1 otherwise.
func (c WERCounts) Rate() float64 {
	if c.Reference == 0 {
		if c.Insertions == 0 {
			return 0
		}
		return 1
	}
	return float64(c.Errors()) / float64(c.Reference)
}

// WER is the word error rate of hypothesis against reference, both
// Normalize()d: the Levenshtein distance in words over the reference's
// length (see WERCounts.Rate for an empty reference). It can exceed 1.
func WER(reference, hypothesis string) float64 {
	return CountWER(reference, hypothesis).Rate()
}

// CountWER aligns the Normalize()d words of hypothesis to reference and
// counts the edits of a minimal alignment (substitutions preferred on
// ties).
func CountWER(reference, hypothesis string) WERCounts {
	ref, hyp := Normalize(reference), Normalize(hypothesis)
	type cell struct{ cost, sub, del, ins int }
	prev := make([]cell, len(hyp)+1)
	cur := make([]cell, len(hyp)+1)
	for j := range prev {
		prev[j] = cell{cost: j, ins: j}
	}
	for i := 1; i <= len(ref); i++ {
		cur[0] = cell{cost: i, del: i}
		for j := 1; j <= len(hyp); j++ {
			if ref[i-1] == hyp[j-1] {
				cur[j] = prev[j-1]
				continue
			}
			best := prev[j-1]
			best.cost++
			best.sub++
			if d := prev[j]; d.cost+1 < best.cost {
				best = d
				best.cost++
				best.del++
			}
			if in := cur[j-1]; in.cost+1 < best.cost {
				best = in
				best.cost++
				best.ins++
			}
			cur[j] = best
		}
		prev, cur = cur, prev
	}
	last := prev[len(hyp)]
	return WERCounts{Reference: len(ref), Substitutions: last.sub, Deletions: last.del, Insertions: last.ins}
}
