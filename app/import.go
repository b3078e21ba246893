package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
)

// maxImportBytes bounds a file read into memory for import, as the command
// line does: larger files are refused with a message, not read.
const maxImportBytes = 256 << 20

// photoExts are the files a dropped folder contributes.
var photoExts = []string{".jpg", ".jpeg", ".png", ".gif", ".webp"}

func isPhotoName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range photoExts {
		if e == ext {
			return true
		}
	}
	return false
}

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
	d.SetFilter(storage.NewExtensionFileFilter(photoExts))
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
			files = append(files, expand(u.Path())...)
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

// expand gives a file itself, or the photos below a folder in name order.
func expand(path string) []string {
	fi, err := os.Stat(path)
	if err != nil || !fi.IsDir() {
		return []string{path}
	}
	var files []string
	filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && isPhotoName(p) {
			files = append(files, p)
		}
		return nil
	})
	sort.Strings(files)
	return files
}

func readPhoto(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, errors.New("no such file")
		}
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxImportBytes {
		return nil, fmt.Errorf("the file is %d MiB; photos over %d MiB are not imported",
			fi.Size()>>20, maxImportBytes>>20)
	}
	return io.ReadAll(io.LimitReader(f, maxImportBytes+1))
}
