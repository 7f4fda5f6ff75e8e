// Package auth guards omnirank's API: who may call which method, how often
// and with how large a request. It holds the token file (SHA-256 hashes of
// random bearer tokens, each with scopes query, feedback, ingest or admin),
// the table mapping every public gRPC method to the scope it needs and the
// request-size class it belongs to, per-token rate limits (token buckets),
// the gRPC interceptors (unary and streaming) and HTTP middleware that
// enforce all three, and the TLS configurations (server, mutual TLS, client)
// the server and the CLI share. Health checks stay open.
package auth
