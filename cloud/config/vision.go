package config

import (
	"context"
	"errors"

	"github.com/multicloud/multicloud/cloud"
)

// openVision opens the vision provider. Not built yet: this build only has the
// embedded default for this role.
func openVision(ctx context.Context, cfg *Vision, threshold float32) (cloud.Labeller, error) {
	return nil, errors.New("the vision provider is not part of this build yet")
}
