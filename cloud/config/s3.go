package config

import (
	"context"
	"errors"

	"github.com/multicloud/multicloud/cloud"
)

// openS3 opens the s3 provider. Not built yet: this build only has the
// embedded default for this role.
func openS3(ctx context.Context, cfg *S3) (cloud.Store, error) {
	return nil, errors.New("the s3 provider is not part of this build yet")
}
