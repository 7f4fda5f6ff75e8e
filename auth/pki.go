package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// PKI is the paths of the PEM files WritePKI writes.
type PKI struct {
	CA, CAKey             string // the CA: --tls-ca and --tls-client-ca; keep its key offline
	ServerCert, ServerKey string // --tls-cert, --tls-key of `serve`
	ClientCert, ClientKey string // --tls-cert, --tls-key of the client commands (mutual TLS)
}

// PKIFiles names the files of a PKI under dir.
func PKIFiles(dir string) PKI {
	j := func(n string) string { return filepath.Join(dir, n) }
	return PKI{CA: j("ca.pem"), CAKey: j("ca-key.pem"), ServerCert: j("server.pem"), ServerKey: j("server-key.pem"),
		ClientCert: j("client.pem"), ClientKey: j("client-key.pem")}
}

// ErrPKIExists: WritePKI found a CA in the directory and wrote nothing.
var ErrPKIExists = errors.New("a CA is already there")

// WritePKI makes a small private PKI under dir: a CA (ECDSA P-256), a
// server certificate for hosts (DNS names and IP addresses) and a client
// certificate, valid for validFor, keys written with mode 0600. It never
// overwrites: with a ca.pem in dir it returns ErrPKIExists. For a
// deployment without a company CA or cert-manager; see docs/SECURITY.md.
func WritePKI(dir string, hosts []string, validFor time.Duration) (PKI, error) {
	p := PKIFiles(dir)
	if _, err := os.Stat(p.CA); err == nil {
		return p, fmt.Errorf("%s: %w", p.CA, ErrPKIExists)
	}
	if len(hosts) == 0 {
		return p, fmt.Errorf("the server certificate needs at least one host")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return p, fmt.Errorf("PKI dir: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return p, err
	}
	caTmpl := &x509.Certificate{Subject: pkix.Name{CommonName: "omnirank CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validFor),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := sign(caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return p, fmt.Errorf("CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return p, err
	}
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else {
			dns = append(dns, h)
		}
	}
	leaf := func(cn string, usage x509.ExtKeyUsage) (der []byte, key *ecdsa.PrivateKey, err error) {
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return nil, nil, err
		}
		tmpl := &x509.Certificate{Subject: pkix.Name{CommonName: cn}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(validFor),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames, tmpl.IPAddresses = dns, ips
		}
		der, err = sign(tmpl, ca, &key.PublicKey, caKey)
		return der, key, err
	}
	srvDER, srvKey, err := leaf("omnirank server", x509.ExtKeyUsageServerAuth)
	if err != nil {
		return p, fmt.Errorf("server certificate: %w", err)
	}
	cliDER, cliKey, err := leaf("omnirank client", x509.ExtKeyUsageClientAuth)
	if err != nil {
		return p, fmt.Errorf("client certificate: %w", err)
	}
	for _, f := range []struct {
		path string
		der  []byte
		key  *ecdsa.PrivateKey
	}{{p.CA, caDER, nil}, {p.CAKey, nil, caKey}, {p.ServerCert, srvDER, nil}, {p.ServerKey, nil, srvKey},
		{p.ClientCert, cliDER, nil}, {p.ClientKey, nil, cliKey}} {
		if err := writePEM(f.path, f.der, f.key); err != nil {
			return p, err
		}
	}
	return p, nil
}

func sign(tmpl, parent *x509.Certificate, pub any, priv *ecdsa.PrivateKey) ([]byte, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	return x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
}

func writePEM(path string, certDER []byte, key *ecdsa.PrivateKey) error {
	block := &pem.Block{Type: "CERTIFICATE", Bytes: certDER}
	mode := os.FileMode(0o644)
	if key != nil {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		block, mode = &pem.Block{Type: "PRIVATE KEY", Bytes: der}, 0o600
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
