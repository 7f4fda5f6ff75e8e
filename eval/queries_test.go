package eval

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// queryDir is a folder with a picture and a clip, for media paths.
func queryDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "media"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"media/cup.png", "media/cup.wav"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func writeQueryFile(t *testing.T, dir, content string) string {
	t.Helper()
	p := filepath.Join(dir, "queries.jsonl")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadQueryFileKinds(t *testing.T) {
	dir := queryDir(t)
	p := writeQueryFile(t, dir, strings.Join([]string{
		`{"id":"t","text":"blue cup","relevant":["cup","mug"]}`,
		``,
		`{"id":"i","image":"media/cup.png","relevant":["cup"]}`,
		`{"id":"a","audio":"media/cup.wav","relevant":["cup"]}`,
		`{"id":"l","like":["mug"],"relevant":["cup"]}`,
		`{"id":"u","user":"u1","relevant":["cup"]}`,
		`{"id":"m","text":"cup","image":"media/cup.png","relevant":["cup"]}`,
	}, "\n")+"\n")
	qs, err := ReadQueryFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var got []Kind
	for _, q := range qs {
		got = append(got, q.Kind())
	}
	if want := []Kind{KindText, KindImage, KindAudio, KindLike, KindUser, KindMixed}; !slices.Equal(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	if qs[1].ImagePath != filepath.Join(dir, "media", "cup.png") || qs[2].AudioPath != filepath.Join(dir, "media", "cup.wav") {
		t.Errorf("media not resolved against the file's folder: %q %q", qs[1].ImagePath, qs[2].AudioPath)
	}
	if !slices.Equal(qs[0].Relevant, []string{"cup", "mug"}) {
		t.Errorf("relevant order lost: %v", qs[0].Relevant)
	}
}

func TestReadQueryFileMalformed(t *testing.T) {
	good := `{"id":"ok","text":"cup","relevant":["cup"]}`
	tests := []struct {
		name    string
		content string
		want    []string // every substring must be in the error
	}{
		{"invalid JSON", good + "\n{\"id\":\"x\",\"text\":\"cup\",", []string{"line 2:", "invalid JSON"}},
		{"two values on a line", good + "\n" + good[:len(good)-1] + `,"id":"b"} {}`, []string{"line 2:", "more than one value"}},
		{"not an object", `["a"]`, []string{"line 1:", "invalid JSON"}},
		{"no query input", `{"id":"x","relevant":["cup"]}`, []string{"line 1:", `query "x"`, "no query input"}},
		{"empty text is no input", `{"id":"x","text":"","relevant":["cup"]}`, []string{"line 1:", "no query input"}},
		{"empty relevant", good + "\n\n" + `{"id":"x","text":"cup","relevant":[]}`, []string{"line 3:", "empty relevant"}},
		{"relevant missing", `{"id":"x","text":"cup"}`, []string{"line 1:", "empty relevant"}},
		{"unknown field", `{"id":"x","txt":"cup","relevant":["cup"]}`, []string{"line 1:", `unknown field "txt"`}},
		{"missing image", `{"id":"x","image":"media/nope.png","relevant":["cup"]}`, []string{"line 1:", "missing media file", `image "media/nope.png"`}},
		{"missing audio", `{"id":"x","audio":"nope.wav","relevant":["cup"]}`, []string{"line 1:", "missing media file", `audio "nope.wav"`}},
		{"media is a folder", `{"id":"x","image":"media","relevant":["cup"]}`, []string{"line 1:", "missing media file", "not a regular file"}},
		{"duplicate id", good + "\n" + good, []string{"line 2:", `duplicate id "ok" (first on line 1)`}},
		{"missing id", `{"text":"cup","relevant":["cup"]}`, []string{"line 1:", "missing id"}},
		{"empty relevant id", `{"id":"x","text":"cup","relevant":["cup",""]}`, []string{"line 1:", "relevant[1] is empty"}},
		{"relevant twice", `{"id":"x","text":"cup","relevant":["cup","cup"]}`, []string{"line 1:", `relevant[1] "cup" is listed twice`}},
		{"empty like id", `{"id":"x","like":[""],"relevant":["cup"]}`, []string{"line 1:", "like[0] is empty"}},
		{"relevant is an example", `{"id":"x","like":["cup"],"relevant":["cup"]}`, []string{"line 1:", `relevant id "cup" is also a like example`}},
		{"wrong type", `{"id":"x","text":"cup","relevant":"cup"}`, []string{"line 1:", "invalid JSON"}},
		{"empty file", "\n\n", []string{"no queries"}},
		{"line too long", good + "\n" + `{"id":"x","text":"` + strings.Repeat("a", maxLineBytes) + `"}`, []string{"line 2:", "longer than"}},
		{"every bad line listed", `{"id":"a"}` + "\n" + good + "\n" + `{"id":"b","text":"x"}`, []string{"2 bad lines", "line 1:", "line 3:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := queryDir(t)
			qs, err := ReadQueryFile(writeQueryFile(t, dir, tt.content))
			if err == nil {
				t.Fatalf("accepted: %+v", qs)
			}
			if qs != nil {
				t.Errorf("returned %d queries with the error; want none", len(qs))
			}
			if !errors.Is(err, ErrBadQueryFile) {
				t.Errorf("error does not wrap ErrBadQueryFile: %v", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !strings.Contains(err.Error(), "queries.jsonl") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func TestReadQueryFileMissing(t *testing.T) {
	_, err := ReadQueryFile(filepath.Join(t.TempDir(), "nope.jsonl"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want not-exist", err)
	}
}
