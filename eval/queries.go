package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Kind is what a query gives the ranker: one input, or mixed for more
// than one.
type Kind string

// The query kinds, in the order tables list them.
const (
	KindText  Kind = "text"
	KindImage Kind = "image"
	KindAudio Kind = "audio"
	KindLike  Kind = "like"
	KindUser  Kind = "user"
	KindMixed Kind = "mixed"
)

// Kinds lists every kind in table order.
func Kinds() []Kind {
	return []Kind{KindText, KindImage, KindAudio, KindLike, KindUser, KindMixed}
}

// ErrBadQueryFile is wrapped by every error about the content of a query
// file.
var ErrBadQueryFile = errors.New("bad query file")

// maxLineBytes bounds one line of a query file.
const maxLineBytes = 1 << 20

// maxLineErrors bounds how many bad lines one error lists.
const maxLineErrors = 20

// Query is one labelled query of a query file.
type Query struct {
	ID   string `json:"id"`
	Text string `json:"text,omitempty"`
	// Image and Audio are paths as written in the file, relative to it.
	Image string   `json:"image,omitempty"`
	Audio string   `json:"audio,omitempty"`
	Like  []string `json:"like,omitempty"`
	User  string   `json:"user,omitempty"`
	// Said is the words spoken in Audio, when it is speech: the reference
	// the transcript's word error rate is measured against (issue 16).
	Said string `json:"said,omitempty"`
	// Relevant lists the product ids the query should find, most relevant
	// first.
	Relevant []string `json:"relevant"`

	// ImagePath and AudioPath are Image and Audio resolved against the
	// file's folder.
	ImagePath string `json:"-"`
	AudioPath string `json:"-"`
}

// Kind is the query's kind: its one input, or mixed.
func (q Query) Kind() Kind {
	var kinds []Kind
	if q.Text != "" {
		kinds = append(kinds, KindText)
	}
	if q.Image != "" {
		kinds = append(kinds, KindImage)
	}
	if q.Audio != "" {
		kinds = append(kinds, KindAudio)
	}
	if len(q.Like) > 0 {
		kinds = append(kinds, KindLike)
	}
	if q.User != "" {
		kinds = append(kinds, KindUser)
	}
	switch len(kinds) {
	case 0:
		return ""
	case 1:
		return kinds[0]
	default:
		return KindMixed
	}
}

// ReadQueryFile reads a labelled query file (see ParseQueries).
func ReadQueryFile(path string) ([]Query, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("query file: %w", err)
	}
	defer f.Close()
	qs, err := ParseQueries(f, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("query file %s: %w", path, err)
	}
	return qs, nil
}

// ParseQueries reads JSONL, one query object per line (blank lines are
// skipped): `id`, one or more of `text`, `image`, `audio` (media paths
// relative to dir), `like` (product ids), `user`, and `relevant` (product
// ids, most relevant first). Every bad line is reported with its number
// and what is wrong; one bad line fails the whole file, so nothing is
// evaluated on a partial set.
func ParseQueries(r io.Reader, dir string) ([]Query, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLineBytes)
	var (
		out     []Query
		errs    []error
		bad     int
		firstAt = map[string]int{}
		line    int
	)
	for sc.Scan() {
		line++
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		q, err := parseQuery(sc.Bytes(), dir)
		if err == nil {
			if prev, dup := firstAt[q.ID]; dup {
				err = fmt.Errorf("duplicate id %q (first on line %d)", q.ID, prev)
			} else {
				firstAt[q.ID] = line
			}
		}
		if err != nil {
			if bad++; bad <= maxLineErrors {
				errs = append(errs, fmt.Errorf("line %d: %w", line, err))
			}
			continue
		}
		out = append(out, q)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			err = fmt.Errorf("line %d: longer than %d bytes", line+1, maxLineBytes)
		}
		return nil, fmt.Errorf("%w: %w", ErrBadQueryFile, err)
	}
	if bad > maxLineErrors {
		errs = append(errs, fmt.Errorf("and %d more bad lines", bad-maxLineErrors))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%w: %d bad lines:\n%w", ErrBadQueryFile, bad, errors.Join(errs...))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no queries", ErrBadQueryFile)
	}
	return out, nil
}

// parseQuery decodes and validates one line.
func parseQuery(data []byte, dir string) (Query, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var q Query
	if err := dec.Decode(&q); err != nil {
		return Query{}, fmt.Errorf("invalid JSON: %w", err)
	}
	if dec.More() {
		return Query{}, errors.New("invalid JSON: more than one value on the line")
	}
	var problems []string
	if strings.TrimSpace(q.ID) == "" {
		problems = append(problems, "missing id")
	}
	if q.Kind() == "" {
		problems = append(problems, "no query input: give one or more of text, image, audio, like, user")
	}
	if len(q.Relevant) == 0 {
		problems = append(problems, "empty relevant: list the product ids the query should find")
	}
	if q.Said != "" && q.Audio == "" {
		problems = append(problems, "said without audio: said is the words spoken in the audio file")
	}
	problems = append(problems, idProblems("relevant", q.Relevant)...)
	problems = append(problems, idProblems("like", q.Like)...)
	for _, id := range q.Relevant {
		for _, l := range q.Like {
			if id == l {
				problems = append(problems, fmt.Sprintf("relevant id %q is also a like example (the ranker never returns its examples)", id))
			}
		}
	}
	for _, m := range []struct {
		field, path string
		resolved    *string
	}{{"image", q.Image, &q.ImagePath}, {"audio", q.Audio, &q.AudioPath}} {
		if m.path == "" {
			continue
		}
		p := m.path
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, filepath.FromSlash(p))
		}
		st, err := os.Stat(p)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("missing media file: %s %q: %v", m.field, m.path, err))
		case !st.Mode().IsRegular():
			problems = append(problems, fmt.Sprintf("missing media file: %s %q is not a regular file", m.field, m.path))
		default:
			*m.resolved = p
		}
	}
	if len(problems) > 0 {
		if q.ID != "" {
			return Query{}, fmt.Errorf("query %q: %s", q.ID, strings.Join(problems, "; "))
		}
		return Query{}, errors.New(strings.Join(problems, "; "))
	}
	return q, nil
}

// idProblems reports empty and repeated ids of a list field.
func idProblems(field string, ids []string) []string {
	var out []string
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		switch {
		case strings.TrimSpace(id) == "":
			out = append(out, fmt.Sprintf("%s[%d] is empty", field, i))
		case seen[id]:
			out = append(out, fmt.Sprintf("%s[%d] %q is listed twice", field, i, id))
		}
		seen[id] = true
	}
	return out
}
