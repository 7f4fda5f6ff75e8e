package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Scope is a permission a token carries.
type Scope string

// The scopes. A method needs exactly one; admin does not imply the others
// (give a token every scope it needs).
const (
	ScopeQuery    Scope = "query"    // RankerService
	ScopeFeedback Scope = "feedback" // FeedbackService
	ScopeIngest   Scope = "ingest"   // CatalogService
	ScopeAdmin    Scope = "admin"    // AdminService, /metrics
)

// Scopes lists every scope, in the order the docs give them.
var Scopes = []Scope{ScopeQuery, ScopeFeedback, ScopeIngest, ScopeAdmin}

// ParseScopes parses a comma-separated scope list ("query,feedback").
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for part := range strings.SplitSeq(s, ",") {
		sc := Scope(strings.TrimSpace(part))
		if sc == "" {
			continue
		}
		if !slices.Contains(Scopes, sc) {
			return nil, fmt.Errorf("unknown scope %q (known: query, feedback, ingest, admin)", sc)
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no scope given (known: query, feedback, ingest, admin)")
	}
	return out, nil
}

// Identity is who a token belongs to: its name in the token file and its scopes.
type Identity struct {
	Name   string
	Scopes []Scope
}

// Has reports whether the identity carries scope s.
func (id Identity) Has(s Scope) bool { return slices.Contains(id.Scopes, s) }

type entry struct {
	hash [sha256.Size]byte
	id   Identity
}

// Tokens is a parsed token file. Only hashes are kept: the secrets exist
// only with their holders.
type Tokens struct {
	entries []entry
}

// TokenPrefix starts every secret NewToken makes, so that a leaked one is
// easy to recognise (and to grep for).
const TokenPrefix = "omr_"

// NewToken makes a random 256-bit secret and the token-file line that
// grants it scopes under name.
func NewToken(name string, scopes []Scope) (secret, line string, err error) {
	if name == "" || strings.ContainsAny(name, " \t\r\n#") {
		return "", "", fmt.Errorf("token name %q: want one word", name)
	}
	if len(scopes) == 0 {
		return "", "", fmt.Errorf("token %s: no scope", name)
	}
	var b [32]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", "", fmt.Errorf("random token: %w", err)
	}
	secret = TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	sum := sha256.Sum256([]byte(secret))
	ss := make([]string, len(scopes))
	for i, s := range scopes {
		ss[i] = string(s)
	}
	return secret, fmt.Sprintf("%s %s %s", hex.EncodeToString(sum[:]), strings.Join(ss, ","), name), nil
}

// LoadTokens reads a token file: one token a line, `SHA256HEX SCOPES NAME`
// (SCOPES comma-separated), blank lines and lines starting with # ignored.
func LoadTokens(path string) (*Tokens, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token file: %w", err)
	}
	defer f.Close()
	t, err := ParseTokens(f)
	if err != nil {
		return nil, fmt.Errorf("token file %s: %w", path, err)
	}
	return t, nil
}

// ParseTokens parses the token-file format LoadTokens reads.
func ParseTokens(r io.Reader) (*Tokens, error) {
	t := &Tokens{}
	names := map[string]bool{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 3 {
			return nil, fmt.Errorf("line %d: want `SHA256HEX SCOPES NAME`, got %d fields", n, len(fields))
		}
		raw, err := hex.DecodeString(fields[0])
		if err != nil || len(raw) != sha256.Size {
			return nil, fmt.Errorf("line %d: first field is not a hex SHA-256 (64 hex digits); put the hash there, never the token", n)
		}
		scopes, err := ParseScopes(fields[1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		if names[fields[2]] {
			return nil, fmt.Errorf("line %d: token name %q used twice", n, fields[2])
		}
		names[fields[2]] = true
		e := entry{id: Identity{Name: fields[2], Scopes: scopes}}
		copy(e.hash[:], raw)
		t.entries = append(t.entries, e)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(t.entries) == 0 {
		return nil, fmt.Errorf("no token in the file")
	}
	return t, nil
}

// Len is the number of tokens.
func (t *Tokens) Len() int { return len(t.entries) }

// Authenticate finds the identity of a presented secret. It hashes the
// secret and compares the hash with every entry in constant time (no early
// exit), so timing tells nothing about which hash came close.
func (t *Tokens) Authenticate(secret string) (Identity, bool) {
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i := range t.entries {
		if subtle.ConstantTimeCompare(sum[:], t.entries[i].hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 || secret == "" {
		return Identity{}, false
	}
	return t.entries[found].id, true
}
