package g2p

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
)

// entry is one dictionary word with every pronunciation listed for it, in
// the dictionary's order (word, word(2), …).
type entry struct {
	word     string
	variants [][]string
}

// dictionary is a parsed cmudict-format file.
type dictionary struct {
	entries []entry // sorted by word
	skipped int     // words with characters other than a-z and ' (a.m., ad-hoc)
}

// readDict parses cmudict-format text: "word PH PH …" per line, "word(2)"
// for alternates, ";;;" comment lines and blank lines ignored. Words are
// folded to lower case; words with characters other than letters and
// apostrophes are counted as skipped, not errors. A word with no phones is
// a format error.
func readDict(r io.Reader) (*dictionary, error) {
	byWord := map[string][][]string{}
	d := &dictionary{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, ";;;") {
			continue
		}
		fields := strings.Fields(text)
		if len(fields) < 2 {
			return nil, fmt.Errorf("%w: line %d: word %q has no phones", ErrFormat, line, fields[0])
		}
		word := strings.ToLower(fields[0])
		if i := strings.IndexByte(word, '('); i > 0 && strings.HasSuffix(word, ")") {
			word = word[:i]
		}
		if !validWord(word) {
			d.skipped++
			continue
		}
		phones := make([]string, len(fields)-1)
		for i, p := range fields[1:] {
			if strings.ContainsAny(p, "#()") {
				// sphinx dictionaries may carry a trailing "#comment"
				if strings.HasPrefix(p, "#") {
					phones = phones[:i]
					break
				}
				return nil, fmt.Errorf("%w: line %d: bad phone %q", ErrFormat, line, p)
			}
			phones[i] = p
		}
		if len(phones) == 0 {
			return nil, fmt.Errorf("%w: line %d: word %q has no phones", ErrFormat, line, word)
		}
		byWord[word] = append(byWord[word], phones)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("g2p: read dictionary: %w", err)
	}
	if len(byWord) == 0 {
		return nil, fmt.Errorf("%w: no usable words", ErrFormat)
	}
	words := make([]string, 0, len(byWord))
	for w := range byWord {
		words = append(words, w)
	}
	slices.Sort(words)
	d.entries = make([]entry, len(words))
	for i, w := range words {
		d.entries[i] = entry{word: w, variants: byWord[w]}
	}
	return d, nil
}

// validWord: only a-z and apostrophes, with at least one letter.
func validWord(w string) bool {
	letters := 0
	for i := 0; i < len(w); i++ {
		c := w[i]
		switch {
		case c >= 'a' && c <= 'z':
			letters++
		case c == '\'':
		default:
			return false
		}
	}
	return letters > 0
}
