package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"github.com/multicloud/multicloud/app"
	"github.com/multicloud/multicloud/cli"
	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/config"
)

// appID matches FyneApp.toml; Fyne keys the app's preferences and storage
// folder by it.
const appID = "io.github.multicloud.multicloud"

//go:embed assets/icon.png
var iconPNG []byte

// openWindow opens the roles, builds the real Fyne application and runs the
// window until it is closed. A role that fails to open (the on-device model
// missing, a catalogue file that cannot be written) does not stop the
// window: the window opens and says what is wrong, so the person can fix it
// in Settings or still look at the camera.
func openWindow(ctx context.Context, cfg *config.Config, g cli.Globals) error {
	// GLFW panics without a display; a sentence is more useful than a trace.
	if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" &&
		runtime.GOOS != "windows" && runtime.GOOS != "darwin" {
		return fmt.Errorf("there is no display to open the window on (DISPLAY is not " +
			"set); use a command (see --help), or run under Xvfb")
	}

	roles, rolesErr := openRoles(ctx, cfg)
	defer func() {
		if err := roles.Close(); err != nil {
			slog.Warn("closing the providers", "err", err)
		}
	}()
	opts := app.Options{Config: cfg, RolesErr: rolesErr, Camera: g.Camera}
	if roles.Store != nil && roles.Catalogue != nil {
		if roles.Labeller == nil {
			// Photos are still stored and kept for a retry, and the gallery
			// works; the label step fails with the reason until it is fixed.
			roles.Labeller = unavailableLabeller{err: rolesErr}
		}
		opts.Pipeline = cli.NewPipeline(cfg, roles)
	}

	icon := fyne.NewStaticResource("icon.png", iconPNG)
	fyneapp.SetMetadata(fyne.AppMetadata{ID: appID, Name: "Multi-Cloud",
		Version: cli.Version, Build: 1, Icon: icon})
	a := fyneapp.NewWithID(appID)
	a.SetIcon(icon)
	ui, err := app.New(a, opts)
	if err != nil {
		return err
	}
	ui.Window().Show()
	ui.Start()

	// Ctrl+C in the terminal closes the window like its close button.
	done := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			fyne.Do(func() { ui.Stop(); a.Quit() })
		case <-done:
		}
	}()
	a.Run()
	close(done)
	ui.Stop()
	return nil
}

// openRoles opens each role on its own, so that one failing role leaves the
// others usable; the error names every role that failed. (config.Open stops
// at the first failure.)
func openRoles(ctx context.Context, cfg *config.Config) (*config.Roles, error) {
	r := &config.Roles{}
	var errs []error
	if s, err := cfg.OpenStore(ctx); err != nil {
		errs = append(errs, fmt.Errorf("store: %w", err))
	} else {
		r.Store = s
	}
	if c, err := cfg.OpenCatalogue(ctx); err != nil {
		errs = append(errs, fmt.Errorf("catalogue: %w", err))
	} else {
		r.Catalogue = c
	}
	if l, err := cfg.OpenLabeller(ctx); err != nil {
		errs = append(errs, fmt.Errorf("labeller: %w", err))
	} else {
		r.Labeller = l
	}
	return r, errors.Join(errs...)
}

// unavailableLabeller stands in for a labeller that did not open: every
// photo fails at the label step with the reason, and is kept for a retry.
type unavailableLabeller struct{ err error }

func (l unavailableLabeller) Label(context.Context, *cloud.Photo) ([]cloud.Label, error) {
	return nil, cloud.Wrap(cloud.FailedPrecondition, "labeller", l.err)
}

func (unavailableLabeller) Name() string { return "unavailable" }

func (unavailableLabeller) Close() error { return nil }
