package redact

import "testing"

func TestURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://user:hunter2@nats:4222", "nats://REDACTED@nats:4222"},
		{"tls://s3cr3ttoken@nats:4222,tls://s3cr3ttoken@b:1", "tls://REDACTED@nats:4222,tls://REDACTED@b:1"},
		{"nats://user:pa%zz@nats:4222", "(unparsable URL)"},
	} {
		if got := URL(tc.in); got != tc.want {
			t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
