// Package app is Multi-Cloud's desktop window: a live camera preview with a
// shutter, a gallery of what was recorded, the settings, and importing files
// by drag and drop. Every photo goes through the same pipeline as the command
// line (cloud/pipeline); this package only shows it.
//
// The package never creates the Fyne application or talks to a provider
// directly: it is handed a fyne.App and an opened pipeline, so that its tests
// run on Fyne's test driver without a display, and the main package alone
// decides how the real window is made. Work that can take time (reading the
// camera, storing, labelling, making thumbnails) runs on goroutines of its
// own; results come back to the UI goroutine through Options.Do (fyne.Do).
package app

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/theme"

	"github.com/multicloud/multicloud/capture"
	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/pipeline"
)

// Options are what the window is built from.
type Options struct {
	// Config is edited and saved by the settings tab. Required.
	Config *config.Config
	// Pipeline runs captures and imports. It is nil when the roles could not
	// be opened; RolesErr then says why, and the window shows it.
	Pipeline *pipeline.Pipeline
	RolesErr error
	// DataDir holds pending/ (photos not yet recorded) and thumbs/.
	// Empty means Config.DataDir.
	DataDir string
	// Camera is the capture spec for this run (--camera); empty means the
	// one in the settings. It is not saved.
	Camera string
	// OpenSource opens a capture source; nil means capture.Open.
	OpenSource func(spec string, o capture.Options) (capture.Source, error)
	// Do runs f on the UI goroutine; nil means fyne.Do. Tests pass a queue
	// that they drain themselves, so that their goroutine is the UI's.
	Do func(f func())
}

// UI is the main window and everything it runs.
type UI struct {
	app  fyne.App
	win  fyne.Window
	opts Options
	do   func(func())
	pl   *pipeline.Pipeline

	// ctx ends when the window stops; every goroutine of the window watches it.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once

	tabs     *container.AppTabs
	capture  *captureView
	gallery  *galleryView
	settings *settingsView
	pending  *pendingStore
	thumbs   *thumbCache
}

// stopWait bounds how long closing the window waits for background work.
const stopWait = 5 * time.Second

// Shortcuts of the window, beside Space for the shutter.
var (
	shortcutGallery = &desktop.CustomShortcut{KeyName: fyne.KeyG,
		Modifier: fyne.KeyModifierShortcutDefault}
	shortcutCapture = &desktop.CustomShortcut{KeyName: fyne.KeyK,
		Modifier: fyne.KeyModifierShortcutDefault}
	shortcutImport = &desktop.CustomShortcut{KeyName: fyne.KeyO,
		Modifier: fyne.KeyModifierShortcutDefault}
)

// New builds the window on a. Call Start to show it working and Stop (or
// close the window) to end it.
func New(a fyne.App, opts Options) (*UI, error) {
	if opts.Config == nil {
		return nil, errors.New("app: no settings given")
	}
	if opts.DataDir == "" {
		opts.DataDir = opts.Config.DataDir
	}
	if opts.OpenSource == nil {
		opts.OpenSource = capture.Open
	}
	if opts.Do == nil {
		opts.Do = fyne.Do
	}
	ctx, cancel := context.WithCancel(context.Background())
	u := &UI{
		app:     a,
		win:     a.NewWindow("Multi-Cloud"),
		opts:    opts,
		do:      opts.Do,
		pl:      opts.Pipeline,
		ctx:     ctx,
		cancel:  cancel,
		pending: &pendingStore{dir: filepath.Join(opts.DataDir, "pending")},
	}
	if u.pl != nil {
		u.thumbs = newThumbCache(filepath.Join(opts.DataDir, "thumbs"), u.pl.Store, u.do)
	}

	u.capture = newCaptureView(u)
	u.gallery = newGalleryView(u)
	u.settings = newSettingsView(u)
	u.tabs = container.NewAppTabs(
		container.NewTabItemWithIcon("Capture", theme.MediaPhotoIcon(), u.capture.content),
		container.NewTabItemWithIcon("Gallery", theme.GridIcon(), u.gallery.content),
		container.NewTabItemWithIcon("Settings", theme.SettingsIcon(), u.settings.content),
	)
	u.tabs.OnSelected = func(t *container.TabItem) {
		switch t.Content {
		case u.gallery.content:
			u.gallery.shown()
		case u.capture.content:
			// The gallery's search box may still hold the focus, and with
			// it every Space meant for the shutter.
			u.capture.keepSpaceForShutter()
		}
	}
	u.win.SetContent(u.tabs)
	u.win.Resize(fyne.NewSize(1100, 720))
	u.win.SetMaster()

	c := u.win.Canvas()
	// Space works wherever focus is not in a text field, which takes the key
	// for itself before the canvas sees it.
	c.SetOnTypedKey(func(ev *fyne.KeyEvent) {
		switch {
		case ev.Name == fyne.KeyEscape:
			u.gallery.escape()
		case ev.Name == fyne.KeySpace && u.tabs.Selected().Content == u.capture.content:
			u.capture.shutter()
		}
	})
	c.AddShortcut(shortcutGallery, func(fyne.Shortcut) { u.ShowGallery() })
	c.AddShortcut(shortcutCapture, func(fyne.Shortcut) { u.tabs.SelectIndex(0) })
	c.AddShortcut(shortcutImport, func(fyne.Shortcut) { u.capture.openImportDialog() })
	u.win.SetOnDropped(func(_ fyne.Position, uris []fyne.URI) { u.capture.importURIs(uris) })
	u.win.SetCloseIntercept(func() {
		u.Stop()
		u.win.Close()
	})
	return u, nil
}

// Window is the main window.
func (u *UI) Window() fyne.Window { return u.win }

// Start opens the camera, reports a pipeline that could not be opened, and
// offers photos that an earlier session left unrecorded. Call it on the UI
// goroutine, after New.
func (u *UI) Start() {
	if err := u.opts.RolesErr; err != nil {
		what := "Photos cannot be stored until this is fixed (see Settings)"
		if u.pl != nil {
			// Only the labeller is missing: the main package hands a pipeline
			// whose label step fails, so photos are stored and kept.
			what = "Photos are stored and kept, but not labelled and recorded until " +
				"this is fixed (see Settings)"
		}
		u.showError(what, err)
	}
	u.capture.start()
	u.capture.offerPending()
}

// ShowGallery switches to the gallery tab.
func (u *UI) ShowGallery() { u.tabs.SelectIndex(1) }

// Stop ends the preview and every background task and waits for them, so
// that no goroutine touches the window after it is gone. It is safe to call
// more than once.
func (u *UI) Stop() {
	u.once.Do(func() {
		u.cancel()
		u.capture.stopPreview()
		// Every task watches ctx, but a provider call that ignores it must
		// not keep the window from closing: what is unfinished is in
		// pending and is offered again at the next start.
		done := make(chan struct{})
		go func() {
			u.wg.Wait()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(stopWait):
			slog.Warn("background work did not stop in time; closing anyway",
				"waited", stopWait)
		}
		if u.thumbs != nil {
			u.thumbs.stop()
		}
	})
}

// goBackground runs f on a goroutine that Stop waits for.
func (u *UI) goBackground(f func(ctx context.Context)) {
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		f(u.ctx)
	}()
}

// showError logs a failure and tells the person about it. Call it on the
// UI goroutine.
func (u *UI) showError(what string, err error) {
	slog.Error(what, "err", err)
	d := dialog.NewError(errors.New(what+":\n"+err.Error()), u.win)
	d.Show()
}
