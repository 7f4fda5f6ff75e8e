// Package api is omnirank's API role apart from ranking: CatalogService
// (Catalog: products and media into the bucket, their ingest state back)
// and AdminService (Admin: status, rejected products, dead letters and
// their replay, reconcile, the model registry). The ranker registers
// RankerService and FeedbackService itself (package ranker).
package api
