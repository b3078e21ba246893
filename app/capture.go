package app

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"github.com/multicloud/multicloud/capture"
	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/photo"
	"github.com/multicloud/multicloud/cloud/pipeline"
)

// countdownSteps is how many seconds the optional countdown lasts.
const countdownSteps = 3

// task is one photo for the pipeline: a new one (in, or a file to read at
// its turn) or a job to run again.
type task struct {
	in   *pipeline.Input
	file string // read when the task starts, so a large folder is not all in memory
	job  *pipeline.Job
	// shown is the photo as the result panel shows it; nil means decode it.
	shown image.Image
}

// captureView is the capture tab: the preview on the left, the last photo
// and how its pipeline went on the right.
type captureView struct {
	u       *UI
	content fyne.CanvasObject

	src      capture.Source // UI goroutine only
	preview  *preview
	message  *widget.Label // why there is no preview
	noCamera *fyne.Container
	count    *canvas.Text // the countdown's number over the preview
	shutterB *widget.Button
	mirror   *widget.Check
	countdwn *widget.Check
	source   *widget.Label
	shooting bool // a countdown or snapshot is under way

	// The result panel.
	result  *fyne.Container
	status  *widget.Label
	photo   *canvas.Image
	steps   map[pipeline.Step]*stepRow
	failure *widget.Label
	retry   *widget.Button
	labels  *labelList
	record  *recordView
	queueL  *widget.Label
	banner  *fyne.Container
	bannerL *widget.Label

	// The job queue; UI goroutine only.
	queue   []task
	running bool
	cur     *pipeline.Job
	// batchFailures collects failures while more photos wait, to report
	// them together when the queue is empty.
	batchFailures []string
	batchSize     int
}

// stepRow shows one pipeline step.
type stepRow struct {
	state *widget.Label
	icon  *widget.Icon
	bar   *widget.ProgressBarInfinite
}

func newCaptureView(u *UI) *captureView {
	c := &captureView{u: u, steps: map[pipeline.Step]*stepRow{}}
	c.preview = newPreview(u.do, c.sourceFailed)

	c.message = &widget.Label{Wrapping: fyne.TextWrapWord, Alignment: fyne.TextAlignCenter}
	c.noCamera = container.NewVBox(
		layout.NewSpacer(),
		widget.NewIcon(theme.WarningIcon()),
		c.message,
		container.NewCenter(container.NewHBox(
			&widget.Button{Text: "Try again", Icon: theme.ViewRefreshIcon(),
				OnTapped: c.start},
			&widget.Button{Text: "Settings", Icon: theme.SettingsIcon(),
				OnTapped: func() { u.tabs.SelectIndex(2) }},
		)),
		layout.NewSpacer(),
	)
	c.noCamera.Hide()
	c.count = &canvas.Text{TextSize: 160, Color: color.White, Alignment: fyne.TextAlignCenter,
		TextStyle: fyne.TextStyle{Bold: true}}
	c.count.Hide()
	black := canvas.NewRectangle(color.Black)

	cfg := u.opts.Config
	c.shutterB = &widget.Button{Text: "Take photo (Space)", Icon: theme.MediaPhotoIcon(),
		Importance: widget.HighImportance, OnTapped: c.shutter}
	c.mirror = &widget.Check{Text: "Mirror", Checked: cfg.Camera.Mirror,
		OnChanged: func(on bool) {
			c.preview.mirror.Store(on)
			cfg.Camera.Mirror = on
			c.u.saveSettings()
			c.keepSpaceForShutter()
		}}
	c.preview.mirror.Store(cfg.Camera.Mirror)
	c.countdwn = &widget.Check{Text: fmt.Sprintf("%d s countdown", countdownSteps),
		Checked: cfg.Camera.Countdown, OnChanged: func(on bool) {
			cfg.Camera.Countdown = on
			c.u.saveSettings()
			c.keepSpaceForShutter()
		}}
	c.source = &widget.Label{Truncation: fyne.TextTruncateEllipsis}
	importB := &widget.Button{Text: "Import…", Icon: theme.FolderOpenIcon(),
		OnTapped: c.openImportDialog}
	controls := container.NewBorder(nil, nil,
		container.NewHBox(c.shutterB, c.countdwn, c.mirror), importB, c.source)
	left := container.NewBorder(nil, controls, nil, nil,
		container.NewStack(black, c.preview.img, c.noCamera, container.NewCenter(c.count)))

	c.status = &widget.Label{Text: "Take a photo, or drop photos on the window to import them.",
		Wrapping: fyne.TextWrapWord}
	c.photo = photoView(fyne.NewSize(400, 300))
	stepsBox := container.New(layout.NewFormLayout())
	for _, s := range []pipeline.Step{pipeline.StepStore, pipeline.StepLabel,
		pipeline.StepRecord} {
		r := &stepRow{
			state: &widget.Label{Text: "waiting", Wrapping: fyne.TextWrapWord},
			icon:  widget.NewIcon(nil),
			bar:   widget.NewProgressBarInfinite(),
		}
		r.bar.Hide()
		r.bar.Stop()
		c.steps[s] = r
		name := &widget.Label{Text: stepTitle(s), TextStyle: fyne.TextStyle{Bold: true}}
		stepsBox.Add(container.NewHBox(r.icon, name))
		stepsBox.Add(container.NewStack(r.state, r.bar))
	}
	c.failure = &widget.Label{Wrapping: fyne.TextWrapWord, Importance: widget.DangerImportance}
	c.failure.Hide()
	c.retry = &widget.Button{Text: "Retry", Icon: theme.ViewRefreshIcon(),
		Importance: widget.WarningImportance, OnTapped: c.retryCurrent}
	c.retry.Hide()
	c.labels = newLabelList()
	c.record = newRecordView(u.app.Clipboard)
	c.record.set(nil)
	c.queueL = &widget.Label{}
	c.queueL.Hide()
	c.bannerL = &widget.Label{Wrapping: fyne.TextWrapWord}
	c.banner = container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()),
		&widget.Button{Text: "Finish them", OnTapped: c.finishPending}, c.bannerL)
	c.banner.Hide()

	// The result is hidden until there is one: empty steps would only
	// puzzle someone who has not taken a photo yet.
	c.result = container.NewVBox(
		c.photo,
		widget.NewSeparator(),
		stepsBox,
		c.failure,
		container.NewHBox(c.retry),
		c.queueL,
		&widget.Label{Text: "Labels", TextStyle: fyne.TextStyle{Bold: true}},
		c.labels.box,
		&widget.Label{Text: "Record", TextStyle: fyne.TextStyle{Bold: true}},
		c.record.form,
	)
	c.result.Hide()
	right := container.NewVScroll(container.NewVBox(c.banner, c.status, c.result))
	split := container.NewHSplit(left, right)
	split.Offset = 0.62
	c.content = split
	return c
}

// keepSpaceForShutter takes the keyboard focus away from a tapped check
// box: a focused widget gets Space before the window does, and Space would
// toggle the box instead of taking the photo.
func (c *captureView) keepSpaceForShutter() {
	c.u.win.Canvas().Unfocus()
}

func stepTitle(s pipeline.Step) string {
	switch s {
	case pipeline.StepStore:
		return "Store"
	case pipeline.StepLabel:
		return "Label"
	case pipeline.StepRecord:
		return "Record"
	}
	return string(s)
}

// spec is the capture source to use: --camera, else the settings'.
func (c *captureView) spec() string {
	if c.u.opts.Camera != "" {
		return c.u.opts.Camera
	}
	return c.u.opts.Config.Camera.Device
}

// start opens the capture source and starts the preview; a missing or busy
// camera becomes a message in the preview's place.
func (c *captureView) start() {
	c.stopPreview()
	cam := c.u.opts.Config.Camera
	spec := c.spec()
	c.noCamera.Hide()
	c.source.SetText("Opening the camera…")
	c.u.goBackground(func(ctx context.Context) {
		src, err := c.u.opts.OpenSource(spec, capture.Options{Width: cam.Width,
			Height: cam.Height})
		c.u.do(func() {
			if err != nil {
				c.sourceFailed(err)
				return
			}
			if ctx.Err() != nil {
				src.Close()
				return
			}
			c.stopPreview() // a second start may have finished first
			c.src = src
			info := src.Info()
			c.source.SetText(fmt.Sprintf("%s, %d×%d", info.Name, info.Width, info.Height))
			c.preview.img.Show()
			c.preview.run(c.u.ctx, src)
		})
	})
}

// stopPreview stops the preview's producer, then closes the source.
func (c *captureView) stopPreview() {
	c.preview.halt()
	if c.src != nil {
		if err := c.src.Close(); err != nil {
			slog.Warn("closing the camera", "err", err)
		}
		c.src = nil
	}
}

// sourceFailed shows why there is no preview. UI goroutine.
func (c *captureView) sourceFailed(err error) {
	slog.Warn("no camera preview", "spec", c.spec(), "err", err)
	msg := "The camera could not be opened: " + err.Error()
	if errors.Is(err, capture.ErrNoCamera) {
		msg = "No camera is available (" + err.Error() + "). Connect one, close the " +
			"program using it, or choose another source in Settings. You can still " +
			"import photos."
	}
	c.message.SetText(msg)
	c.source.SetText("No camera")
	c.preview.img.Hide()
	c.noCamera.Show()
}

// shutter takes a photo now, or after the countdown. UI goroutine.
func (c *captureView) shutter() {
	if c.shooting {
		return
	}
	if c.src == nil {
		c.u.showError("No photo was taken", errors.New("there is no camera to take it with"))
		return
	}
	c.shooting = true
	c.shutterB.Disable()
	src := c.src
	countdown := c.u.opts.Config.Camera.Countdown
	c.u.goBackground(func(ctx context.Context) {
		if countdown {
			for n := countdownSteps; n > 0; n-- {
				c.u.do(func() {
					c.count.Text = fmt.Sprint(n)
					c.count.Show()
					c.count.Refresh()
				})
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
		}
		shot, err := src.Snapshot(ctx)
		c.u.do(func() {
			c.shooting = false
			c.shutterB.Enable()
			c.count.Hide()
			if err != nil {
				c.u.showError("No photo was taken", err)
				return
			}
			slog.Info("photo taken", "name", shot.Name, "bytes", len(shot.Data))
			c.enqueue(task{in: &pipeline.Input{Data: shot.Data, Name: shot.Name,
				Source: "camera"}, shown: shot.Image})
		})
	})
}

// enqueue adds a photo to the queue and starts it if nothing runs.
func (c *captureView) enqueue(t task) {
	c.queue = append(c.queue, t)
	c.batchSize++
	c.next()
}

// next starts the first task of the queue. UI goroutine.
func (c *captureView) next() {
	c.showQueue()
	if c.running {
		return
	}
	if len(c.queue) == 0 {
		c.endBatch()
		return
	}
	if c.u.pl == nil {
		c.queue = nil
		c.batchSize = 0
		c.showQueue()
		c.u.showError("The photo cannot be stored", fmt.Errorf("the providers did not open: %w",
			c.u.opts.RolesErr))
		return
	}
	t := c.queue[0]
	c.queue = c.queue[1:]
	c.running = true
	c.showQueue()
	c.begin(t)
	c.u.goBackground(func(ctx context.Context) { c.runTask(ctx, t) })
}

func (c *captureView) showQueue() {
	if n := len(c.queue); n > 0 {
		c.queueL.SetText(fmt.Sprintf("%d more photo(s) waiting", n))
		c.queueL.Show()
	} else {
		c.queueL.Hide()
	}
}

// begin clears the result panel for a new task. UI goroutine.
func (c *captureView) begin(t task) {
	c.cur = t.job
	name := "the photo"
	switch {
	case t.in != nil && t.in.Name != "":
		name = t.in.Name
	case t.file != "":
		name = filepath.Base(t.file)
	case t.job != nil && t.job.Name != "":
		name = t.job.Name
	}
	c.status.SetText("Working on " + name + "…")
	c.result.Show()
	c.photo.Image = t.shown
	c.photo.Refresh()
	c.failure.Hide()
	c.retry.Hide()
	for _, r := range c.steps {
		r.set("waiting", nil, false)
	}
	c.labels.set(nil)
	c.labels.box.RemoveAll()
	c.record.set(nil)
}

// runTask prepares and runs one task. It runs on a background goroutine and
// reports to the UI through do.
func (c *captureView) runTask(ctx context.Context, t task) {
	job := t.job
	if t.file != "" {
		data, err := photo.ReadFile(t.file)
		if err != nil {
			c.u.do(func() { c.finish(nil, t, err) })
			return
		}
		t.in = &pipeline.Input{Data: data, Name: filepath.Base(t.file), Source: "import"}
	}
	if job == nil {
		var err error
		job, err = c.u.pl.Prepare(*t.in)
		if err != nil {
			c.u.do(func() { c.finish(nil, t, err) })
			return
		}
	}
	shown := t.shown
	if shown == nil {
		shown = job.Image()
		if shown == nil {
			if d, err := photo.Decode(job.Data(), c.u.pl.MaxPixels); err == nil {
				shown = d.Image
			}
		}
	}
	shown = forDisplay(shown)
	c.u.do(func() {
		c.cur = job
		c.photo.Image = shown
		c.photo.Refresh()
	})

	// Kept on disk before anything else happens, so that a crash or a failed
	// step loses nothing: the next start offers it again.
	if !job.Done() {
		if err := c.u.pending.save(job); err != nil {
			slog.Error("could not keep the photo in pending", "id", job.ID, "err", err)
		}
	}
	err := c.u.pl.Run(ctx, job, func(ev pipeline.Event) {
		c.u.do(func() { c.event(job, ev) })
	})
	if err == nil {
		c.u.pending.remove(job)
	}
	c.u.do(func() { c.finish(job, t, err) })
}

// event shows a step's progress. UI goroutine.
func (c *captureView) event(job *pipeline.Job, ev pipeline.Event) {
	if c.cur != job {
		return
	}
	r := c.steps[ev.Step]
	if r == nil {
		return
	}
	switch ev.State {
	case pipeline.StateRunning:
		r.set("working…", nil, true)
	case pipeline.StateDone:
		r.set("done", theme.ConfirmIcon(), false)
	case pipeline.StateSkipped:
		why := "already done"
		if job.Duplicate {
			why = "already recorded"
		}
		r.set(why, theme.ConfirmIcon(), false)
	case pipeline.StateFailed:
		r.set("failed: "+oneLine(ev.Err.Error()), theme.ErrorIcon(), false)
	}
}

func (r *stepRow) set(text string, icon fyne.Resource, running bool) {
	r.state.SetText(text)
	r.icon.SetResource(icon)
	if running {
		r.state.Hide()
		r.bar.Show()
		r.bar.Start()
	} else {
		r.bar.Stop()
		r.bar.Hide()
		r.state.Show()
	}
}

// finish shows how a task ended and starts the next. UI goroutine.
func (c *captureView) finish(job *pipeline.Job, t task, err error) {
	c.running = false
	if c.cur == job || job == nil {
		c.showOutcome(job, t, err)
	}
	if err != nil && len(c.queue) > 0 || err != nil && len(c.batchFailures) > 0 {
		name := nameOf(t)
		if name == "" {
			name = "a photo"
		}
		c.batchFailures = append(c.batchFailures, name+": "+oneLine(err.Error()))
	}
	if err == nil && job != nil && job.Record != nil {
		c.u.gallery.recorded(job.Record)
	}
	c.countPending()
	c.next()
}

func (c *captureView) showOutcome(job *pipeline.Job, t task, err error) {
	switch {
	case job == nil:
		// The photo could not even be read: there is nothing to retry.
		slog.Warn("photo not readable", "name", nameOf(t), "err", err)
		c.status.SetText("This photo could not be read.")
		c.failure.SetText(oneLine(err.Error()))
		c.failure.Show()
	case err != nil:
		step := pipeline.StepOf(err)
		slog.Warn("pipeline step failed", "id", job.ID, "step", step, "err", err)
		c.status.SetText(fmt.Sprintf("%s failed. The photo is kept: retry when the "+
			"problem is fixed.", stepTitle(step)))
		why := err
		var se *pipeline.StepError
		if errors.As(err, &se) {
			why = se.Err
		}
		hint := ""
		if !cloud.Retryable(err) {
			hint = " Retrying will only help once the cause is fixed (see Settings)."
		}
		c.failure.SetText(fmt.Sprintf("%s failed: %s.%s", stepTitle(step),
			oneLine(why.Error()), hint))
		c.failure.Show()
		c.retry.Show()
	default:
		slog.Info("photo recorded", "id", job.ID, "labels", len(job.Record.Labels),
			"duplicate", job.Duplicate)
		if job.Duplicate {
			c.status.SetText("This photo was already recorded; nothing was stored again.")
		} else {
			c.status.SetText("Recorded.")
		}
		c.labels.set(job.Record.Labels)
		c.record.set(job.Record)
	}
}

func nameOf(t task) string {
	if t.file != "" {
		return filepath.Base(t.file)
	}
	if t.in != nil {
		return t.in.Name
	}
	if t.job != nil {
		return t.job.Name
	}
	return ""
}

// endBatch reports the failures of a batch of imports once all have run.
func (c *captureView) endBatch() {
	failures := c.batchFailures
	c.batchFailures, c.batchSize = nil, 0
	if len(failures) == 0 {
		return
	}
	c.u.showError(fmt.Sprintf("%d photo(s) were not recorded (those that could be read "+
		"are kept; use Finish them to retry)", len(failures)),
		errors.New(strings.Join(failures, "\n")))
}

// retryCurrent runs the shown job again from the step that failed.
func (c *captureView) retryCurrent() {
	if c.cur == nil || c.running {
		return
	}
	c.enqueue(task{job: c.cur, shown: c.photo.Image})
}

// offerPending looks for photos an earlier session did not finish.
func (c *captureView) offerPending() { c.countPending() }

// countPending shows the banner when photos wait in pending. It reads the
// folder off the UI goroutine.
func (c *captureView) countPending() {
	c.u.goBackground(func(ctx context.Context) {
		jobs, err := c.u.pending.load()
		if err != nil {
			slog.Warn("reading pending photos", "err", err)
		}
		c.u.do(func() {
			n := 0
			for _, j := range jobs {
				if c.cur == nil || j.ID != c.cur.ID {
					n++
				}
			}
			if n == 0 {
				c.banner.Hide()
				return
			}
			c.bannerL.SetText(fmt.Sprintf("%d photo(s) were kept but not recorded yet.", n))
			c.banner.Show()
		})
	})
}

// finishPending runs every photo in pending again.
func (c *captureView) finishPending() {
	c.banner.Hide()
	c.u.goBackground(func(ctx context.Context) {
		jobs, err := c.u.pending.load()
		c.u.do(func() {
			if err != nil {
				c.u.showError("The kept photos could not be read", err)
				return
			}
			for _, j := range jobs {
				if c.running && c.cur != nil && c.cur.ID == j.ID {
					continue
				}
				c.enqueue(task{job: j})
			}
		})
	})
}

// oneLine keeps an error message on one line.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
