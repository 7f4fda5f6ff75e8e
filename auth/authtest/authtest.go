// Package authtest gives tests a throw-away PKI (auth.WritePKI for
// 127.0.0.1, ::1 and localhost, plus a client certificate from a second,
// untrusted CA) and token files made with auth.NewToken.
package authtest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omnirank/omnirank/auth"
)

// PKI is a test PKI: auth.WritePKI's files and a rogue client certificate.
type PKI struct {
	auth.PKI
	// RogueCert and RogueKey are a client certificate signed by another CA.
	RogueCert, RogueKey string
}

// NewPKI writes a fresh PKI under t.TempDir().
func NewPKI(t testing.TB) PKI {
	t.Helper()
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	p, err := auth.WritePKI(t.TempDir(), hosts, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := auth.WritePKI(t.TempDir(), hosts, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return PKI{PKI: p, RogueCert: rogue.ClientCert, RogueKey: rogue.ClientKey}
}

// TokenFile makes one token per name (scopes comma-separated, as
// `tokens create --scopes` takes them), writes the token file under
// t.TempDir() and returns its path and the secrets by name.
func TokenFile(t testing.TB, scopesByName map[string]string) (path string, secrets map[string]string) {
	t.Helper()
	secrets = map[string]string{}
	var lines []string
	for name, scopes := range scopesByName {
		sc, err := auth.ParseScopes(scopes)
		if err != nil {
			t.Fatal(err)
		}
		secret, line, err := auth.NewToken(name, sc)
		if err != nil {
			t.Fatal(err)
		}
		secrets[name] = secret
		lines = append(lines, line)
	}
	path = filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte("# test tokens\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, secrets
}
