// Command lambdazip writes the function's deployment package: a zip with the
// bootstrap executable at its root and the files it needs beside it.
//
//	lambdazip -o out/lambda/function.zip out/lambda/bootstrap config.toml=my.toml
//
// Each argument is a file, stored under its base name, or NAME=PATH to store
// PATH as NAME. Lambda runs the package's files with the permissions recorded
// in the zip, so bootstrap is stored as executable (0755) and everything else
// as 0644. Times are fixed, so the same inputs make the same zip, byte for
// byte, and a deploy of an unchanged function changes nothing.
//
// It exists so that `make lambda` needs nothing but Go: no zip program. A
// config.toml is checked first (function.CheckSettings), so that settings the
// function cannot start with are refused here rather than after a deploy.
package main

import (
	"archive/zip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/multicloud/multicloud/cloud/function"
)

func main() {
	out := flag.String("o", "function.zip", "the zip to write")
	flag.Parse()
	if err := write(*out, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "lambdazip:", err)
		os.Exit(1)
	}
}

// fixedTime is every entry's time (zip's epoch is 1980).
var fixedTime = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)

func write(out string, args []string) error {
	if len(args) == 0 {
		return errors.New("no files to package")
	}
	seen := map[string]bool{}
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after the rename, a no-op
	zw := zip.NewWriter(f)
	for _, arg := range args {
		name, src, ok := strings.Cut(arg, "=")
		if !ok {
			name, src = filepath.Base(arg), arg
		}
		name = path.Clean(filepath.ToSlash(name))
		if name == "." || strings.HasPrefix(name, "../") || path.IsAbs(name) || seen[name] {
			f.Close()
			return fmt.Errorf("%q is not a new name inside the package", name)
		}
		seen[name] = true
		if name == "config.toml" {
			if err := function.CheckSettings(src); err != nil {
				f.Close()
				return err
			}
		}
		if err := add(zw, name, src); err != nil {
			f.Close()
			return err
		}
	}
	if !seen["bootstrap"] {
		f.Close()
		return errors.New("the package has no bootstrap, which Lambda runs")
	}
	if err := zw.Close(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func add(zw *zip.Writer, name, src string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: fixedTime}
	mode := os.FileMode(0o644)
	if name == "bootstrap" {
		mode = 0o755
	}
	hdr.SetMode(mode)
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, in)
	return err
}
