// Package console is omnirank's browser console: one HTML page, a script
// and a style sheet embedded in the binary (no CDN, no build step), that
// speak only the JSON/HTTP API (package httpapi). Pages: Search (text,
// image or audio query, filters, MMR, explained results, more/less like
// this), Product (record, media, state, similar products), Pipeline
// (products per state, dead letters, backlogs; refreshed live) and Spaces
// (spaces and the campaign).
package console

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Handler serves the console's files for GET and HEAD; "/" is index.html
// and the pages are routes after the "#" (#/search, #/product/ID…), so any
// other path that is not one of the files is 404.
func Handler() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; connect-src 'self'")
		if r.URL.Path != "/" {
			if _, err := fs.Stat(sub, r.URL.Path[1:]); err != nil {
				http.NotFound(w, r)
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}
