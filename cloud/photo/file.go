package photo

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// MaxFileBytes bounds the size of a file read into memory for import: a
// larger one is refused with its size rather than read.
const MaxFileBytes = 256 << 20

// IsPhotoName reports whether a file name has the extension of a format this
// package decodes. It is how a folder's photos are picked; a file named
// explicitly is tried whatever its name, so that a mislabelled one is
// reported rather than skipped.
func IsPhotoName(name string) bool {
	ext := strings.ToLower(filepath.Ext(name))
	for _, e := range Extensions {
		if e == ext {
			return true
		}
	}
	return false
}

// Extensions are the file name extensions of the formats Decode reads.
var Extensions = []string{".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp"}

// Expand turns paths into files to import: a folder gives the photos below
// it, by name; anything else is taken as it is.
func Expand(paths ...string) []string {
	var files []string
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil || !fi.IsDir() {
			files = append(files, p)
			continue
		}
		var found []string
		filepath.WalkDir(p, func(f string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && IsPhotoName(f) {
				found = append(found, f)
			}
			return nil
		})
		sort.Strings(found)
		files = append(files, found...)
	}
	return files
}

// ReadFile reads a photo file for import, with errors a person understands.
func ReadFile(path string) ([]byte, error) {
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
	if fi.IsDir() {
		return nil, errors.New("is a folder")
	}
	if fi.Size() > MaxFileBytes {
		return nil, fmt.Errorf("the file is %d MiB; photos over %d MiB are not imported",
			fi.Size()>>20, MaxFileBytes>>20)
	}
	// A file that grows while it is read still stops at the limit.
	return io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
}
