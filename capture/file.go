package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/image/draw"

	photodec "github.com/multicloud/multicloud/cloud/photo"
)

// Defaults of the file source: a new photo every ~2 s, shown at 10 frames per second so a
// preview sees a live stream without copying the same picture 30 times a second.
const (
	fileInterval = 2 * time.Second
	fileFPS      = 10
)

// fileConfig holds what tests change; zero fields take the defaults.
type fileConfig struct {
	interval time.Duration
	fps      float32
	log      *slog.Logger
}

// photo is one decoded file of the folder, kept while it is shown so that Snapshot can
// return the original bytes.
type photo struct {
	name, contentType string
	data              []byte
	img               image.Image
}

type fileSource struct {
	*stream
	dir   string
	cfg   fileConfig
	names []string        // photo files of dir, sorted; rescanned at the end of each round
	next  int             // index in names of the photo to try next
	bad   map[string]bool // files that failed to load, logged once and then skipped
}

func openFiles(dir string, opts Options, cfg fileConfig) (Source, error) {
	if cfg.interval <= 0 {
		cfg.interval = fileInterval
	}
	if cfg.fps <= 0 {
		cfg.fps = fileFPS
	}
	if cfg.log == nil {
		cfg.log = slog.Default()
	}
	if dir == "" {
		return nil, errors.New("capture: no photo folder given: use \"file:DIR\"")
	}
	f := &fileSource{dir: dir, cfg: cfg, bad: map[string]bool{}}
	if err := f.scan(); err != nil {
		return nil, err
	}
	if len(f.names) == 0 {
		return nil, fmt.Errorf("capture: the folder %s has no photos to show "+
			"(looked for JPEG, PNG, GIF and WebP files)", dir)
	}
	first := f.load()
	if first == nil {
		return nil, fmt.Errorf("capture: none of the %d photos in %s could be read",
			len(f.names), dir)
	}
	w, h := opts.size(640, 480)
	f.stream = newStream(Info{Name: "Photos in " + filepath.Base(filepath.Clean(dir)),
		Width: w, Height: h, FPS: cfg.fps})
	f.run(func() { f.produce(first, w, h) })
	return f, nil
}

func (f *fileSource) produce(cur *photo, w, h int) {
	t := time.NewTicker(time.Duration(float32(time.Second) / f.cfg.fps))
	defer t.Stop()
	img := f.back(w, h)
	fit(img, cur.img)
	f.publish(img, cur)
	switchAt := time.Now().Add(f.cfg.interval)
	for {
		select {
		case <-f.stopping():
			return
		case now := <-t.C:
			if now.Before(switchAt) {
				f.repeat()
				continue
			}
			switchAt = now.Add(f.cfg.interval)
			// With a single usable photo load returns it again; redrawing it is harmless.
			if p := f.load(); p != nil {
				cur = p
			}
			img := f.back(w, h)
			fit(img, cur.img)
			f.publish(img, cur)
		}
	}
}

// scan lists the photo files of the folder by extension, so that other files (notes,
// sidecar files) are skipped silently rather than logged as broken photos.
func (f *fileSource) scan() error {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return fmt.Errorf("capture: cannot read the photo folder: %w", err)
	}
	f.names = f.names[:0]
	for _, e := range entries {
		if e.Type().IsRegular() || e.Type()&os.ModeSymlink != 0 {
			if photodec.IsPhotoName(e.Name()) {
				f.names = append(f.names, e.Name())
			}
		}
	}
	f.next = 0
	return nil
}

// load returns the next photo that decodes, skipping (and logging once) those that do not;
// nil when no file of the folder is usable.
func (f *fileSource) load() *photo {
	for tries := 0; tries <= len(f.names); tries++ {
		if f.next >= len(f.names) {
			// A new round: pick up photos added or removed since the last one.
			if err := f.scan(); err != nil {
				f.cfg.log.Warn("capture: cannot rescan the photo folder", "dir", f.dir,
					"err", err)
				f.next = 0
			}
			if len(f.names) == 0 {
				return nil
			}
		}
		name := f.names[f.next]
		f.next++
		if f.bad[name] {
			continue
		}
		p, err := loadPhoto(filepath.Join(f.dir, name))
		if err != nil {
			f.bad[name] = true
			f.cfg.log.Warn("capture: skipping a photo that cannot be read", "file",
				filepath.Join(f.dir, name), "err", err)
			continue
		}
		return p
	}
	return nil
}

// loadPhoto decodes a photo the way an import does: upright by its EXIF
// orientation, and refused from its header when it is too large to decode.
func loadPhoto(path string) (*photo, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := photodec.Decode(data, 0)
	if err != nil {
		return nil, err
	}
	return &photo{name: filepath.Base(path), contentType: d.ContentType, data: data,
		img: d.Image}, nil
}

// fit draws src scaled to fit dst, centred on black, the way a camera would frame it:
// frames stay opaque even for photos with transparency. BiLinear widens its kernel when
// shrinking, so large photos do not alias; it runs once per photo, not per frame.
func fit(dst *image.RGBA, src image.Image) {
	fill(dst, dst.Rect, 0, 0, 0)
	sb := src.Bounds()
	dw, dh := dst.Rect.Dx(), dst.Rect.Dy()
	w, h := dw, sb.Dy()*dw/sb.Dx()
	if h > dh {
		w, h = sb.Dx()*dh/sb.Dy(), dh
	}
	w, h = max(w, 1), max(h, 1)
	x, y := dst.Rect.Min.X+(dw-w)/2, dst.Rect.Min.Y+(dh-h)/2
	draw.BiLinear.Scale(dst, image.Rect(x, y, x+w, y+h), src, sb, draw.Over, nil)
}

// Snapshot returns the file of the photo shown in the latest frame, byte for byte.
func (f *fileSource) Snapshot(ctx context.Context) (Shot, error) {
	_, tag, err := f.current(ctx, false)
	if err != nil {
		return Shot{}, err
	}
	p := tag.(*photo)
	return Shot{Data: bytes.Clone(p.data), ContentType: p.contentType, Name: p.name,
		Image: p.img}, nil
}
