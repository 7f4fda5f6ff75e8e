package extractors_test

import (
	"os"
	"testing"
)

func tempDir() (string, error) { return os.MkdirTemp("", "omnirank-extractors-test-*") }

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedStore.dir != "" {
		_ = os.RemoveAll(sharedStore.dir)
	}
	os.Exit(code)
}
