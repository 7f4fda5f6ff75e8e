// Package loadtest owns the ranker's load benchmark: BenchRecommend builds
// a real target (an embedded NATS server holding a synthetic catalogue of
// clustered products and their joint embeddings, a ranker following it,
// a gRPC server on loopback TCP) and drives Recommend calls at fixed
// arrival rates with an open-loop generator.
//
// Open loop means each request has a scheduled send time fixed in advance
// (start + i/rate) and is sent then whether or not earlier requests have
// returned; its latency is measured from that scheduled time, not from
// when it actually left. A server that falls behind therefore shows its
// queueing delay in the percentiles instead of silently slowing the
// generator down (coordinated omission).
//
// It is a library for the `omnirank bench recommend` command and for
// benchmarks; it holds no state between calls.
package loadtest
