package lexical

import "slices"

// minFuzzyTerm is the shortest dictionary word offered as a spelling
// neighbour through its one-letter deletions.
const minFuzzyTerm = 3

// dictionary finds the indexed words one edit away from a word, by
// one-letter deletions (the symmetric-delete method): two words within one
// insertion, deletion, substitution or adjacent transposition of each
// other are equal, or one is a deletion of the other, or they share a
// deletion; candidates are then checked exactly.
type dictionary struct {
	// refs counts the fields whose postings hold each word.
	refs map[string]int
	// dels maps a one-letter deletion to the words it comes from.
	dels map[string][]string
}

func newDictionary() *dictionary {
	return &dictionary{refs: map[string]int{}, dels: map[string][]string{}}
}

// deletions returns the distinct one-letter deletions of w.
func deletions(w string) []string {
	r := []rune(w)
	out := make([]string, 0, len(r))
	for i := range r {
		d := string(r[:i]) + string(r[i+1:])
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out
}

func (d *dictionary) add(w string) {
	d.refs[w]++
	if d.refs[w] > 1 || len([]rune(w)) < minFuzzyTerm {
		return
	}
	for _, del := range deletions(w) {
		d.dels[del] = append(d.dels[del], w)
	}
}

func (d *dictionary) remove(w string) {
	d.refs[w]--
	if d.refs[w] > 0 {
		return
	}
	delete(d.refs, w)
	if len([]rune(w)) < minFuzzyTerm {
		return
	}
	for _, del := range deletions(w) {
		ws := d.dels[del]
		if i := slices.Index(ws, w); i >= 0 {
			ws[i] = ws[len(ws)-1]
			ws = ws[:len(ws)-1]
		}
		if len(ws) == 0 {
			delete(d.dels, del)
		} else {
			d.dels[del] = ws
		}
	}
}

// neighbours returns the indexed words one edit away from w (w itself
// excluded).
func (d *dictionary) neighbours(w string) []string {
	var out []string
	consider := func(c string) {
		if c != w && !slices.Contains(out, c) && oneEdit(w, c) {
			out = append(out, c)
		}
	}
	for _, c := range d.dels[w] { // w plus one letter
		consider(c)
	}
	for _, del := range deletions(w) {
		if d.refs[del] > 0 { // w less one letter
			consider(del)
		}
		for _, c := range d.dels[del] { // one letter changed or swapped
			consider(c)
		}
	}
	return out
}

// oneEdit reports whether a and b differ by exactly one insertion,
// deletion, substitution or transposition of adjacent letters.
func oneEdit(a, b string) bool {
	x, y := []rune(a), []rune(b)
	if len(x) < len(y) {
		x, y = y, x
	}
	switch len(x) - len(y) {
	case 0:
		var diff []int
		for i := range x {
			if x[i] != y[i] {
				diff = append(diff, i)
				if len(diff) > 2 {
					return false
				}
			}
		}
		switch len(diff) {
		case 1:
			return true
		case 2:
			i, j := diff[0], diff[1]
			return j == i+1 && x[i] == y[j] && x[j] == y[i]
		}
		return false
	case 1:
		i := 0
		for i < len(y) && x[i] == y[i] {
			i++
		}
		return slices.Equal(x[i+1:], y[i:])
	}
	return false
}
