// Package deploy holds omnirank's deployment files, not code:
// docker-compose.yml, the Dockerfile, Kubernetes manifests under k8s/ and
// Prometheus configuration under prometheus/. Its tests parse those files
// and check them against the code they configure: every flag exists on
// `omnirank serve`, every role parses, the KEDA triggers name the durable
// consumers package topology declares, MinIO publishes to the subject
// ingest reads, ports and label selectors line up.
package deploy
