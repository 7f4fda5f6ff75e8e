// Package storage owns the bucket: the ObjectStore interface and its
// minio-go implementation (S3Store, for the embedded gateway, MinIO and AWS
// S3 alike), the parsing of S3 event notifications (ParseEvents: versitygw,
// MinIO and AWS formats), and the catalogue format: Product and Media, their
// validation (ParseProduct, Validate), and the bucket layout
// (products/<id>/product.json with media beside it, models/, snapshots/).
// docs/CATALOG.md documents the format for merchants.
//
// Sub-packages: s3gw runs the embedded S3 gateway (versitygw); storagetest is
// the conformance suite every ObjectStore backend passes.
//
// storage imports no role; every other package may import it.
package storage
