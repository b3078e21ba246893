package config

import (
	"context"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/s3store"
)

// openS3 opens the Amazon S3 store. An example for a real bucket:
//
//	[store]
//	provider = "s3"
//	[store.s3]
//	bucket = "my-photos"
//	region = "eu-west-1"
//	prefix = "multicloud"
//
// and for a local S3-compatible server:
//
//	[store.s3]
//	bucket = "photos"
//	endpoint = "http://127.0.0.1:4568"
//	path_style = true
//	create_bucket = true
func openS3(ctx context.Context, cfg *S3) (cloud.Store, error) {
	return opened[cloud.Store](s3store.Open(ctx, s3store.Options{
		Bucket:       cfg.Bucket,
		Prefix:       cfg.Prefix,
		Region:       cfg.Region,
		Endpoint:     cfg.Endpoint,
		PathStyle:    cfg.PathStyle,
		CreateBucket: cfg.CreateBucket,
		Profile:      cfg.Profile,
	}))
}
