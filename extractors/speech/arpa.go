package speech

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// arpaModel is a parsed ARPA file: log10 probabilities and back-off
// weights by n-gram ("w1 w2 …").
type arpaModel struct {
	Counts  []int // declared in \data\, per order
	Prob    map[string]float64
	Backoff map[string]float64
}

// parseARPA reads and checks an ARPA file: the \data\ counts match the
// sections, every probability is a finite log10 ≤ 0 (or -99 for <s>),
// every n-gram has n words and its prefix and suffix exist one order
// below, and the file ends with \end\.
func parseARPA(b []byte) (*arpaModel, error) {
	m := &arpaModel{Prob: map[string]float64{}, Backoff: map[string]float64{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	section := -1 // -1 before \data\, 0 in \data\, n in \n-grams:
	seen := []int{}
	ended := false
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		switch {
		case t == "":
			continue
		case ended:
			return nil, fmt.Errorf("arpa line %d: text after \\end\\", line)
		case t == "\\data\\":
			section = 0
			continue
		case t == "\\end\\":
			ended = true
			continue
		case strings.HasPrefix(t, "\\") && strings.HasSuffix(t, "-grams:"):
			n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(t, "\\"), "-grams:"))
			if err != nil || n < 1 || n > len(m.Counts) {
				return nil, fmt.Errorf("arpa line %d: section %q not declared in \\data\\", line, t)
			}
			if n != len(seen)+1 {
				return nil, fmt.Errorf("arpa line %d: section %d-grams out of order", line, n)
			}
			section = n
			seen = append(seen, 0)
			continue
		}
		switch section {
		case -1:
			return nil, fmt.Errorf("arpa line %d: text before \\data\\", line)
		case 0:
			rest, ok := strings.CutPrefix(t, "ngram ")
			k, v, ok2 := strings.Cut(rest, "=")
			n, err1 := strconv.Atoi(strings.TrimSpace(k))
			c, err2 := strconv.Atoi(strings.TrimSpace(v))
			if !ok || !ok2 || err1 != nil || err2 != nil || n != len(m.Counts)+1 || c < 0 {
				return nil, fmt.Errorf("arpa line %d: bad count line %q", line, t)
			}
			m.Counts = append(m.Counts, c)
			continue
		}
		n := section
		f := strings.Fields(t)
		if len(f) != n+1 && len(f) != n+2 {
			return nil, fmt.Errorf("arpa line %d: %d fields in a %d-gram line", line, len(f), n)
		}
		p, err := strconv.ParseFloat(f[0], 64)
		if err != nil || math.IsNaN(p) || math.IsInf(p, 0) || p > 0 {
			return nil, fmt.Errorf("arpa line %d: probability %q is not a finite log10 ≤ 0", line, f[0])
		}
		g := strings.Join(f[1:n+1], " ")
		if _, dup := m.Prob[g]; dup {
			return nil, fmt.Errorf("arpa line %d: %q listed twice", line, g)
		}
		m.Prob[g] = p
		if len(f) == n+2 {
			bo, err := strconv.ParseFloat(f[n+1], 64)
			if err != nil || math.IsNaN(bo) || math.IsInf(bo, 0) {
				return nil, fmt.Errorf("arpa line %d: back-off weight %q", line, f[n+1])
			}
			if n == len(m.Counts) {
				return nil, fmt.Errorf("arpa line %d: back-off weight on a %d-gram of the highest order", line, n)
			}
			m.Backoff[g] = bo
		}
		if n > 1 {
			for _, sub := range []string{strings.Join(f[1:n], " "), strings.Join(f[2:n+1], " ")} {
				if _, ok := m.Prob[sub]; !ok {
					return nil, fmt.Errorf("arpa line %d: %q lacks its (n-1)-gram %q", line, g, sub)
				}
			}
		}
		seen[n-1]++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("arpa: %w", err)
	}
	if !ended {
		return nil, fmt.Errorf("arpa: no \\end\\")
	}
	if len(m.Counts) == 0 {
		return nil, fmt.Errorf("arpa: no \\data\\ counts")
	}
	if len(seen) != len(m.Counts) {
		return nil, fmt.Errorf("arpa: %d sections for %d declared orders", len(seen), len(m.Counts))
	}
	for i, c := range m.Counts {
		if seen[i] != c {
			return nil, fmt.Errorf("arpa: \\data\\ declares %d %d-grams, the section has %d", c, i+1, seen[i])
		}
	}
	return m, nil
}

// logProb is log10 P(w | history) by the back-off rule.
func (m *arpaModel) logProb(history []string, w string) float64 {
	for len(history) >= len(m.Counts) {
		history = history[1:]
	}
	g := strings.Join(append(append([]string{}, history...), w), " ")
	if p, ok := m.Prob[g]; ok {
		return p
	}
	if len(history) == 0 {
		return math.Inf(-1)
	}
	bo := m.Backoff[strings.Join(history, " ")] // absent: 0 (weight 1)
	return bo + m.logProb(history[1:], w)
}
