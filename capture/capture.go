// Package capture delivers frames from camera-like devices behind one interface, Source.
//
// Three kinds of source exist:
//
//   - a real camera, read through github.com/pion/mediadevices (its raw-frame packages and
//     camera driver only: no WebRTC, no codecs, no microphone);
//   - a synthetic test pattern, for machines without a camera and for tests;
//   - a folder of photos replayed as if it were a camera, for demos and tests.
//
// Every source runs one producer goroutine that converts each frame into an *image.RGBA the
// source owns and publishes it as "the latest frame". ReadFrame copies the latest frame into
// the caller's image, so a slow reader never makes the device queue up stale frames and the
// caller never shares memory with the device driver (mediadevices reuses its buffers).
package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"strings"
)

// Source delivers frames from a camera-like device.
//
// ReadFrame, Snapshot and Info may be called from any goroutine, also while Close runs.
// Frames are meant for one reader: two goroutines calling ReadFrame share the stream, each
// frame going to one of them.
type Source interface {
	// ReadFrame blocks until the next frame (paced at the source's rate), copies it into dst
	// (reused when its size matches, reallocated otherwise) and returns it. The caller owns
	// the returned image; the source never writes to it afterwards. After Close it returns
	// ErrClosed.
	ReadFrame(ctx context.Context, dst *image.RGBA) (*image.RGBA, error)
	// Snapshot returns the photo to keep for the current moment: a file source returns the
	// original file's bytes, content type and name; cameras encode the latest frame as JPEG
	// (quality 92). It waits for the first frame if none has arrived yet.
	Snapshot(ctx context.Context) (Shot, error)
	// Info describes the source: a human readable name, the frame size and rate.
	Info() Info
	// Close releases the device and stops the producer goroutine. It is safe to call twice;
	// the second call does nothing and returns nil.
	Close() error
}

// Shot is a photo taken by Snapshot.
type Shot struct {
	Data        []byte // encoded photo, ready to store or upload
	ContentType string // MIME type of Data, e.g. "image/jpeg"
	Name        string // suggested file name, e.g. "photo-20240131-154502-073.jpg"
	// Image is the decoded photo. The source does not modify it after Snapshot returns;
	// for a file source it is the decoded original and should be treated as read-only.
	Image image.Image
}

// Info describes a source.
type Info struct {
	Name          string  // human readable, e.g. "HD Webcam C270" or "Test pattern"
	Width, Height int     // frame size in pixels
	FPS           float32 // frames per second the source aims for
}

// Device is a camera and the formats it offers.
type Device struct {
	ID      string // pass as "camera:ID" to Open; stable across runs where the OS allows
	Label   string // human readable name
	Formats []Format
}

// Format is one capture mode a camera offers.
type Format struct {
	Width, Height int
	FPS           float32 // 0 when the driver does not report a rate
	Pixel         string  // pixel format as mediadevices names it, e.g. "MJPEG", "YUYV"
}

func (f Format) String() string {
	if f.FPS > 0 {
		return fmt.Sprintf("%dx%d %s %gfps", f.Width, f.Height, f.Pixel, f.FPS)
	}
	return fmt.Sprintf("%dx%d %s", f.Width, f.Height, f.Pixel)
}

// Options tune Open. The zero value asks for each source's default.
type Options struct {
	// Wanted frame size; 0 means the source's default: 1280x720 for cameras (the closest
	// mode they offer is used), 640x480 for the synthetic and file sources. When only one
	// is set the other follows the default aspect ratio.
	Width, Height int
}

// ErrNoCamera is matched (errors.Is) by Open's error when no camera exists, the one asked
// for is not there, it is in use by another application, or the app may not use it. Such
// errors read as a sentence meant for the user, e.g. "no camera is connected to this
// computer".
var ErrNoCamera = errors.New("no camera is available")

// cameraError explains in one sentence why no camera can be used. It matches ErrNoCamera
// with errors.Is while its message stays a plain sentence instead of a chain of prefixes,
// since the window shows it to the user as is.
type cameraError struct {
	msg   string
	cause error // the driver's error, for logs; nil when there is none
}

func noCamera(cause error, format string, args ...any) error {
	return &cameraError{msg: fmt.Sprintf(format, args...), cause: cause}
}

func (e *cameraError) Error() string        { return e.msg }
func (e *cameraError) Is(target error) bool { return target == ErrNoCamera }
func (e *cameraError) Unwrap() error        { return e.cause }

// ErrClosed is returned by ReadFrame and Snapshot once the source is closed.
var ErrClosed = errors.New("the camera source is closed")

// Open opens a source described by spec:
//
//	"synthetic"   a moving test pattern
//	"file:DIR"    the photos of folder DIR replayed as a camera, a new one every ~2 s
//	"camera"      the first camera that can be opened
//	"camera:ID"   the camera with that Device.ID (a label such as "video0" works too)
//	""            the first camera if the computer has any, else the synthetic pattern
func Open(spec string, opts Options) (Source, error) {
	if opts.Width < 0 || opts.Height < 0 {
		return nil, fmt.Errorf("capture: negative frame size %dx%d", opts.Width, opts.Height)
	}
	kind, arg, hasArg := strings.Cut(spec, ":")
	switch {
	case spec == "":
		devs, err := Cameras()
		if err == nil && len(devs) > 0 {
			return openCamera("", opts)
		}
		// Falling back only when no camera exists (not when one is busy or broken) keeps a
		// real problem visible instead of silently showing a test pattern.
		slog.Info("capture: no camera found, showing a test pattern")
		return openSynthetic(opts, syntheticFPS), nil
	case spec == "synthetic":
		return openSynthetic(opts, syntheticFPS), nil
	case kind == "file" && hasArg:
		return openFiles(arg, opts, fileConfig{})
	case kind == "camera" && !hasArg:
		return openCamera("", opts)
	case kind == "camera" && arg != "":
		return openCamera(arg, opts)
	}
	return nil, fmt.Errorf("capture: unknown source %q: use \"camera\", \"camera:ID\", "+
		"\"synthetic\" or \"file:DIR\"", spec)
}

// Cameras lists the cameras this computer offers, most preferred first. It returns an
// empty list and no error when there is none (also in builds without camera support).
func Cameras() ([]Device, error) {
	return cameras()
}

// size resolves the wanted frame size against a default, keeping the default's aspect ratio
// when only one side is given.
func (o Options) size(defW, defH int) (int, int) {
	switch {
	case o.Width > 0 && o.Height > 0:
		return o.Width, o.Height
	case o.Width > 0:
		return o.Width, max(1, o.Width*defH/defW)
	case o.Height > 0:
		return max(1, o.Height*defW/defH), o.Height
	}
	return defW, defH
}
