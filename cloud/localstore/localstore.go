// Package localstore is the embedded default of the store role: originals are
// kept as files below one folder on this computer.
//
// A key's slash-separated segments become folders. Characters that some file
// systems refuse (Windows forbids <>:"|?* and control characters) and '%'
// itself are percent-encoded in the file name, so every key maps to exactly
// one path and reads back unchanged. Writes go to a temporary file that is
// renamed into place, so a crash never leaves half a photo under a key.
package localstore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/multicloud/multicloud/cloud"
)

// Store keeps objects below Dir.
type Store struct {
	dir string
}

var _ cloud.Store = (*Store)(nil)

// Open returns a store rooted at dir, creating it if needed.
func Open(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, cloud.Wrap(cloud.InvalidArgument, "local store", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, cloud.Wrap(cloud.FailedPrecondition, "local store", err)
	}
	return &Store{dir: abs}, nil
}

// Dir is the folder the store writes to.
func (s *Store) Dir() string { return s.dir }

// Name implements cloud.Store.
func (s *Store) Name() string { return "local:" + s.dir }

// Close implements cloud.Store.
func (s *Store) Close() error { return nil }

// path maps a key to a file path, refusing keys that would leave the folder.
func (s *Store) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || strings.HasSuffix(key, "/") {
		return "", cloud.Errorf(cloud.InvalidArgument, "local store",
			"key %q must be a relative name that does not end in /", key)
	}
	segs := strings.Split(key, "/")
	for i, seg := range segs {
		if seg == "" || seg == "." || seg == ".." {
			return "", cloud.Errorf(cloud.InvalidArgument, "local store",
				"key %q has an empty, '.' or '..' segment", key)
		}
		segs[i] = escapeSegment(seg)
	}
	return filepath.Join(s.dir, filepath.Join(segs...)), nil
}

func escapeSegment(seg string) string {
	var b strings.Builder
	for _, r := range seg {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`%<>:"\|?*`, r) {
			fmt.Fprintf(&b, "%%%02X", r)
			continue
		}
		b.WriteRune(r)
	}
	// Windows also refuses names ending in a dot or a space.
	out := b.String()
	if strings.HasSuffix(out, ".") || strings.HasSuffix(out, " ") {
		out = out[:len(out)-1] + fmt.Sprintf("%%%02X", out[len(out)-1])
	}
	return out
}

// Put implements cloud.Store.
func (s *Store) Put(ctx context.Context, key string, body io.ReadSeeker,
	opts cloud.PutOptions) (cloud.Object, error) {
	const op = "local store put"
	p, err := s.path(key)
	if err != nil {
		return cloud.Object{}, err
	}
	if err := ctx.Err(); err != nil {
		return cloud.Object{}, cloud.Wrap(cloud.CodeOf(err), op, err)
	}
	if _, err := body.Seek(0, io.SeekStart); err != nil {
		return cloud.Object{}, cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return cloud.Object{}, cloud.Wrap(cloud.FailedPrecondition, op, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return cloud.Object{}, cloud.Wrap(cloud.FailedPrecondition, op, err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed

	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), readerCtx{ctx, body})
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return cloud.Object{}, cloud.Wrap(codeOfIO(err), op, err)
	}
	if opts.SHA256 != "" && !strings.EqualFold(opts.SHA256, hex.EncodeToString(h.Sum(nil))) {
		return cloud.Object{}, cloud.Errorf(cloud.InvalidArgument, op,
			"the bytes written do not match the SHA-256 given for %q", key)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return cloud.Object{}, cloud.Wrap(cloud.FailedPrecondition, op, err)
	}
	return s.statPath(key, p, n)
}

// Open implements cloud.Store.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, wrapPathErr("local store open", key, err)
	}
	return f, nil
}

// Stat implements cloud.Store.
func (s *Store) Stat(ctx context.Context, key string) (cloud.Object, error) {
	p, err := s.path(key)
	if err != nil {
		return cloud.Object{}, err
	}
	return s.statPath(key, p, -1)
}

func (s *Store) statPath(key, p string, want int64) (cloud.Object, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return cloud.Object{}, wrapPathErr("local store stat", key, err)
	}
	if want >= 0 && fi.Size() != want {
		return cloud.Object{}, cloud.Errorf(cloud.Unavailable, "local store put",
			"wrote %d bytes for %q but the file has %d", want, key, fi.Size())
	}
	return cloud.Object{
		Key:         key,
		URL:         s.URL(key),
		Size:        fi.Size(),
		ContentType: mime.TypeByExtension(filepath.Ext(p)),
		ModTime:     fi.ModTime(),
	}, nil
}

// Delete implements cloud.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return cloud.Wrap(cloud.FailedPrecondition, "local store delete", err)
	}
	return nil
}

// URL implements cloud.Store: a file:// URL of the object's path.
func (s *Store) URL(key string) string {
	p, err := s.path(key)
	if err != nil {
		return ""
	}
	p = filepath.ToSlash(p)
	if !strings.HasPrefix(p, "/") { // C:/… on Windows
		p = "/" + p
	}
	return (&url.URL{Scheme: "file", Path: p}).String()
}

func wrapPathErr(op, key string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return cloud.Errorf(cloud.NotFound, op, "no object with key %q", key)
	}
	return cloud.Wrap(cloud.FailedPrecondition, op, err)
}

func codeOfIO(err error) cloud.Code {
	if c := cloud.CodeOf(err); c != cloud.Unknown {
		return c
	}
	return cloud.FailedPrecondition
}

// readerCtx stops a long copy when the context ends.
type readerCtx struct {
	ctx context.Context
	r   io.Reader
}

func (r readerCtx) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	return r.r.Read(p)
}
