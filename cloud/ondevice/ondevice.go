// Package ondevice is the labeller that runs on the user's own machine: a
// MobileNetV3-CenterNet object detector trained on COCO's 80 classes, run
// with ONNX Runtime, so that photos are labelled without any cloud account
// and without sending pixels anywhere.
//
// The model comes from the @vladmandic/human npm package (MIT) in TF.js
// format; `make assets` converts it to ONNX (see tfjs2onnx) and puts it with
// the ONNX Runtime shared library from the onnxruntime-node npm package (MIT)
// in assets/models. Nothing is fetched at run time: Open fails with a
// FailedPrecondition error naming the missing file when the assets are not
// there.
//
// Label letterboxes the photo onto the model's 512×512 input (see resizer),
// runs the converted graph, whose output is already the top 100 candidate
// boxes, drops those below the threshold, suppresses overlapping boxes and
// merges the rest per class. With Options.Faces, pigo's cascade also looks
// for faces in the same resampled input.
package ondevice

import (
	"context"
	"fmt"
	"image"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/multicloud/multicloud/cloud"
)

const (
	// ModelFile is the converted detector inside the model folder.
	ModelFile = "centernet.onnx"
	// DefaultThreshold is the lowest score a label is kept with.
	DefaultThreshold = 0.35

	// inputSize is the square the detector sees (the TF.js model's input).
	inputSize = 512
	// maxDetections is the K of the TopK inside the model: rows of output.
	maxDetections = 100
	// iouThreshold is human's default for the class-agnostic suppression
	// that follows the model: of two boxes overlapping more than this, only
	// the surer is kept, so a cat is not also reported as a dog in the same
	// place.
	iouThreshold = 0.4

	inputName  = "images"
	outputName = "detections"
	name       = "ondevice:centernet-coco"
)

// LibraryFile is the ONNX Runtime shared library's file name on this OS, as
// onnxruntime-node ships it and `make assets` places it.
func LibraryFile() string {
	switch runtime.GOOS {
	case "windows":
		return "onnxruntime.dll"
	case "darwin":
		return "libonnxruntime.1.dylib"
	}
	return "libonnxruntime.so.1"
}

// systemLibrary is the name handed to the dynamic loader when the model
// folder has no library, so that a system-wide installation is found.
func systemLibrary() string {
	switch runtime.GOOS {
	case "windows":
		return "onnxruntime.dll"
	case "darwin":
		return "libonnxruntime.dylib"
	}
	return "libonnxruntime.so"
}

// Options configure Open.
type Options struct {
	// ModelDir holds centernet.onnx (and usually the ORT library);
	// "" means FindModelDir().
	ModelDir string
	// LibraryPath is the ONNX Runtime shared library; "" means LibraryFile()
	// in ModelDir, then the system's dynamic loader search. A process loads
	// one library: the first successful Open decides, later ones reuse it.
	LibraryPath string
	// Threshold drops labels scoring below it; 0 means DefaultThreshold.
	Threshold float32
	// Faces also detects faces (label "face") with pigo.
	Faces bool
}

// Labeller implements cloud.Labeller. It is safe for concurrent use: calls
// are serialised around the one session, which already uses every core.
type Labeller struct {
	threshold float32
	faces     *faceFinder

	mu      sync.Mutex
	closed  bool
	session *ort.AdvancedSession
	input   *ort.Tensor[float32]
	output  *ort.Tensor[float32]
	runOpts *ort.RunOptions
	resize  *resizer
	nms     []detection
}

var _ cloud.Labeller = (*Labeller)(nil)

// ONNX Runtime's environment is per process and its library can be loaded
// only once, so every Labeller shares it. A mutex and flag rather than
// sync.Once: a failed first attempt (assets not yet made) must not stop a
// later Open from succeeding.
var ortEnv struct {
	sync.Mutex
	ready bool
	lib   string
}

func initORT(lib string) error {
	ortEnv.Lock()
	defer ortEnv.Unlock()
	if ortEnv.ready || ort.IsInitialized() {
		// A second Open reuses the library already loaded, whatever path it
		// names: a process cannot hold two ONNX Runtimes.
		ortEnv.ready = true
		return nil
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return err
	}
	// Photos are private: ONNX Runtime's usage telemetry (on Windows builds)
	// stays off. It still keeps a device id file in the user's cache folder
	// (~/.cache/Microsoft/DeveloperTools/.onnxruntime on Linux), which the
	// library writes when the environment is created and offers no way to
	// turn off.
	if err := ort.DisableTelemetry(); err != nil {
		slog.Debug("could not switch off ONNX Runtime telemetry", "err", err)
	}
	ortEnv.ready, ortEnv.lib = true, lib
	return nil
}

// newSessionOptions are the options every session of this model gets; the
// benchmark of bare ONNX Runtime uses them too, so that the two compare.
func newSessionOptions() (*ort.SessionOptions, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	// One photo at a time is labelled, so the whole machine goes to that
	// one run; the graph is a single chain, so inter-op threads would idle.
	if err := so.SetIntraOpNumThreads(runtime.NumCPU()); err != nil {
		so.Destroy()
		return nil, err
	}
	if err := so.SetInterOpNumThreads(1); err != nil {
		so.Destroy()
		return nil, err
	}
	// ONNX Runtime's worker threads otherwise spin for a while after each
	// run waiting for more work. The app shares the CPU with its window, the
	// camera and the pipeline, and there spinning backfires: on a 2-core
	// machine under load, one run took 250–280 ms with spinning and 85–115 ms
	// without (and half the CPU time).
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		so.Destroy()
		return nil, err
	}
	return so, nil
}

func missing(what, path string) error {
	return cloud.Errorf(cloud.FailedPrecondition, "ondevice open",
		"%s %s not found; run `make assets` to fetch and convert it", what, path)
}

// Open loads the model. It fails with FailedPrecondition, naming the file,
// when the model or the ONNX Runtime library is missing.
func Open(opts Options) (*Labeller, error) {
	const op = "ondevice open"
	dir := opts.ModelDir
	if dir == "" {
		dir = FindModelDir()
	}
	if dir == "" {
		return nil, cloud.Errorf(cloud.FailedPrecondition, op,
			"no model folder holding %s found (looked in $MULTICLOUD_MODELS, beside the "+
				"executable and in assets/models); run `make assets` to fetch and convert it",
			ModelFile)
	}
	model := filepath.Join(dir, ModelFile)
	if _, err := os.Stat(model); err != nil {
		return nil, missing("model", model)
	}
	lib := opts.LibraryPath
	if lib == "" {
		lib = filepath.Join(dir, LibraryFile())
		if _, err := os.Stat(lib); err != nil {
			lib = systemLibrary()
		}
	} else if _, err := os.Stat(lib); err != nil {
		return nil, missing("ONNX Runtime library", lib)
	}
	if err := initORT(lib); err != nil {
		if lib == systemLibrary() {
			return nil, cloud.Errorf(cloud.FailedPrecondition, op,
				"ONNX Runtime library %s not found, nor %s on the system (%v); "+
					"run `make assets` to fetch it",
				filepath.Join(dir, LibraryFile()), lib, err)
		}
		return nil, cloud.Wrap(cloud.FailedPrecondition, op, err)
	}

	l := &Labeller{threshold: opts.Threshold, resize: newResizer(inputSize)}
	if l.threshold <= 0 {
		l.threshold = DefaultThreshold
	}
	if err := l.open(model); err != nil {
		l.release()
		return nil, cloud.Wrap(cloud.FailedPrecondition, op, fmt.Errorf("%s: %w", model, err))
	}
	if opts.Faces {
		ff, err := openFaceFinder(dir)
		if err != nil {
			l.release()
			return nil, err
		}
		l.faces = ff
	}
	return l, nil
}

func (l *Labeller) open(model string) error {
	var err error
	if l.input, err = ort.NewEmptyTensor[float32](
		ort.NewShape(1, 3, inputSize, inputSize)); err != nil {
		return err
	}
	if l.output, err = ort.NewEmptyTensor[float32](
		ort.NewShape(1, maxDetections, 6)); err != nil {
		return err
	}
	if l.runOpts, err = ort.NewRunOptions(); err != nil {
		return err
	}
	so, err := newSessionOptions()
	if err != nil {
		return err
	}
	defer so.Destroy()
	l.session, err = ort.NewAdvancedSession(model, []string{inputName}, []string{outputName},
		[]ort.Value{l.input}, []ort.Value{l.output}, so)
	return err
}

func (l *Labeller) release() {
	if l.session != nil {
		l.session.Destroy()
		l.session = nil
	}
	if l.runOpts != nil {
		l.runOpts.Destroy()
		l.runOpts = nil
	}
	if l.input != nil {
		l.input.Destroy()
		l.input = nil
	}
	if l.output != nil {
		l.output.Destroy()
		l.output = nil
	}
}

// Name identifies the labeller and its model in records.
func (l *Labeller) Name() string {
	if l.faces != nil {
		return name + "+pigo-face"
	}
	return name
}

// Close frees the session. The ONNX Runtime environment stays loaded for
// the process, for any other labeller.
func (l *Labeller) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	l.release()
	return nil
}

func ctxErr(op string, err error) error {
	return cloud.Wrap(cloud.CodeOf(err), op, err)
}

// Label detects the COCO objects (and, if enabled, faces) in p.Image.
func (l *Labeller) Label(ctx context.Context, p *cloud.Photo) ([]cloud.Label, error) {
	const op = "ondevice label"
	if p == nil || p.Image == nil {
		return nil, cloud.Errorf(cloud.InvalidArgument, op, "no decoded image")
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(op, err)
	}
	labels, err := l.detect(ctx, p)
	if err != nil {
		return nil, err
	}
	return cloud.MergeLabels(labels, l.threshold), nil
}

func (l *Labeller) detect(ctx context.Context, p *cloud.Photo) ([]cloud.Label, error) {
	const op = "ondevice label"
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, cloud.Errorf(cloud.FailedPrecondition, op, "labeller is closed")
	}
	if err := l.resize.resize(p.Image, l.input.GetData()); err != nil {
		return nil, cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	// Waiting for the mutex or preprocessing may have outlasted ctx.
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(op, err)
	}
	if err := l.run(ctx); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, ctxErr(op, cerr)
		}
		return nil, cloud.Wrap(cloud.Unknown, op, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, ctxErr(op, err)
	}
	labels := l.decode(l.output.GetData())
	if l.faces != nil {
		// Faces are found in the same resampled input, still unchanged in
		// the input tensor: ONNX Runtime only reads it.
		labels = append(labels, l.faces.find(l.input.GetData(), inputSize, l.resize.content)...)
		if err := ctx.Err(); err != nil {
			return nil, ctxErr(op, err)
		}
	}
	return labels, nil
}

// run runs the session, terminating it early if ctx ends meanwhile.
func (l *Labeller) run(ctx context.Context) error {
	if ctx.Done() == nil {
		return l.session.RunWithOptions(l.runOpts)
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		l.runOpts.Terminate()
	})
	err := l.session.RunWithOptions(l.runOpts)
	if !stop() {
		// The terminate callback started: wait until it has set the flag,
		// then clear it, or every later run would stop at once.
		<-done
		if uerr := l.runOpts.UnsetTerminate(); uerr != nil && err == nil {
			err = uerr
		}
	}
	return err
}

// detection is one output row of the model.
type detection struct {
	x1, y1, x2, y2, score float32
	class                 int
}

// decode turns the model's rows (x1, y1, x2, y2, score, class in input
// pixels, best first) into labels with relative boxes, after suppressing
// overlapping boxes as human's centernet.ts does.
func (l *Labeller) decode(out []float32) []cloud.Label {
	dets := l.nms[:0]
	for i := 0; i+6 <= len(out); i += 6 {
		r := out[i : i+6]
		score, class := r[4], r[5]
		if !(score >= l.threshold) || math.IsNaN(float64(class)) {
			continue
		}
		c := int(class)
		if c < 0 || c >= len(cocoLabels) {
			continue
		}
		dets = append(dets, detection{r[0], r[1], r[2], r[3], score, c})
	}
	// TopK already sorted by score; keep it explicit in case a future
	// model does not.
	sort.SliceStable(dets, func(i, j int) bool { return dets[i].score > dets[j].score })
	kept := dets[:0]
	for _, d := range dets {
		ok := true
		for _, k := range kept {
			if iou(d, k) > iouThreshold {
				ok = false
				break
			}
		}
		if ok {
			kept = append(kept, d)
		}
	}
	l.nms = dets
	labels := make([]cloud.Label, 0, len(kept))
	for _, d := range kept {
		labels = append(labels, cloud.Label{
			Name:  cocoLabels[d.class],
			Score: min(d.score, 1),
			Box:   relBox(d, l.resize.content),
		})
	}
	return labels
}

func iou(a, b detection) float32 {
	ix := min(a.x2, b.x2) - max(a.x1, b.x1)
	iy := min(a.y2, b.y2) - max(a.y1, b.y1)
	if ix <= 0 || iy <= 0 {
		return 0
	}
	inter := ix * iy
	union := (a.x2-a.x1)*(a.y2-a.y1) + (b.x2-b.x1)*(b.y2-b.y1) - inter
	if union <= 0 {
		return 0
	}
	return inter / union
}

// relBox maps a box in model input pixels onto the oriented image, which
// occupies content of the input square. Coordinates are clamped because a
// box's extent may reach past the image edge into the padding.
func relBox(d detection, content image.Rectangle) *cloud.Box {
	ox, oy := float32(content.Min.X), float32(content.Min.Y)
	w, h := float32(content.Dx()), float32(content.Dy())
	cx := func(v float32) float32 { return min(max((v-ox)/w, 0), 1) }
	cy := func(v float32) float32 { return min(max((v-oy)/h, 0), 1) }
	x1, y1, x2, y2 := cx(d.x1), cy(d.y1), cx(d.x2), cy(d.y2)
	return &cloud.Box{X: x1, Y: y1, W: max(x2-x1, 0), H: max(y2-y1, 0)}
}

// FindModelDir returns the first folder holding centernet.onnx among
// $MULTICLOUD_MODELS, <executable dir>/models, <executable dir>/assets/models,
// ./assets/models and, walking up from the working directory, the
// assets/models of the first folder that also holds go.mod (so that tests in
// any package of the repository find it). It returns "" if none does.
func FindModelDir() string {
	for _, d := range modelDirCandidates() {
		if _, err := os.Stat(filepath.Join(d, ModelFile)); err == nil {
			return d
		}
	}
	return ""
}

func modelDirCandidates() []string {
	var dirs []string
	if d := os.Getenv("MULTICLOUD_MODELS"); d != "" {
		dirs = append(dirs, d)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		dirs = append(dirs, filepath.Join(filepath.Dir(exe), "models"),
			filepath.Join(filepath.Dir(exe), "assets", "models"))
	}
	dirs = append(dirs, filepath.Join("assets", "models"))
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			_, errMod := os.Stat(filepath.Join(d, "go.mod"))
			models := filepath.Join(d, "assets", "models")
			if _, err := os.Stat(models); err == nil && errMod == nil {
				dirs = append(dirs, models)
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return dirs
}
