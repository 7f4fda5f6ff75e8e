package storage_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/omnirank/omnirank/storage/s3gw"
)

// The one embedded gateway of this test binary (only one may run per
// process; see package s3gw), started by the first test that needs it, so
// that tests without one (and fuzzing) keep the package directory as their
// working directory. testdataDir is absolute because the gateway changes
// the working directory.
var (
	gwOnce      sync.Once
	gw          *s3gw.Gateway
	gwErr       error
	gwDir       string
	testdataDir string
)

const (
	testAccess = "OMNIRANKTESTACCESS01"
	testSecret = "omnirank-test-secret-key-0123456789abcd"
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	var err error
	if testdataDir, err = filepath.Abs("testdata"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	if gw != nil {
		if err := gw.Close(); err != nil {
			fmt.Fprintln(os.Stderr, "close embedded S3 gateway:", err)
			code = 1
		}
	}
	if gwDir != "" {
		os.RemoveAll(gwDir)
	}
	return code
}

// gateway returns the shared embedded gateway, starting it on first use.
func gateway(t testing.TB) *s3gw.Gateway {
	t.Helper()
	gwOnce.Do(func() {
		gwDir, gwErr = os.MkdirTemp("", "omnirank-storage-test-")
		if gwErr != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		gw, gwErr = s3gw.Start(ctx, s3gw.Config{
			Dir:       filepath.Join(gwDir, "buckets"),
			AccessKey: testAccess,
			SecretKey: testSecret,
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	})
	if gwErr != nil {
		t.Fatalf("start embedded S3 gateway: %v", gwErr)
	}
	return gw
}
