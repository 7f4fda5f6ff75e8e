package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	for _, tc := range []struct {
		method, path string
		code         int
		contentType  string
		body         string
	}{
		{"GET", "/", 200, "text/html", `<script src="app.js"`},
		{"GET", "/app.js", 200, "text/javascript", "function search"},
		{"GET", "/style.css", 200, "text/css", ".result"},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/nothing.js", 404, "", ""},
		{"GET", "/../console.go", 404, "", ""},
		{"POST", "/", 405, "", ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
			if rec.Code != tc.code {
				t.Fatalf("%d, want %d", rec.Code, tc.code)
			}
			if !strings.HasPrefix(rec.Header().Get("Content-Type"), tc.contentType) {
				t.Errorf("Content-Type %q, want %s", rec.Header().Get("Content-Type"), tc.contentType)
			}
			if !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("body lacks %q", tc.body)
			}
			if tc.code == http.StatusOK && !strings.Contains(rec.Header().Get("Content-Security-Policy"), "default-src 'self'") {
				t.Errorf("no CSP: %q", rec.Header().Get("Content-Security-Policy"))
			}
		})
	}
}

// The console is offline: no asset names another origin.
func TestNoExternalReferences(t *testing.T) {
	for _, name := range []string{"static/index.html", "static/app.js", "static/style.css"} {
		data, err := static.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn", "@import"} {
			if strings.Contains(string(data), bad) {
				t.Errorf("%s references %q", name, bad)
			}
		}
	}
}
