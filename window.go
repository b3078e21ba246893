package main

import (
	"context"
	"errors"

	"github.com/multicloud/multicloud/cli"
	"github.com/multicloud/multicloud/cloud/config"
)

// openWindow is replaced by the desktop window.
func openWindow(ctx context.Context, cfg *config.Config, g cli.Globals) error {
	return errors.New("the desktop window is not built yet; use a command (see --help)")
}
