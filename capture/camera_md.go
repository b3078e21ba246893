//go:build !nocamera && !(darwin && !cgo)

package capture

// Real cameras through pion/mediadevices. Only its raw-frame packages and camera driver are
// imported: the root package pulls in WebRTC, codec packages need C libraries, and the
// microphone driver needs cgo. On Linux and Windows the camera driver still compiles
// without cgo but registers no device, so Cameras is simply empty there. On macOS it does
// not compile without cgo (its avfoundation package is cgo only), hence the constraint.
//
// Build with -tags nocamera to leave mediadevices out altogether (camera_none.go).

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	_ "github.com/pion/mediadevices/pkg/driver/camera" // registers the cameras found at init
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

const (
	// giveUpAfter is how long a camera may fail to deliver a picture (unreadable frames,
	// read timeouts) before the source reports it as stopped. Single corrupt MJPEG frames
	// are common and must not end the stream.
	giveUpAfter = 5 * time.Second
	// errorPause keeps an unplugged camera, whose reads fail at once, from spinning a core.
	errorPause = 20 * time.Millisecond
)

// cams serialises every call that changes a driver's state (Open, Properties, VideoRecord,
// Close): mediadevices' driver wrapper keeps its state in an unguarded field.
var cams struct {
	sync.Mutex
	inUse map[driver.Driver]Device // drivers held by open sources, with their formats
}

// cameraDrivers returns the registered cameras, the system's preferred one first.
func cameraDrivers() []driver.Driver {
	ds := driver.GetManager().Query(driver.FilterAnd(
		driver.FilterVideoRecorder(), driver.FilterDeviceType(driver.Camera)))
	slices.SortFunc(ds, func(a, b driver.Driver) int {
		return cmp.Or(cmp.Compare(b.Info().Priority, a.Info().Priority),
			cmp.Compare(a.Info().Label, b.Info().Label))
	})
	return ds
}

// describe names a driver. mediadevices' IDs are random per process, so Device.ID is the
// first part of the label instead: on Linux the /dev/v4l/by-id (or by-path) name, which
// survives reboots, followed by ";video0".
func describe(d driver.Driver) Device {
	info := d.Info()
	id, _, _ := strings.Cut(info.Label, ";")
	if id == "" {
		id = d.ID()
	}
	label, _, _ := strings.Cut(info.Name, ";")
	if label = strings.TrimSpace(label); label == "" {
		label = id
	}
	return Device{ID: id, Label: label}
}

// matches reports whether a user-given id names d: its Device.ID, any part of its label
// (such as "video0"), its device path, or mediadevices' own ID.
func matches(d driver.Driver, id string) bool {
	if d.ID() == id || describe(d).ID == id {
		return true
	}
	if strings.HasPrefix(id, "/dev/") {
		id = filepath.Base(id)
	}
	return slices.Contains(strings.Split(d.Info().Label, ";"), id)
}

func formatsOf(props []prop.Media) []Format {
	fs := make([]Format, 0, len(props))
	for _, p := range props {
		f := Format{Width: p.Width, Height: p.Height, FPS: p.FrameRate,
			Pixel: string(p.FrameFormat)}
		if !slices.Contains(fs, f) {
			fs = append(fs, f)
		}
	}
	sortFormats(fs)
	return fs
}

func cameras() ([]Device, error) {
	cams.Lock()
	defer cams.Unlock()
	devs := []Device{}
	for _, d := range cameraDrivers() {
		if dev, ok := cams.inUse[d]; ok {
			devs = append(devs, dev)
			continue
		}
		dev := describe(d)
		if err := d.Open(); err != nil {
			slog.Debug("capture: cannot query camera", "camera", dev.ID, "err", err)
			continue
		}
		dev.Formats = formatsOf(d.Properties())
		if err := d.Close(); err != nil {
			slog.Debug("capture: cannot close camera", "camera", dev.ID, "err", err)
		}
		// Nodes without formats are not cameras, e.g. the metadata node of a UVC webcam.
		if len(dev.Formats) > 0 {
			devs = append(devs, dev)
		}
	}
	return devs, nil
}

// errNoFormats marks a device that offers no format at all: not a camera to report.
var errNoFormats = errors.New("no formats")

func openCamera(id string, opts Options) (Source, error) {
	w, h := opts.size(1280, 720)
	cams.Lock()
	defer cams.Unlock()
	all := cameraDrivers()
	candidates := all
	if id != "" {
		candidates = slices.DeleteFunc(slices.Clone(all), func(d driver.Driver) bool {
			return !matches(d, id)
		})
	}
	switch {
	case len(all) == 0:
		return nil, noCameraError()
	case len(candidates) == 0:
		var names []string
		for _, d := range all {
			dev := describe(d)
			names = append(names, fmt.Sprintf("%q (%s)", dev.ID, dev.Label))
		}
		return nil, noCamera(nil, "there is no camera %q; the cameras found are %s", id,
			strings.Join(names, ", "))
	}
	var errs []error
	for _, d := range candidates {
		if dev, ok := cams.inUse[d]; ok {
			errs = append(errs, noCamera(nil, "the camera %q is already open in this app",
				dev.Label))
			continue
		}
		src, err := startCamera(d, w, h)
		if err == nil {
			return src, nil
		}
		if !errors.Is(err, errNoFormats) {
			errs = append(errs, err)
		}
	}
	switch len(errs) {
	case 0:
		return nil, noCameraError()
	case 1:
		return nil, errs[0]
	}
	return nil, errors.Join(errs...)
}

func noCameraError() error {
	if !cgoEnabled {
		return noCamera(nil, "this build of the app cannot use cameras "+
			"(it was built without cgo)")
	}
	return noCamera(nil, "no camera is connected to this computer")
}

// startCamera opens d in the mode closest to w×h and starts its producer. The caller holds
// cams.
func startCamera(d driver.Driver, w, h int) (Source, error) {
	dev := describe(d)
	if err := d.Open(); err != nil {
		return nil, deviceError(dev, err)
	}
	dev.Formats = formatsOf(d.Properties())
	if len(dev.Formats) == 0 {
		_ = d.Close()
		return nil, fmt.Errorf("camera %q: %w", dev.Label, errNoFormats)
	}
	mode, err := chooseFormat(dev.Formats, w, h)
	if err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("camera %q cannot be used: %w", dev.Label, err)
	}
	rec, ok := d.(driver.VideoRecorder)
	if !ok { // cameraDrivers filters on this; kept so a change there cannot panic here
		_ = d.Close()
		return nil, fmt.Errorf("camera %q cannot record video", dev.Label)
	}
	// The mode is passed as plain properties, not as constraints: the choice is ours, and
	// mediadevices' exact-format constraints would fail on cameras that lack it.
	r, err := rec.VideoRecord(prop.Media{Video: prop.Video{
		Width: mode.Width, Height: mode.Height, FrameRate: mode.FPS,
		FrameFormat: frame.Format(mode.Pixel),
	}})
	if err != nil {
		// The driver wrapper has closed the device already; closing it again would close
		// a file descriptor twice.
		return nil, deviceError(dev, err)
	}
	if cams.inUse == nil {
		cams.inUse = map[driver.Driver]Device{}
	}
	cams.inUse[d] = dev
	s := newStream(Info{Name: dev.Label, Width: mode.Width, Height: mode.Height,
		FPS: mode.FPS})
	s.release = func() error {
		cams.Lock()
		defer cams.Unlock()
		delete(cams.inUse, d)
		return d.Close()
	}
	s.run(func() { produceCamera(s, r, dev.Label) })
	slog.Info("capture: camera started", "camera", dev.ID, "mode", mode.String())
	return s, nil
}

// deviceError turns a driver error into a message for a person; the cases where the camera
// cannot be had at all match ErrNoCamera. The driver's error stays reachable with
// errors.Unwrap for logs.
func deviceError(dev Device, err error) error {
	switch {
	case errors.Is(err, syscall.EBUSY):
		return noCamera(err, "the camera %q is in use by another application; "+
			"close that application and try again", dev.Label)
	case errors.Is(err, os.ErrNotExist), errors.Is(err, syscall.ENODEV):
		return noCamera(err, "the camera %q was disconnected", dev.Label)
	case errors.Is(err, os.ErrPermission):
		return noCamera(err, "this app is not allowed to use the camera %q; check the "+
			"system's camera permissions", dev.Label)
	}
	return fmt.Errorf("the camera %q could not be started: %w", dev.Label, err)
}

// produceCamera reads frames until Close, converting each into a buffer the stream owns
// and releasing the driver's frame at once: the driver reuses its buffers.
func produceCamera(s *stream, r video.Reader, label string) {
	lastGood := time.Now()
	failing := false
	for {
		img, release, err := r.Read()
		select {
		case <-s.stopping():
			if err == nil && release != nil {
				release()
			}
			return
		default:
		}
		if err != nil {
			if errors.Is(err, io.EOF) || time.Since(lastGood) > giveUpAfter {
				s.fail(fmt.Errorf("the camera %q stopped delivering pictures: %w", label, err))
				return
			}
			if !failing { // log the first error of a run, not every corrupt frame
				slog.Warn("capture: camera frame lost", "camera", label, "err", err)
				failing = true
			}
			if !s.sleep(errorPause) {
				return
			}
			continue
		}
		b := img.Bounds()
		dst := s.back(b.Dx(), b.Dy())
		toRGBA(dst, img)
		if release != nil {
			release()
		}
		s.publish(dst, nil)
		lastGood, failing = time.Now(), false
	}
}
