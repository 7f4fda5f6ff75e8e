package extractors

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ModelStore is the part of the object store the registry needs to load and
// register models. storage.ObjectStore satisfies it; DirStore is a local
// folder implementation for tools and tests.
type ModelStore interface {
	// GetObject returns the content of key, failing when it is bigger than
	// maxBytes.
	GetObject(ctx context.Context, key string, maxBytes int64) ([]byte, error)
	// PutObject stores data under key.
	PutObject(ctx context.Context, key string, data []byte, contentType string) error
	// List returns every key starting with prefix, recursively.
	List(ctx context.Context, prefix string) ([]string, error)
}

// DirStore is a ModelStore over a local folder: key k is the file root/k.
type DirStore struct {
	root string
}

// NewDirStore makes a DirStore rooted at root (created if missing).
func NewDirStore(root string) (*DirStore, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("dir store %s: %w", root, err)
	}
	return &DirStore{root: root}, nil
}

func (d *DirStore) path(key string) (string, error) {
	clean := filepath.ToSlash(filepath.Clean(key))
	if key == "" || strings.HasPrefix(clean, "../") || clean == ".." || filepath.IsAbs(key) {
		return "", fmt.Errorf("dir store: key %q escapes the root", key)
	}
	return filepath.Join(d.root, filepath.FromSlash(clean)), nil
}

// GetObject reads root/key.
func (d *DirStore) GetObject(ctx context.Context, key string, maxBytes int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := d.path(key)
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if maxBytes > 0 && st.Size() > maxBytes {
		return nil, fmt.Errorf("get %s: %d bytes is over the limit of %d", key, st.Size(), maxBytes)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return b, nil
}

// PutObject writes root/key atomically (temp file and rename).
func (d *DirStore) PutObject(ctx context.Context, key string, data []byte, _ string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	_, werr := f.Write(data)
	cerr := f.Close()
	if err := errors.Join(werr, cerr); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

// List returns the keys under prefix in lexical order.
func (d *DirStore) List(ctx context.Context, prefix string) ([]string, error) {
	var keys []string
	err := filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() || strings.HasPrefix(e.Name(), ".put-") {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		if k := filepath.ToSlash(rel); strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}
