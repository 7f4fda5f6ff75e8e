package s3gw_test

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/omnirank/omnirank/storage/s3gw"
)

func TestLoadOrCreateCredentials(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	a1, s1, err := s3gw.LoadOrCreateCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(a1) != 20 || len(s1) != 40 {
		t.Errorf("generated key lengths %d/%d, want 20/40", len(a1), len(s1))
	}
	st, err := os.Stat(filepath.Join(dir, s3gw.CredentialsFile))
	if err != nil {
		t.Fatal(err)
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		t.Errorf("credentials file mode %o, want 600", perm)
	}
	a2, s2, err := s3gw.LoadOrCreateCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a1 != a2 || s1 != s2 {
		t.Error("second call returned other credentials")
	}
	// A different data dir gets different random credentials.
	a3, s3, err := s3gw.LoadOrCreateCredentials(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if a3 == a1 || s3 == s1 {
		t.Error("two data dirs share credentials")
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".s3-credentials-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

func TestLoadOrCreateCredentialsConcurrentCallersAgree(t *testing.T) {
	dir := t.TempDir()
	const n = 8
	type pair struct{ a, s string }
	got := make([]pair, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			a, s, err := s3gw.LoadOrCreateCredentials(dir)
			if err != nil {
				t.Error(err)
			}
			got[i] = pair{a, s}
		})
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if got[i] != got[0] {
			t.Fatalf("caller %d got other credentials than caller 0", i)
		}
	}
}

func TestLoadOrCreateCredentialsBadFile(t *testing.T) {
	tests := []struct {
		name, content string
	}{
		{"not json", "access=abc\n"},
		{"empty keys", `{"access_key":"","secret_key":""}`},
		{"missing secret", `{"access_key":"ABC"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, s3gw.CredentialsFile)
			if err := os.WriteFile(path, []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := s3gw.LoadOrCreateCredentials(dir)
			if !errors.Is(err, s3gw.ErrBadCredentialsFile) {
				t.Fatalf("err = %v, want ErrBadCredentialsFile", err)
			}
			if b, _ := os.ReadFile(path); string(b) != tc.content {
				t.Error("a bad credentials file was overwritten")
			}
		})
	}
	if _, _, err := s3gw.LoadOrCreateCredentials(""); !errors.Is(err, s3gw.ErrInvalidConfig) {
		t.Errorf("empty dir: err = %v, want ErrInvalidConfig", err)
	}
}
