// Package chaos holds the multi-process cluster test: omnirank run the way
// deploy/ describes it, every role in its own OS process against a
// three-node NATS JetStream cluster, and broken on purpose under load.
//
// The test (cluster_test.go, chaos_test.go) builds two binaries without
// the race detector: omnirank itself (or takes $OMNIRANK_BIN) and the real
// nats-server from the module's own nats-server/v2 dependency. The NATS
// nodes are processes, not in-process servers, so that "kill -9 a NATS
// node" is exactly that: the node dies without a goodbye to its routes or
// clients, and comes back from its file store on the same ports. Then it
// starts
//
//   - three nats-server nodes clustered over loopback routes, JetStream on
//     each, streams and KV buckets created with --nats-replicas 3;
//   - `omnirank serve --roles=storage`: the embedded S3 gateway on a fixed
//     address, publishing S3 events to the cluster;
//   - one process each for ingest, extract:text, extract:image,
//     extract:audio, fusion and api, and two rankers.
//
// Under ingest load (products with images and voice-overs, uploaded
// through the API process) and query load (Recommend on both rankers) it
// SIGKILLs a NATS node, a ranker and an extractor and restarts them; then
// it waits until every product is indexed exactly once on both rankers
// (every page of a broad Recommend, the ranker's vector count, every
// product record's state), with nothing dead-lettered or
// listed as an error, and reports the query error rate and p99 latency
// while faults were on.
//
// TestClusterFaults (part of `make test`) runs one scripted round of the
// three faults over a small catalogue. TestChaos runs only when
// OMNIRANK_CHAOS_DURATION is set (`make chaos DURATION=5m`): faults of
// random kinds and targets at random times, from a seed it prints
// (OMNIRANK_CHAOS_SEED repeats a run), for that long, and prints one JSON
// summary object.
//
// The package has no non-test code: it is a test of the whole product.
package chaos
