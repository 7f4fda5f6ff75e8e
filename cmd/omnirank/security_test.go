package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/omnirank/omnirank/auth"
	"github.com/omnirank/omnirank/server"
)

// serve refuses to listen beyond loopback without TLS and tokens, before
// it starts anything, and says how to fix it.
func TestServeRefusesExposedListener(t *testing.T) {
	var errOut bytes.Buffer
	err := run(context.Background(), []string{"serve", "--data-dir", t.TempDir(), "--grpc-addr", "0.0.0.0:0", "--http-addr", ""}, io.Discard, &errOut)
	if err == nil {
		t.Fatal("serve on 0.0.0.0 without TLS and tokens started")
	}
	for _, want := range []string{"refusing to serve gRPC 0.0.0.0:0", "--tls-cert", "--auth-tokens", "--insecure"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q lacks %q", err, want)
		}
	}
}

// tokens create prints a secret and a token-file line that the server's
// token file accepts and that authenticates exactly that secret.
func TestTokensCreate(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"tokens", "create", "--scopes", "query,feedback", "--name", "shop"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	var secret, fileLine string
	for l := range strings.SplitSeq(out.String(), "\n") {
		switch {
		case strings.HasPrefix(strings.TrimSpace(l), auth.TokenPrefix):
			secret = strings.TrimSpace(l)
		case len(strings.Fields(l)) == 3 && len(strings.Fields(l)[0]) == 64:
			fileLine = l
		}
	}
	if secret == "" || fileLine == "" || strings.Contains(fileLine, secret) {
		t.Fatalf("secret %q, file line %q in output:\n%s", secret, fileLine, out.String())
	}
	toks, err := auth.ParseTokens(strings.NewReader(fileLine))
	if err != nil {
		t.Fatal(err)
	}
	id, ok := toks.Authenticate(secret)
	if !ok || id.Name != "shop" || !id.Has(auth.ScopeQuery) || !id.Has(auth.ScopeFeedback) || id.Has(auth.ScopeAdmin) {
		t.Fatalf("Authenticate = %+v, %v", id, ok)
	}
	if err := run(context.Background(), []string{"tokens", "create", "--scopes", "root"}, &out, &errOut); err == nil {
		t.Fatal("unknown scope accepted")
	}
}

// The client commands reach a server with mutual TLS and tokens through
// the shared flags, and fail clearly without the token.
func TestCLIWithTLSAndToken(t *testing.T) {
	// The PKI and the tokens come from the CLI's own certs and tokens commands.
	dir := t.TempDir()
	ctx := context.Background()
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"certs", "create", "--dir", dir, "--hosts", "localhost,127.0.0.1"}, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	pki := auth.PKIFiles(dir)
	tokens := filepath.Join(dir, "tokens")
	secrets := map[string]string{}
	for name, scopes := range map[string]string{"ops": "admin", "shop": "query"} {
		secretFile := filepath.Join(dir, name+".token")
		if err := run(ctx, []string{"tokens", "create", "--scopes", scopes, "--name", name, "--file", tokens, "--secret-out", secretFile}, &out, &errOut); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(secretFile)
		if err != nil {
			t.Fatal(err)
		}
		secrets[name] = strings.TrimSpace(string(b))
	}
	if strings.Contains(out.String(), auth.TokenPrefix) {
		t.Errorf("tokens create --secret-out printed the secret:\n%s", out.String())
	}
	addr := startServerWith(t, func(cfg *server.Config) {
		cfg.TLSCert, cfg.TLSKey, cfg.TLSClientCA, cfg.AuthTokens = pki.ServerCert, pki.ServerKey, pki.CA, tokens
	})
	tlsArgs := []string{"--addr", addr, "--tls-ca", pki.CA, "--tls-cert", pki.ClientCert, "--tls-key", pki.ClientKey}
	out.Reset()

	if err := run(ctx, append(append([]string{"status"}, tlsArgs...), "--token", secrets["ops"]), &out, &errOut); err != nil {
		t.Fatalf("status with TLS and the admin token: %v", err)
	}
	if !strings.Contains(out.String(), "products: 0") {
		t.Errorf("status output:\n%s", out.String())
	}
	t.Setenv("OMNIRANK_TOKEN", secrets["shop"])
	err := run(ctx, append([]string{"status"}, tlsArgs...), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "PermissionDenied") {
		t.Errorf("status with the query token from OMNIRANK_TOKEN: %v, want PermissionDenied", err)
	}
	t.Setenv("OMNIRANK_TOKEN", "")
	err = run(ctx, append([]string{"spaces", "list"}, tlsArgs...), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "Unauthenticated") {
		t.Errorf("spaces list without a token: %v, want Unauthenticated", err)
	}
	// Without --tls-ca the server's certificate is not trusted.
	err = run(ctx, []string{"status", "--addr", addr, "--tls-cert", pki.ClientCert, "--tls-key", pki.ClientKey, "--token", secrets["ops"]}, &out, &errOut)
	if err == nil {
		t.Error("status trusted a certificate from an unknown CA")
	}
	// A token is never sent in plaintext beyond loopback.
	err = run(ctx, []string{"status", "--addr", "10.1.2.3:50051", "--token", secrets["ops"]}, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "without TLS") {
		t.Errorf("plaintext token to a remote address: %v", err)
	}
}
