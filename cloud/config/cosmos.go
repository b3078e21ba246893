package config

import (
	"context"
	"errors"

	"github.com/multicloud/multicloud/cloud"
)

// openCosmos opens the cosmos provider. Not built yet: this build only has the
// embedded default for this role.
func openCosmos(ctx context.Context, cfg *Cosmos) (cloud.Catalogue, error) {
	return nil, errors.New("the cosmos provider is not part of this build yet")
}
