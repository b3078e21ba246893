//go:build !nocamera && !(darwin && !cgo)

package capture

import (
	"errors"
	"image"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/pion/mediadevices/pkg/driver"
	"github.com/pion/mediadevices/pkg/frame"
	"github.com/pion/mediadevices/pkg/io/video"
	"github.com/pion/mediadevices/pkg/prop"
)

// fakeCamera is a mediadevices camera driver without hardware. Like the real ones it
// reuses one frame buffer, so the race detector catches a frame handed out unconverted.
type fakeCamera struct {
	props   []prop.Media
	busy    bool // VideoRecord fails with EBUSY, as v4l2 does when another app streams
	mu      sync.Mutex
	opened  bool
	closed  chan struct{}
	chosen  prop.Media
	reads   atomic.Int64 // frames delivered
	release atomic.Int64 // frames released
}

func (f *fakeCamera) Open() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.opened, f.closed = true, make(chan struct{})
	return nil
}

func (f *fakeCamera) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.opened {
		close(f.closed)
	}
	f.opened = false
	return nil
}

func (f *fakeCamera) Properties() []prop.Media { return f.props }

func (f *fakeCamera) VideoRecord(p prop.Media) (video.Reader, error) {
	if f.busy {
		return nil, syscall.EBUSY
	}
	f.mu.Lock()
	f.chosen = p
	closed := f.closed
	f.mu.Unlock()
	img := image.NewYCbCr(image.Rect(0, 0, p.Width, p.Height), image.YCbCrSubsampleRatio422)
	n := 0
	return video.ReaderFunc(func() (image.Image, func(), error) {
		select {
		case <-closed:
			return nil, nil, io.EOF
		case <-time.After(5 * time.Millisecond):
		}
		n++
		for i := range img.Y { // overwrite the shared buffer, as a driver does
			img.Y[i] = byte(n + i)
		}
		f.reads.Add(1)
		return img, func() { f.release.Add(1) }, nil
	}), nil
}

// withFakeCamera registers cam for the duration of the test.
func withFakeCamera(t *testing.T, cam *fakeCamera, label, name string) {
	t.Helper()
	m := driver.GetManager()
	if err := m.Register(cam, driver.Info{Label: label, Name: name,
		DeviceType: driver.Camera}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, d := range m.Query(driver.FilterDeviceType(driver.Camera)) {
			if d.Info().Label == label {
				m.Delete(d.ID())
			}
		}
	})
}

func media(w, h int, fps float32, f frame.Format) prop.Media {
	return prop.Media{Video: prop.Video{Width: w, Height: h, FrameRate: fps, FrameFormat: f}}
}

func TestCameraThroughMediadevices(t *testing.T) {
	cam := &fakeCamera{props: []prop.Media{
		media(1280, 720, 10, frame.FormatYUYV), media(640, 480, 30, frame.FormatYUYV),
		media(1280, 720, 30, frame.FormatMJPEG), media(1280, 720, 15, frame.FormatMJPEG),
	}}
	withFakeCamera(t, cam, "usb-Fake_Cam-video-index0;video9", "Fake Cam;usb-0000:00:14.0-1")

	devs, err := Cameras()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) != 1 || devs[0].ID != "usb-Fake_Cam-video-index0" ||
		devs[0].Label != "Fake Cam" || len(devs[0].Formats) != 4 {
		t.Fatalf("Cameras() = %+v", devs)
	}

	src, err := Open("camera:video9", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := cam.chosen; got.FrameFormat != frame.FormatMJPEG || got.Width != 1280 ||
		got.FrameRate != 30 {
		t.Errorf("recording %v, want MJPEG 1280x720 at 30 fps", got.Video)
	}
	if info := src.Info(); info != (Info{"Fake Cam", 1280, 720, 30}) {
		t.Errorf("Info() = %+v", info)
	}
	// While it is open it is listed with its formats, and cannot be opened twice.
	if devs, _ := Cameras(); len(devs) != 1 || len(devs[0].Formats) != 4 {
		t.Errorf("Cameras() while open = %+v", devs)
	}
	if s2, err := Open("camera", Options{}); !errors.Is(err, ErrNoCamera) {
		if s2 != nil {
			s2.Close()
		}
		t.Errorf("second Open: %v, want ErrNoCamera", err)
	}

	ctx := testContext(t)
	var dst *image.RGBA
	var prev []byte
	for range 5 {
		if dst, err = src.ReadFrame(ctx, dst); err != nil {
			t.Fatal(err)
		}
		if dst.Rect != image.Rect(0, 0, 1280, 720) {
			t.Fatalf("frame %v", dst.Rect)
		}
		if prev != nil && string(prev) == string(dst.Pix) {
			t.Error("two frames in a row are identical")
		}
		prev = append(prev[:0], dst.Pix...)
	}
	shot, err := src.Snapshot(ctx)
	if err != nil || shot.ContentType != "image/jpeg" || len(shot.Data) == 0 {
		t.Fatalf("Snapshot: %v %q", err, shot.ContentType)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-cam.closed:
	default:
		t.Error("the device was not closed")
	}
	if r, rel := cam.reads.Load(), cam.release.Load(); r == 0 || r != rel {
		t.Errorf("%d frames read, %d released", r, rel)
	}
	// Closed, it can be opened again.
	src, err = Open("camera", Options{})
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
}

func TestCameraErrors(t *testing.T) {
	busy := &fakeCamera{busy: true,
		props: []prop.Media{media(640, 480, 30, frame.FormatYUYV)}}
	withFakeCamera(t, busy, "busy-cam;video8", "Busy Cam;usb")
	_, err := Open("camera:busy-cam", Options{})
	if !errors.Is(err, ErrNoCamera) || !errors.Is(err, syscall.EBUSY) ||
		!strings.Contains(err.Error(), `"Busy Cam" is in use by another application`) {
		t.Errorf("busy camera: %v", err)
	}

	odd := &fakeCamera{props: []prop.Media{media(640, 480, 30, frame.FormatNV12)}}
	withFakeCamera(t, odd, "odd-cam;video7", "Odd Cam;usb")
	_, err = Open("camera:video7", Options{})
	if err == nil || errors.Is(err, ErrNoCamera) ||
		!strings.Contains(err.Error(), `"Odd Cam" cannot be used: it offers no picture `+
			`format this app can read (MJPEG or YUYV), only 640x480 NV12 at 30 fps`) {
		t.Errorf("camera without a readable format: %v", err)
	}

	_, err = Open("camera:nope", Options{})
	if !errors.Is(err, ErrNoCamera) || !strings.Contains(err.Error(), `there is no camera "nope"`) {
		t.Errorf("unknown camera: %v", err)
	}
}
