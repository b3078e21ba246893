package capture

import (
	"errors"
	"strings"
	"testing"
)

func TestOpenCameraWithoutCamera(t *testing.T) {
	devs, err := Cameras()
	if err != nil {
		t.Fatal(err)
	}
	if len(devs) > 0 {
		t.Skipf("this machine has cameras: %v", devs)
	}
	if devs == nil {
		t.Error("Cameras() returned nil, want an empty list")
	}
	for _, spec := range []string{"camera", "camera:video0"} {
		src, err := Open(spec, Options{})
		if err == nil {
			src.Close()
			t.Fatalf("Open(%q) succeeded without a camera", spec)
		}
		if !errors.Is(err, ErrNoCamera) {
			t.Errorf("Open(%q): %v does not wrap ErrNoCamera", spec, err)
		}
		// Meant for a person: no driver jargon, and it says what is missing.
		msg := err.Error()
		for _, jargon := range []string{"driver", "constraint", "v4l", "ioctl"} {
			if strings.Contains(msg, jargon) {
				t.Errorf("Open(%q) error %q mentions %q", spec, msg, jargon)
			}
		}
		if !strings.Contains(msg, "camera") {
			t.Errorf("Open(%q) error %q does not mention the camera", spec, msg)
		}
		t.Logf("Open(%q): %v", spec, err)
	}
	// The empty spec falls back to the test pattern.
	src, err := Open("", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if name := src.Info().Name; name != "Test pattern" {
		t.Errorf("Open(\"\") gave %q, want the test pattern", name)
	}
}

func TestOpenRejectsUnknownSpec(t *testing.T) {
	for _, spec := range []string{"webcam", "camera:", "synthetic:x"} {
		if src, err := Open(spec, Options{}); err == nil {
			src.Close()
			t.Errorf("Open(%q) succeeded", spec)
		}
	}
	if _, err := Open("synthetic", Options{Width: -1}); err == nil {
		t.Error("a negative size was accepted")
	}
}

func TestChooseFormat(t *testing.T) {
	mj := func(w, h int, fps float32) Format { return Format{w, h, fps, "MJPEG"} }
	yu := func(w, h int, fps float32) Format { return Format{w, h, fps, "YUYV"} }
	typical := []Format{ // a common USB 2 webcam
		mj(1920, 1080, 30), mj(1280, 720, 30), mj(640, 480, 30),
		yu(1920, 1080, 5), yu(1280, 720, 10), yu(640, 480, 30), yu(320, 240, 30),
	}
	tests := []struct {
		name    string
		offered []Format
		w, h    int
		want    Format
	}{
		{"720p prefers MJPEG", typical, 1280, 720, mj(1280, 720, 30)},
		{"1080p prefers MJPEG", typical, 1920, 1080, mj(1920, 1080, 30)},
		{"below 720p prefers YUYV", typical, 640, 480, yu(640, 480, 30)},
		{"closest size", typical, 1000, 600, mj(1280, 720, 30)},
		{"YUYV fallback", []Format{yu(1280, 720, 10), yu(640, 480, 30)}, 1280, 720,
			yu(640, 480, 30)},
		{"slow YUYV when nothing else", []Format{yu(1280, 720, 10), {640, 480, 30, "NV12"}},
			1280, 720, yu(1280, 720, 10)},
		{"YUY2 is YUYV", []Format{{1280, 720, 30, "YUY2"}}, 1280, 720,
			Format{1280, 720, 30, "YUY2"}},
		{"rate closest to 30", []Format{mj(1280, 720, 60), mj(1280, 720, 30),
			mj(1280, 720, 15)}, 1280, 720, mj(1280, 720, 30)},
		{"unknown rate", []Format{mj(1280, 720, 0)}, 1280, 720, mj(1280, 720, 0)},
	}
	for _, tc := range tests {
		got, err := chooseFormat(tc.offered, tc.w, tc.h)
		if err != nil || got != tc.want {
			t.Errorf("%s: got %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
}

func TestChooseFormatListsOffersWhenNothingFits(t *testing.T) {
	offered := []Format{{640, 480, 30, "NV12"}, {640, 480, 15, "NV12"}, {320, 240, 0, "Z16"}}
	_, err := chooseFormat(offered, 1280, 720)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"MJPEG or YUYV", "640x480 NV12 at 30/15 fps", "320x240 Z16"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
