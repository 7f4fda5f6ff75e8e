package storage_test

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/storage"
)

const validJSON = `{
  "id": "sku-42.blue_L",
  "title": "Trail running shoe",
  "description": "Light shoe with a grippy sole.",
  "category": ["Sports", "Running", "Shoes"],
  "brand": "Acme",
  "price": 89.9,
  "currency": "EUR",
  "attributes": {"colour": "blue", "size": "L"},
  "media": [
    {"key": "front.jpg", "kind": "image", "content_type": "image/jpeg"},
    {"key": "img/side.png", "kind": "image"},
    {"key": "audio/review.wav", "kind": "audio", "content_type": "audio/wav"}
  ]
}`

func validProduct() *storage.Product {
	return &storage.Product{
		ID: "sku-42.blue_L", Title: "Trail running shoe", Description: "Light shoe with a grippy sole.",
		Category: []string{"Sports", "Running", "Shoes"}, Brand: "Acme", Price: 89.9, Currency: "EUR",
		Attributes: map[string]string{"colour": "blue", "size": "L"},
		Media: []storage.Media{
			{Key: "front.jpg", Kind: "image", ContentType: "image/jpeg"},
			{Key: "img/side.png", Kind: "image"},
			{Key: "audio/review.wav", Kind: "audio", ContentType: "audio/wav"},
		},
	}
}

func TestParseProductValid(t *testing.T) {
	tests := []struct {
		name string
		data string
		want *storage.Product
	}{
		{"full", validJSON, validProduct()},
		{"minimal", `{"id":"a","title":"T"}`, &storage.Product{ID: "a", Title: "T"}},
		{"free product without currency", `{"id":"a","title":"T","price":0}`, &storage.Product{ID: "a", Title: "T"}},
		{"trailing whitespace", "{\"id\":\"a\",\"title\":\"T\"}\n\t \n", &storage.Product{ID: "a", Title: "T"}},
		{"unicode title", `{"id":"a","title":"Café ☕ \u00e9"}`, &storage.Product{ID: "a", Title: "Café ☕ é"}},
		{"max id", `{"id":"` + strings.Repeat("x", 128) + `","title":"T"}`, &storage.Product{ID: strings.Repeat("x", 128), Title: "T"}},
		{"title at limit", `{"id":"a","title":"` + strings.Repeat("é", 500) + `"}`, &storage.Product{ID: "a", Title: strings.Repeat("é", 500)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := storage.ParseProduct([]byte(tc.data))
			if err != nil {
				t.Fatalf("ParseProduct: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// mutate returns the valid product JSON with fn applied to a decoded copy.
func withProduct(fn func(p *storage.Product)) *storage.Product {
	p := validProduct()
	fn(p)
	return p
}

func TestValidateProblems(t *testing.T) {
	manyAttrs := map[string]string{}
	for i := range 101 {
		manyAttrs[fmt.Sprintf("k%03d", i)] = "v"
	}
	manyMedia := make([]storage.Media, 33)
	for i := range manyMedia {
		manyMedia[i] = storage.Media{Key: fmt.Sprintf("m%d.jpg", i), Kind: "image"}
	}
	tests := []struct {
		name string
		p    *storage.Product
		want []string // substrings, one per expected problem, in order
	}{
		{"missing id", withProduct(func(p *storage.Product) { p.ID = "" }), []string{"missing id"}},
		{"id with slash", withProduct(func(p *storage.Product) { p.ID = "a/b" }), []string{`id "a/b" is invalid`}},
		{"id starting with dot", withProduct(func(p *storage.Product) { p.ID = ".hidden" }), []string{"is invalid"}},
		{"id too long", withProduct(func(p *storage.Product) { p.ID = strings.Repeat("x", 129) }), []string{"is invalid"}},
		{"id with space", withProduct(func(p *storage.Product) { p.ID = "a b" }), []string{"is invalid"}},
		{"missing title", withProduct(func(p *storage.Product) { p.Title = "" }), []string{"missing title"}},
		{"blank title", withProduct(func(p *storage.Product) { p.Title = " \t" }), []string{"missing title"}},
		{"long title", withProduct(func(p *storage.Product) { p.Title = strings.Repeat("a", 501) }), []string{"title is 501 characters, limit 500"}},
		{"title control char", withProduct(func(p *storage.Product) { p.Title = "a\x00b" }), []string{"title has a control character at byte 1"}},
		{"oversize description", withProduct(func(p *storage.Product) { p.Description = strings.Repeat("d", 32<<10+1) }), []string{"description is 32769 bytes, limit 32768"}},
		{"invalid utf8 description", withProduct(func(p *storage.Product) { p.Description = "ok\xff" }), []string{"description is not valid UTF-8"}},
		{"long brand", withProduct(func(p *storage.Product) { p.Brand = strings.Repeat("b", 201) }), []string{"brand is 201 characters"}},
		{"empty category level", withProduct(func(p *storage.Product) { p.Category = []string{"A", "", "C"} }), []string{"category[1] is empty"}},
		{"long category", withProduct(func(p *storage.Product) { p.Category = []string{strings.Repeat("c", 101)} }), []string{"category[0] is 101 characters"}},
		{"deep category", withProduct(func(p *storage.Product) { p.Category = strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",") }), []string{"category has 11 levels, limit 10"}},
		{"negative price", withProduct(func(p *storage.Product) { p.Price = -1 }), []string{"price -1 is negative"}},
		{"NaN price", withProduct(func(p *storage.Product) { p.Price = math.NaN() }), []string{"price NaN is not a number"}},
		{"Inf price", withProduct(func(p *storage.Product) { p.Price = math.Inf(1) }), []string{"price +Inf is not a number"}},
		{"price without currency", withProduct(func(p *storage.Product) { p.Currency = "" }), []string{"missing currency"}},
		{"lower-case currency", withProduct(func(p *storage.Product) { p.Currency = "eur" }), []string{`currency "eur" is not 3 upper-case letters`}},
		{"long currency", withProduct(func(p *storage.Product) { p.Currency = "EURO" }), []string{`currency "EURO"`}},
		{"currency without price still checked", withProduct(func(p *storage.Product) { p.Price = 0; p.Currency = "€" }), []string{`currency "€"`}},
		{"too many attributes", withProduct(func(p *storage.Product) { p.Attributes = manyAttrs }), []string{"101 attributes, limit 100"}},
		{"long attribute name", withProduct(func(p *storage.Product) { p.Attributes = map[string]string{strings.Repeat("k", 101): "v"} }), []string{"is 101 characters, limit 100"}},
		{"empty attribute name", withProduct(func(p *storage.Product) { p.Attributes = map[string]string{"": "v"} }), []string{"attribute with an empty name"}},
		{"long attribute value", withProduct(func(p *storage.Product) { p.Attributes = map[string]string{"k": strings.Repeat("v", 1001)} }), []string{`attribute "k" is 1001 characters, limit 1000`}},
		{"media kind video", withProduct(func(p *storage.Product) { p.Media[1].Kind = "video" }), []string{`media[1] kind "video" is not image or audio`}},
		{"media kind missing", withProduct(func(p *storage.Product) { p.Media[0].Kind = "" }), []string{"media[0] is missing its kind"}},
		{"image marked as speech", withProduct(func(p *storage.Product) { p.Media[0].Kind, p.Media[0].Speech = "image", true }), []string{"media[0] is an image marked as speech"}},
		{"media key empty", withProduct(func(p *storage.Product) { p.Media[0].Key = "" }), []string{`media[0] key "" is empty`}},
		{"media key absolute", withProduct(func(p *storage.Product) { p.Media[0].Key = "/etc/passwd" }), []string{"is absolute"}},
		{"media key dotdot", withProduct(func(p *storage.Product) { p.Media[0].Key = "../p2/front.jpg" }), []string{`contains ".."`}},
		{"media key dotdot inside", withProduct(func(p *storage.Product) { p.Media[0].Key = "img/../../x.jpg" }), []string{`contains ".."`}},
		{"media key not clean", withProduct(func(p *storage.Product) { p.Media[0].Key = "img//a.jpg" }), []string{"is not a clean path"}},
		{"media key backslash", withProduct(func(p *storage.Product) { p.Media[0].Key = `img\a.jpg` }), []string{"contains a backslash"}},
		{"media key is the record", withProduct(func(p *storage.Product) { p.Media[0].Key = "product.json" }), []string{"names the product record itself"}},
		{"duplicate media", withProduct(func(p *storage.Product) { p.Media[2].Key = "front.jpg"; p.Media[2].Kind = "image" }), []string{`media[2] key "front.jpg" duplicates media[0]`}},
		{"too many media", withProduct(func(p *storage.Product) { p.Media = manyMedia }), []string{"33 media, limit 32"}},
		{"long content type", withProduct(func(p *storage.Product) { p.Media[0].ContentType = strings.Repeat("x", 256) }), []string{"content_type is 256 bytes"}},
		{"several at once", withProduct(func(p *storage.Product) { p.ID = ""; p.Title = ""; p.Price = -2; p.Media[1].Kind = "pdf" }),
			[]string{"missing id", "missing title", "price -2 is negative", `media[1] kind "pdf"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			var ve *storage.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			if !errors.Is(err, storage.ErrInvalidProduct) {
				t.Error("errors.Is(err, ErrInvalidProduct) is false")
			}
			if ve.ProductID != tc.p.ID {
				t.Errorf("ProductID = %q, want %q", ve.ProductID, tc.p.ID)
			}
			if len(ve.Problems) != len(tc.want) {
				t.Fatalf("problems %q, want %d matching %q", ve.Problems, len(tc.want), tc.want)
			}
			for i, w := range tc.want {
				if !strings.Contains(ve.Problems[i], w) {
					t.Errorf("problem %d = %q, want it to contain %q", i, ve.Problems[i], w)
				}
				if !strings.Contains(err.Error(), ve.Problems[i]) {
					t.Errorf("Error() %q omits problem %q", err.Error(), ve.Problems[i])
				}
			}
			if tc.p.ID != "" && len(tc.p.ID) < 100 && !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.p.ID)) {
				t.Errorf("Error() %q does not name product %q", err.Error(), tc.p.ID)
			}
			// The same record through ParseProduct gives the same problems
			// (NaN and Inf cannot be written in JSON).
			if math.IsNaN(tc.p.Price) || math.IsInf(tc.p.Price, 0) {
				return
			}
			data, merr := storage.MarshalProduct(tc.p)
			if merr == nil {
				t.Fatalf("MarshalProduct accepted an invalid product: %s", data)
			}
		})
	}
	if err := validProduct().Validate(); err != nil {
		t.Errorf("valid product: %v", err)
	}
	var nilP *storage.Product
	if err := nilP.Validate(); !errors.Is(err, storage.ErrInvalidProduct) {
		t.Errorf("nil product: %v", err)
	}
}

func TestParseProductRejects(t *testing.T) {
	big := `{"id":"a","title":"T","description":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name   string
		data   string
		wantID string
		want   string
	}{
		{"empty", ``, "", "empty record"},
		{"whitespace only", "  \n", "", "empty record"},
		{"invalid utf8 in title", "{\"id\":\"a\",\"title\":\"ab\xffc\"}", "", "invalid UTF-8 at byte 21"},
		{"invalid utf8 in key", "{\"id\xc3\":\"a\"}", "", "invalid UTF-8 at byte 4"},
		{"syntax error", `{"id":"a", "title": }`, "", "malformed JSON at byte 21"},
		{"truncated", `{"id":"a","title":"T"`, "", "malformed JSON at byte"},
		{"array instead of object", `[1,2]`, "", "malformed JSON at byte 1: the record must be an object"},
		{"string instead of object", `"hello"`, "", "must be an object"},
		{"price is a string", `{"id":"a","title":"T","price":"12"}`, "a", "price must be a number"},
		{"category is a string", `{"id":"a","title":"T","category":"Shoes"}`, "a", "category must be an array"},
		{"unknown field", `{"id":"a","title":"T","colour":"red"}`, "a", `unknown field "colour"`},
		{"number out of range", `{"id":"a","title":"T","price":1e400}`, "a", "price must be a number"},
		{"trailing object", `{"id":"a","title":"T"}{"id":"b"}`, "a", "trailing data after the JSON object at byte 22"},
		{"trailing garbage", `{"id":"a","title":"T"} xyz`, "a", "trailing data"},
		{"too big", big, "", "limit 1048576"},
		{"invalid field values", `{"id":"../etc","title":"","price":-3}`, "../etc", "4 problems"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := storage.ParseProduct([]byte(tc.data))
			if err == nil {
				t.Fatalf("ParseProduct accepted it: %+v", p)
			}
			var ve *storage.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err %v (%T) is not a *ValidationError", err, err)
			}
			if p != nil {
				t.Error("a product returned with the error")
			}
			if ve.ProductID != tc.wantID {
				t.Errorf("ProductID = %q, want %q", ve.ProductID, tc.wantID)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestMarshalProductRoundTrip(t *testing.T) {
	tests := []*storage.Product{
		validProduct(),
		{ID: "x", Title: "<b>Tom & Jerry</b> mug"},
		{ID: "y", Title: "Free", Attributes: map[string]string{"z": "1", "a": "2"}},
	}
	for _, p := range tests {
		t.Run(p.ID, func(t *testing.T) {
			data, err := storage.MarshalProduct(p)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(string(data), "}\n") {
				t.Errorf("output does not end with a newline: %q", data)
			}
			if strings.Contains(string(data), `\u0026`) {
				t.Errorf("HTML characters escaped: %s", data)
			}
			back, err := storage.ParseProduct(data)
			if err != nil {
				t.Fatalf("ParseProduct(MarshalProduct): %v\n%s", err, data)
			}
			if !reflect.DeepEqual(back, p) {
				t.Errorf("round trip changed the product:\n%+v\n%+v", back, p)
			}
			again, _ := storage.MarshalProduct(back)
			if string(again) != string(data) {
				t.Error("MarshalProduct is not deterministic")
			}
		})
	}
}

func TestProductIDFromKey(t *testing.T) {
	tests := []struct {
		key      string
		id, file string
		ok       bool
	}{
		{"products/p1/product.json", "p1", "product.json", true},
		{"products/p1/img/front.jpg", "p1", "img/front.jpg", true},
		{"products/sku-9.b_c/a", "sku-9.b_c", "a", true},
		{"products/p1/", "", "", false},
		{"products/p1", "", "", false},
		{"products/", "", "", false},
		{"products//x.jpg", "", "", false},
		{"products/.x/product.json", "", "", false},
		{"products/a b/product.json", "", "", false},
		{"products/p1/img/", "", "", false},
		{"models/text/1/model.onnx", "", "", false},
		{"product/p1/product.json", "", "", false},
		{"", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			id, file, ok := storage.ProductIDFromKey(tc.key)
			if id != tc.id || file != tc.file || ok != tc.ok {
				t.Errorf("ProductIDFromKey(%q) = %q, %q, %v; want %q, %q, %v", tc.key, id, file, ok, tc.id, tc.file, tc.ok)
			}
			if ok {
				if got := storage.MediaKey(id, file); got != tc.key {
					t.Errorf("MediaKey(%q, %q) = %q, want %q", id, file, got, tc.key)
				}
			}
			if want := tc.ok && tc.file == storage.ProductFile; storage.IsProductRecordKey(tc.key) != want {
				t.Errorf("IsProductRecordKey(%q) = %v, want %v", tc.key, !want, want)
			}
		})
	}
}

func FuzzParseProduct(f *testing.F) {
	for _, s := range []string{
		validJSON,
		`{"id":"a","title":"T"}`,
		`{"id":"a","title":"T","price":1e400}`,
		`{"id":"a","title":"T"} x`,
		"{\"id\":\"a\xff\"}",
		`{"id":"a","title":"T","media":[{"key":"../x","kind":"video"}]}`,
		`{"id":"a","title":"T","attributes":{"k":"v"},"category":["a",""]}`,
		`[]`, `null`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := storage.ParseProduct(data)
		if err != nil {
			var ve *storage.ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("error %v is not a *ValidationError with problems", err)
			}
			if p != nil {
				t.Fatal("product returned with an error")
			}
			return
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("parsed product fails Validate: %v", err)
		}
		out, err := storage.MarshalProduct(p)
		if err != nil {
			t.Fatalf("MarshalProduct of a parsed product: %v", err)
		}
		back, err := storage.ParseProduct(out)
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, p) {
			t.Fatalf("round trip changed the product:\n%+v\n%+v", back, p)
		}
	})
}
