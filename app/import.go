package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"

	"github.com/multicloud/multicloud/cloud/photo"
)

// openImportDialog lets the person pick a photo to import.
func (c *captureView) openImportDialog() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil {
			c.u.showError("The file could not be opened", err)
			return
		}
		if r == nil {
			return // cancelled
		}
		uri := r.URI()
		r.Close()
		c.importURIs([]fyne.URI{uri})
	}, c.u.win)
	d.SetFilter(storage.NewExtensionFileFilter(photo.Extensions))
	d.Resize(fyne.NewSize(800, 560))
	d.Show()
}

// importURIs queues dropped or chosen files (and the photos of dropped
// folders, listed off the UI goroutine) for the pipeline. Each file is read
// only when its turn comes.
func (c *captureView) importURIs(uris []fyne.URI) {
	if len(uris) == 0 {
		return
	}
	c.u.tabs.SelectIndex(0)
	c.u.goBackground(func(ctx context.Context) {
		var files []string
		var problems []string
		for _, u := range uris {
			if u.Scheme() != "file" {
				problems = append(problems, u.String()+": only local files can be imported")
				continue
			}
			files = append(files, photo.Expand(u.Path())...)
		}
		c.u.do(func() {
			for _, f := range files {
				c.enqueue(task{file: f})
			}
		})
		if len(problems) > 0 {
			slog.Warn("some dropped files were not imported", "count", len(problems))
			c.u.do(func() {
				c.u.showError(fmt.Sprintf("%d file(s) were not imported", len(problems)),
					errors.New(strings.Join(problems, "\n")))
			})
		}
	})
}
