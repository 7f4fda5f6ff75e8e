package httpapi

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/disintegration/imaging"
	_ "golang.org/x/image/webp" // decode WebP media for thumbnails
	"golang.org/x/sync/singleflight"

	"github.com/omnirank/omnirank/extractors/preprocess"
	"github.com/omnirank/omnirank/storage"
)

// MaxThumbnailSize is the largest thumbnail side served, in pixels.
const MaxThumbnailSize = 512

// defaultThumbnailSize is the side of a thumbnail asked for without ?size.
const defaultThumbnailSize = 256

// media serves a product's media objects and their thumbnails.
type media struct {
	store    storage.ObjectStore
	maxBytes int64
	thumbs   *lru
	flight   singleflight.Group
	log      *slog.Logger
}

func newMedia(store storage.ObjectStore, maxBytes, cacheBytes int64, log *slog.Logger) *media {
	if cacheBytes == 0 {
		cacheBytes = DefaultThumbnailCacheBytes
	}
	return &media{store: store, maxBytes: maxBytes, thumbs: newLRU(cacheBytes), log: log}
}

// errNoMedium: the product or the asked-for medium does not exist.
var errNoMedium = errors.New("no such medium")

// find returns the medium of product id of the given kind: the one named
// by key, or the first listed. Only media listed in the product's own
// product.json are found, so a key can never reach outside the product.
func (m *media) find(ctx context.Context, id, kind, key string) (storage.Media, error) {
	if !storage.ValidID(id) {
		return storage.Media{}, fmt.Errorf("product id %q: %w", id, errNoMedium)
	}
	data, err := m.store.GetObject(ctx, storage.ProductKey(id), storage.MaxProductBytes)
	if errors.Is(err, storage.ErrNotFound) {
		return storage.Media{}, fmt.Errorf("product %s: %w", id, errNoMedium)
	}
	if err != nil {
		return storage.Media{}, fmt.Errorf("read product %s: %w", id, err)
	}
	p, err := storage.ParseProduct(data)
	if err != nil {
		return storage.Media{}, fmt.Errorf("product %s: %w (%w)", id, errNoMedium, err)
	}
	for _, md := range p.Media {
		if md.Kind == kind && (key == "" || md.Key == key) {
			return md, nil
		}
	}
	if key != "" {
		return storage.Media{}, fmt.Errorf("product %s has no %s %q: %w", id, kind, key, errNoMedium)
	}
	return storage.Media{}, fmt.Errorf("product %s has no %s: %w", id, kind, errNoMedium)
}

// fetch reads a medium, with its ETag.
func (m *media) fetch(ctx context.Context, id string, md storage.Media) ([]byte, storage.ObjectInfo, error) {
	key := storage.MediaKey(id, md.Key)
	info, err := m.store.StatObject(ctx, key)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			return nil, info, fmt.Errorf("%s: %w", key, errNoMedium)
		}
		return nil, info, err
	}
	data, err := m.store.GetObject(ctx, key, m.maxBytes)
	if errors.Is(err, storage.ErrNotFound) {
		return nil, info, fmt.Errorf("%s: %w", key, errNoMedium)
	}
	return data, info, err
}

// serveKind serves the product's medium of one kind (?key= picks one of
// several) with Range and conditional requests (ETag).
func (m *media) serveKind(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		md, err := m.find(r.Context(), id, kind, r.URL.Query().Get("key"))
		if err != nil {
			m.fail(w, err)
			return
		}
		data, info, err := m.fetch(r.Context(), id, md)
		if err != nil {
			m.fail(w, err)
			return
		}
		w.Header().Set("Content-Type", displayType(kind, md.ContentType, info.ContentType, data))
		w.Header().Set("ETag", strconv.Quote(info.ETag))
		mediaHeaders(w)
		http.ServeContent(w, r, "", info.LastModified, bytes.NewReader(data))
	}
}

// serveThumbnail serves a JPEG that fits in size×size (never enlarged).
func (m *media) serveThumbnail(w http.ResponseWriter, r *http.Request) {
	size := defaultThumbnailSize
	if s := r.URL.Query().Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxThumbnailSize {
			http.Error(w, fmt.Sprintf("size %q: want a whole number of pixels from 1 to %d", s, MaxThumbnailSize), http.StatusBadRequest)
			return
		}
		size = n
	}
	id := r.PathValue("id")
	md, err := m.find(r.Context(), id, "image", r.URL.Query().Get("key"))
	if err != nil {
		m.fail(w, err)
		return
	}
	key := storage.MediaKey(id, md.Key)
	info, err := m.store.StatObject(r.Context(), key)
	if err != nil {
		if errors.Is(err, storage.ErrNotFound) {
			err = fmt.Errorf("%s: %w", key, errNoMedium)
		}
		m.fail(w, err)
		return
	}
	etag := fmt.Sprintf("%s-%d", info.ETag, size)
	cacheKey := key + "\x00" + etag
	thumb, ok := m.thumbs.get(cacheKey)
	if !ok {
		v, err, _ := m.flight.Do(cacheKey, func() (any, error) {
			data, err := m.store.GetObject(context.WithoutCancel(r.Context()), key, m.maxBytes)
			if err != nil {
				return nil, err
			}
			t, err := thumbnail(data, size)
			if err != nil {
				return nil, fmt.Errorf("thumbnail of %s: %w", key, err)
			}
			m.thumbs.add(cacheKey, t)
			return t, nil
		})
		if err != nil {
			m.fail(w, err)
			return
		}
		thumb = v.([]byte)
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("ETag", strconv.Quote(etag))
	mediaHeaders(w)
	http.ServeContent(w, r, "", info.LastModified, bytes.NewReader(thumb))
}

// errUndecodable: the medium is not an image this server can read.
var errUndecodable = errors.New("undecodable image")

// thumbnail decodes an image (pixel limit checked on the header first,
// EXIF orientation applied), fits it in size×size and encodes it as JPEG
// over white.
func thumbnail(data []byte, size int) ([]byte, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", errUndecodable, err)
	}
	if px := int64(cfg.Width) * int64(cfg.Height); px <= 0 || px > preprocess.DefaultMaxPixels {
		return nil, fmt.Errorf("%w: %s image %dx%d outside 1..%d pixels", errUndecodable, format, cfg.Width, cfg.Height, preprocess.DefaultMaxPixels)
	}
	img, err := imaging.Decode(bytes.NewReader(data), imaging.AutoOrientation(true))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errUndecodable, err)
	}
	img = imaging.Fit(img, size, size, imaging.Linear)
	b := img.Bounds()
	flat := imaging.Overlay(imaging.New(b.Dx(), b.Dy(), color.White), img, image.Point{}, 1)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, flat, &jpeg.Options{Quality: 85}); err != nil {
		return nil, fmt.Errorf("encode thumbnail: %w", err)
	}
	return buf.Bytes(), nil
}

// displayType is the Content-Type a medium is served with: the type the
// product declares or the store holds when it is of the medium's kind,
// else what the bytes look like if that is, else application/octet-stream.
// A catalogue can therefore never make the console's origin serve HTML or
// script.
func displayType(kind, declared, stored string, data []byte) string {
	for _, ct := range []string{declared, stored, http.DetectContentType(data)} {
		if mt, _, err := mime.ParseMediaType(ct); err == nil && strings.HasPrefix(mt, kind+"/") {
			return mt
		}
	}
	return "application/octet-stream"
}

// mediaHeaders forbid sniffing and active content in a served medium.
func mediaHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("Cache-Control", "no-cache")
}

// fail answers a media request's error: 404 for what does not exist, 422
// for an image that cannot be decoded, 502 for the store failing.
func (m *media) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, errNoMedium):
		http.Error(w, err.Error(), http.StatusNotFound)
	case errors.Is(err, errUndecodable):
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
	case errors.Is(err, context.Canceled):
		// the client went away
	default:
		m.log.Warn("serve medium", "err", err)
		http.Error(w, "object store: "+err.Error(), http.StatusBadGateway)
	}
}
