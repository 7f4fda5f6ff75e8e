// Package loadtest owns the ranker's load benchmark (`omnirank bench
// recommend`): BenchRecommend starts a real target through server.Start
// with the ranker role, exactly as `omnirank serve --roles=ranker` does
// (embedded NATS and S3 gateway, topology, starter models, ranker, gRPC API
// on loopback TCP), publishes a synthetic catalogue of clustered products
// and their joint embeddings into it, and drives Recommend calls at fixed
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
