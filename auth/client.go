package auth

import (
	"context"
	"fmt"

	"google.golang.org/grpc/credentials"
)

// Bearer is a client's per-call credential: the token as
// `authorization: Bearer TOKEN` metadata on every call.
type Bearer struct {
	Token string
	// RequireTLS refuses to send the token over a plaintext connection
	// (the CLI sets it for every address that is not loopback).
	RequireTLS bool
}

// GetRequestMetadata implements credentials.PerRPCCredentials.
func (b Bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	if b.Token == "" {
		return nil, fmt.Errorf("empty token")
	}
	return map[string]string{"authorization": "Bearer " + b.Token}, nil
}

// RequireTransportSecurity implements credentials.PerRPCCredentials.
func (b Bearer) RequireTransportSecurity() bool { return b.RequireTLS }

var _ credentials.PerRPCCredentials = Bearer{}
