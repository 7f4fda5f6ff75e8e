// Package redact hides the secrets that connection strings carry, for
// error messages and logs.
package redact

import (
	"net/url"
	"strings"
)

// URL hides the credentials in a URL (user:password@, or a token given as
// the user, as NATS URLs carry them); raw may list several URLs,
// comma-separated. A part that does not parse is replaced whole.
func URL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		switch {
		case err != nil:
			parts[i] = "(unparsable URL)"
		case u.User != nil:
			u.User = url.User("REDACTED")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
