package auth_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/omnirank/omnirank/auth"
	"github.com/omnirank/omnirank/auth/authtest"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

func TestParseTokensRejectsBadLines(t *testing.T) {
	_, line, err := auth.NewToken("ok", []auth.Scope{auth.ScopeQuery})
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Fields(line)[0]
	for _, tc := range []struct{ name, file, want string }{
		{"empty", "# nothing\n\n", "no token"},
		{"two fields", hash + " query\n", "got 2 fields"},
		{"secret instead of hash", "omr_abc query ci\n", "not a hex SHA-256"},
		{"short hash", hash[:10] + " query ci\n", "not a hex SHA-256"},
		{"unknown scope", hash + " query,root ci\n", `unknown scope "root"`},
		{"duplicate name", hash + " query ci\n" + hash + " admin ci\n", "used twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := auth.ParseTokens(strings.NewReader(tc.file))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestAuthenticate(t *testing.T) {
	path, secrets := authtest.TokenFile(t, map[string]string{"shop": "query,feedback", "ops": "admin"})
	toks, err := auth.LoadTokens(path)
	if err != nil {
		t.Fatal(err)
	}
	if toks.Len() != 2 {
		t.Fatalf("Len = %d, want 2", toks.Len())
	}
	for _, tc := range []struct {
		secret string
		ok     bool
		name   string
		scopes []auth.Scope
	}{
		{secrets["shop"], true, "shop", []auth.Scope{auth.ScopeQuery, auth.ScopeFeedback}},
		{secrets["ops"], true, "ops", []auth.Scope{auth.ScopeAdmin}},
		{secrets["ops"] + "x", false, "", nil},
		{"", false, "", nil},
	} {
		id, ok := toks.Authenticate(tc.secret)
		if ok != tc.ok || id.Name != tc.name || !slices.Equal(id.Scopes, tc.scopes) {
			t.Errorf("Authenticate(%.8q…) = %+v, %v; want %s %v, %v", tc.secret, id, ok, tc.name, tc.scopes, tc.ok)
		}
	}
}

// Every public method has a deliberate scope: the services' methods get
// their service's scope (a few are overridden), and nothing but health
// is open.
func TestEveryMethodHasAScope(t *testing.T) {
	want := map[string]auth.Scope{
		pb.RankerService_ServiceDesc.ServiceName:   auth.ScopeQuery,
		pb.FeedbackService_ServiceDesc.ServiceName: auth.ScopeFeedback,
		pb.CatalogService_ServiceDesc.ServiceName:  auth.ScopeIngest,
		pb.AdminService_ServiceDesc.ServiceName:    auth.ScopeAdmin,
	}
	overrides := map[string]auth.Scope{pb.CatalogService_Get_FullMethodName: auth.ScopeQuery}
	for _, sd := range []struct {
		name    string
		methods []string
	}{
		{pb.RankerService_ServiceDesc.ServiceName, names(pb.RankerService_ServiceDesc)},
		{pb.FeedbackService_ServiceDesc.ServiceName, names(pb.FeedbackService_ServiceDesc)},
		{pb.CatalogService_ServiceDesc.ServiceName, names(pb.CatalogService_ServiceDesc)},
		{pb.AdminService_ServiceDesc.ServiceName, names(pb.AdminService_ServiceDesc)},
	} {
		for _, m := range sd.methods {
			full := "/" + sd.name + "/" + m
			p := auth.PolicyFor(full)
			w, ok := overrides[full]
			if !ok {
				w = want[sd.name]
			}
			if p.Open || p.Scope != w {
				t.Errorf("%s: policy %+v, want scope %s", full, p, w)
			}
		}
	}
	if p := auth.PolicyFor("/grpc.health.v1.Health/Check"); !p.Open {
		t.Errorf("health check not open: %+v", p)
	}
	if p := auth.PolicyFor("/omnirank.v1.NewService/Method"); p.Open || p.Scope != auth.ScopeAdmin {
		t.Errorf("unknown service: %+v, want admin", p)
	}
}

func names(sd grpc.ServiceDesc) []string {
	var out []string
	for _, m := range sd.Methods {
		out = append(out, m.MethodName)
	}
	for _, st := range sd.Streams {
		out = append(out, st.StreamName)
	}
	return out
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:50051": true, "localhost:8080": true, "[::1]:1": true, "127.0.0.2:1": true,
		"0.0.0.0:50051": false, ":50051": false, "[::]:1": false, "10.0.0.5:1": false, "omnirank.example:443": false,
	} {
		if got := auth.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	pki := authtest.NewPKI(t)
	if _, err := auth.ServerTLS(pki.ServerCert, pki.ServerKey, pki.CA); err != nil {
		t.Fatalf("valid mTLS config: %v", err)
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"no key", func() error { _, err := auth.ServerTLS(pki.ServerCert, "", ""); return err }, "both a certificate and a key"},
		{"key of another cert", func() error { _, err := auth.ServerTLS(pki.ServerCert, pki.ClientKey, ""); return err }, "load TLS certificate"},
		{"CA not PEM", func() error { _, err := auth.ServerTLS(pki.ServerCert, pki.ServerKey, pki.ServerKey); return err }, "no PEM certificate"},
		{"client cert without key", func() error { _, err := auth.ClientTLS(pki.CA, pki.ClientCert, "", ""); return err }, "both --tls-cert and --tls-key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestWritePKI(t *testing.T) {
	dir := t.TempDir()
	p, err := auth.WritePKI(dir, []string{"ranker", "10.0.0.7"}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(readCert(t, p.CA))
	srv, cli := readCert(t, p.ServerCert), readCert(t, p.ClientCert)
	for _, host := range []string{"ranker", "10.0.0.7"} {
		if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("server certificate for %s: %v", host, err)
		}
	}
	if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, DNSName: "elsewhere"}); err == nil {
		t.Error("server certificate valid for a host it was not made for")
	}
	if _, err := cli.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("client certificate: %v", err)
	}
	for _, key := range []string{p.CAKey, p.ServerKey, p.ClientKey} {
		if st, err := os.Stat(key); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", key, st.Mode().Perm(), err)
		}
	}
	if _, err := auth.WritePKI(dir, []string{"x"}, time.Hour); !errors.Is(err, auth.ErrPKIExists) {
		t.Errorf("second WritePKI: %v, want ErrPKIExists", err)
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
