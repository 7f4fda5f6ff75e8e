// Package storage owns the bucket: the S3 object store client (minio-go),
// the embedded S3 gateway, S3 event notifications, and the catalogue format.
package storage
