// Package authtest gives tests a throw-away PKI (a CA, a server certificate
// for 127.0.0.1 and localhost, a client certificate, and a client
// certificate from a second, untrusted CA) written as PEM files, and token
// files made with auth.NewToken.
package authtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/omnirank/omnirank/auth"
)

// PKI is the paths of the PEM files NewPKI writes.
type PKI struct {
	CA                    string // CA certificate: --tls-ca and --tls-client-ca
	ServerCert, ServerKey string
	ClientCert, ClientKey string
	// RogueCert and RogueKey are a client certificate signed by another CA.
	RogueCert, RogueKey string
}

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// NewPKI writes a fresh PKI under t.TempDir().
func NewPKI(t testing.TB) PKI {
	t.Helper()
	dir := t.TempDir()
	ca := newCA(t, "omnirank test CA")
	rogue := newCA(t, "rogue CA")
	p := PKI{CA: filepath.Join(dir, "ca.pem")}
	writePEM(t, p.CA, "CERTIFICATE", ca.cert.Raw)
	p.ServerCert, p.ServerKey = leaf(t, dir, "server", ca, x509.ExtKeyUsageServerAuth)
	p.ClientCert, p.ClientKey = leaf(t, dir, "client", ca, x509.ExtKeyUsageClientAuth)
	p.RogueCert, p.RogueKey = leaf(t, dir, "rogue", rogue, x509.ExtKeyUsageClientAuth)
	return p
}

func newKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func newCA(t testing.TB, name string) issuer {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return issuer{cert: cert, key: key}
}

func leaf(t testing.TB, dir, name string, ca issuer, usage x509.ExtKeyUsage) (certFile, keyFile string) {
	t.Helper()
	key := newKey(t)
	tmpl := &x509.Certificate{SerialNumber: serial(t), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+"-key.pem")
	writePEM(t, certFile, "CERTIFICATE", der)
	writePEM(t, keyFile, "PRIVATE KEY", kder)
	return certFile, keyFile
}

func writePEM(t testing.TB, path, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
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
