package s3gw

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// CredentialsFile is the file, inside the data directory, that keeps the
// embedded gateway's root credentials.
const CredentialsFile = "s3-credentials.json"

// ErrBadCredentialsFile marks a credentials file that exists but cannot be
// used (malformed JSON, empty keys). It is never overwritten automatically.
var ErrBadCredentialsFile = errors.New("s3gw: bad credentials file")

type credentialsJSON struct {
	AccessKey string `json:"access_key"`
	SecretKey string `json:"secret_key"`
}

// LoadOrCreateCredentials returns the root credentials kept in
// <dataDir>/s3-credentials.json, generating random ones (20-character access
// key, 40-character secret, from crypto/rand) and writing the file with mode
// 0600 the first time. The data directory is created (0700) if missing.
// Concurrent first calls from several processes agree on one pair: the file
// is created exclusively and the loser reads the winner's.
func LoadOrCreateCredentials(dataDir string) (access, secret string, err error) {
	if dataDir == "" {
		return "", "", fmt.Errorf("%w: empty data directory", ErrInvalidConfig)
	}
	path := filepath.Join(dataDir, CredentialsFile)
	if a, s, err := readCredentials(path); err == nil {
		return a, s, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", "", err
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return "", "", fmt.Errorf("create data dir %s: %w", dataDir, err)
	}
	c := credentialsJSON{
		AccessKey: randomString(20, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"),
		SecretKey: randomString(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"),
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", "", fmt.Errorf("encode credentials: %w", err)
	}
	// Write to a temporary file, then link it into place: the final name
	// appears only complete, and only once (link fails if it exists).
	tmp, err := os.CreateTemp(dataDir, ".s3-credentials-*")
	if err != nil {
		return "", "", fmt.Errorf("write credentials %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("write credentials %s: %w", path, err)
	}
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("write credentials %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", "", fmt.Errorf("write credentials %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return "", "", fmt.Errorf("write credentials %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readCredentials(path)
		}
		return "", "", fmt.Errorf("write credentials %s: %w", path, err)
	}
	return c.AccessKey, c.SecretKey, nil
}

func readCredentials(path string) (string, string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("read credentials %s: %w", path, err)
	}
	var c credentialsJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return "", "", fmt.Errorf("%w: %s: %v", ErrBadCredentialsFile, path, err)
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return "", "", fmt.Errorf("%w: %s: access_key and secret_key must be set", ErrBadCredentialsFile, path)
	}
	return c.AccessKey, c.SecretKey, nil
}

// randomString draws n characters uniformly from alphabet (length ≤ 256)
// with crypto/rand, by rejection sampling.
func randomString(n int, alphabet string) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		rand.Read(buf) // never fails (crypto/rand, Go ≥ 1.24)
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, alphabet[int(b)%len(alphabet)])
			}
		}
	}
	return string(out)
}
