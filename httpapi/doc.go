// Package httpapi serves omnirank's public gRPC API as JSON over HTTP, the
// OpenAPI document of that API, and the catalogue's media for display.
//
// The JSON/HTTP API is not written by hand: connectrpc's vanguard
// transcodes each request into a call of the process's own grpc.Server
// (its interceptors, limits and error codes apply unchanged). Two
// protocols reach every method:
//
//   - REST paths (/v1/recommend, /v1/products/{id}, /v1/admin/status…)
//     declared in omnirank_http.yaml, the gRPC API Configuration that
//     `make proto` also feeds to protoc-gen-openapiv2 for the OpenAPI
//     document served at /openapi.json;
//   - POST /omnirank.v1.<Service>/<Method> with a JSON body (the Connect
//     protocol), streaming methods included.
//
// bytes fields (a query image, an uploaded medium) are base64 strings, as
// the proto3 JSON mapping says.
//
// Media: GET /v1/products/{id}/image and /audio stream the product's
// medium as the bucket holds it; /v1/products/{id}/thumbnail?size=N (N ≤
// 512) serves a JPEG thumbnail, made with disintegration/imaging and kept
// in a byte-bounded LRU keyed by the medium's ETag. Only media that the
// product's own product.json lists are served: an unknown id or key is
// 404, whatever the path holds.
//
// Authentication: a JSON call is a call of the gRPC server, so its
// interceptors (tokens, scopes, rate and size limits) apply unchanged, with
// the Authorization header as metadata; the media routes take a wrapper
// (Config.GuardMedia); the console's files and the OpenAPI document are
// public (they hold no data).
package httpapi
