// Package pipeline is Multi-Cloud's main job: a photo is decoded and hashed,
// its original is put in the store, a labeller says what it shows, and a
// record is written to the catalogue.
//
// The pipeline holds the three roles as interfaces and never learns which
// provider serves each. Work is carried by a Job whose fields say which steps
// are done; every step can be run again on its own, and a Job saved as JSON
// after a crash resumes where it stopped (the original bytes are kept beside
// it by the caller). Steps are idempotent because everything is derived from
// the photo's content: its key, its record ID.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"log/slog"
	"path"
	"time"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/photo"
)

// Step names one stage of the pipeline.
type Step string

const (
	StepDecode Step = "decode"
	StepStore  Step = "store"
	StepLabel  Step = "label"
	StepRecord Step = "record"
)

// Steps in the order they run.
var Steps = []Step{StepDecode, StepStore, StepLabel, StepRecord}

// Pipeline runs jobs against the three roles.
type Pipeline struct {
	Store     cloud.Store
	Labeller  cloud.Labeller
	Catalogue cloud.Catalogue

	// MaxPixels bounds what is decoded; 0 means photo.DefaultMaxPixels.
	MaxPixels int
	// Owner is written into every record (see cloud.Record.Owner).
	Owner string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Input is a photo entering the pipeline.
type Input struct {
	Data   []byte
	Name   string // the original file name, if any
	Source string // "camera", "import", "function"
}

// Job is one photo on its way through the pipeline. The exported fields are
// its whole state, so a Job can be saved and resumed.
type Job struct {
	Name        string        `json:"name,omitempty"`
	Source      string        `json:"source"`
	SHA256      string        `json:"sha256"`
	ID          string        `json:"id"`
	Key         string        `json:"key"`
	ContentType string        `json:"contentType"`
	Bytes       int64         `json:"bytes"`
	Width       int           `json:"width"`
	Height      int           `json:"height"`
	CreatedAt   time.Time     `json:"createdAt"`
	URL         string        `json:"url,omitempty"` // set once stored
	WebURL      string        `json:"webUrl,omitempty"`
	Stored      bool          `json:"stored"`   // the store holds the original
	Labelled    bool          `json:"labelled"` // Labels is final
	Labels      []cloud.Label `json:"labels,omitempty"`
	Labeller    string        `json:"labeller,omitempty"`
	Record      *cloud.Record `json:"record,omitempty"` // set once recorded
	// Duplicate is true when the catalogue already held this photo; nothing
	// was stored or labelled again.
	Duplicate bool `json:"duplicate,omitempty"`

	data []byte
	img  image.Image
}

// Data is the photo's original bytes.
func (j *Job) Data() []byte { return j.data }

// Image is the decoded, oriented photo (nil for a Job resumed from JSON until
// it is decoded again).
func (j *Job) Image() image.Image { return j.img }

// Done reports whether the record is written.
func (j *Job) Done() bool { return j.Record != nil }

// StepError says which step failed. The Job keeps what earlier steps did, so
// the same Job can be run again to retry from the failed step.
type StepError struct {
	Step Step
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s failed: %v", e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// StepOf returns the step an error from Run or Prepare came from, or "".
func StepOf(err error) Step {
	var se *StepError
	if errors.As(err, &se) {
		return se.Step
	}
	return ""
}

// Event reports progress to a watcher (the window shows one line per step).
type Event struct {
	Step  Step
	State State
	Err   error // with StateFailed
}

// State is where a step is.
type State string

const (
	StateRunning State = "running"
	StateDone    State = "done"
	StateSkipped State = "skipped" // already done earlier, or a duplicate
	StateFailed  State = "failed"
)

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Prepare decodes and hashes a photo. It checks the image fully before
// anything is written anywhere, so bad input never leaves a partial trace.
func (p *Pipeline) Prepare(in Input) (*Job, error) {
	d, err := photo.Decode(in.Data, p.MaxPixels)
	if err != nil {
		return nil, &StepError{Step: StepDecode, Err: err}
	}
	sha := cloud.SHA256Hex(in.Data)
	created := p.now().UTC()
	return &Job{
		Name:        in.Name,
		Source:      in.Source,
		SHA256:      sha,
		ID:          cloud.RecordID(sha),
		Key:         ObjectKey(created, sha, d.ContentType),
		ContentType: d.ContentType,
		Bytes:       int64(len(in.Data)),
		Width:       d.Width,
		Height:      d.Height,
		CreatedAt:   created,
		data:        in.Data,
		img:         d.Image,
	}, nil
}

// ObjectKey is where a photo's original is stored: by UTC date, then by
// content hash, so keys sort by day and never collide.
func ObjectKey(t time.Time, sha256Hex, contentType string) string {
	return path.Join(t.UTC().Format("2006/01/02"), sha256Hex+photo.Extension(contentType))
}

// Attach gives a Job resumed from JSON its original bytes again. They must be
// the bytes the Job was prepared from.
func (j *Job) Attach(data []byte) error {
	if cloud.SHA256Hex(data) != j.SHA256 {
		return fmt.Errorf("the saved photo does not match its job %s", j.ID)
	}
	j.data = data
	return nil
}

// Process prepares and runs a photo in one call.
func (p *Pipeline) Process(ctx context.Context, in Input, watch func(Event)) (*Job, error) {
	job, err := p.Prepare(in)
	if err != nil {
		notify(watch, Event{Step: StepDecode, State: StateFailed, Err: err})
		return nil, err
	}
	notify(watch, Event{Step: StepDecode, State: StateDone})
	return job, p.Run(ctx, job, watch)
}

// Run does the steps of job that are not done yet. On failure it returns a
// *StepError and job keeps the steps that succeeded; calling Run again
// retries from there.
func (p *Pipeline) Run(ctx context.Context, job *Job, watch func(Event)) error {
	if job.Record != nil {
		return nil
	}
	if job.data == nil {
		return &StepError{Step: StepStore, Err: cloud.Errorf(cloud.FailedPrecondition,
			"pipeline", "job %s has no photo attached", job.ID)}
	}

	// A photo already in the catalogue is not stored or labelled again:
	// importing a folder twice leaves one record per photo.
	if !job.Stored && p.alreadyRecorded(ctx, job, watch) {
		return nil
	}

	if job.Stored {
		notify(watch, Event{Step: StepStore, State: StateSkipped})
	} else {
		notify(watch, Event{Step: StepStore, State: StateRunning})
		obj, err := p.Store.Put(ctx, job.Key, bytes.NewReader(job.data),
			cloud.PutOptions{ContentType: job.ContentType, SHA256: job.SHA256})
		if err != nil {
			return p.fail(watch, StepStore, err)
		}
		job.Stored, job.URL = true, obj.URL
		if job.URL == "" {
			job.URL = p.Store.URL(job.Key)
		}
		if w, ok := p.Store.(cloud.WebURLer); ok {
			job.WebURL = w.WebURL(job.Key)
		}
		notify(watch, Event{Step: StepStore, State: StateDone})
		slog.Debug("stored", "key", job.Key, "bytes", job.Bytes)
	}

	if job.Labelled {
		notify(watch, Event{Step: StepLabel, State: StateSkipped})
	} else {
		notify(watch, Event{Step: StepLabel, State: StateRunning})
		if job.img == nil {
			d, err := photo.Decode(job.data, p.MaxPixels)
			if err != nil {
				return p.fail(watch, StepLabel, err)
			}
			job.img = d.Image
		}
		labels, err := p.Labeller.Label(ctx, &cloud.Photo{
			Data: job.data, ContentType: job.ContentType, Image: job.img})
		if err != nil {
			return p.fail(watch, StepLabel, err)
		}
		job.Labels, job.Labeller, job.Labelled = labels, p.Labeller.Name(), true
		notify(watch, Event{Step: StepLabel, State: StateDone})
	}

	notify(watch, Event{Step: StepRecord, State: StateRunning})
	if err := p.Catalogue.Put(ctx, job.record(p.Owner, p.Store.Name())); err != nil {
		return p.fail(watch, StepRecord, err)
	}
	// The record kept and shown is the one read back from the catalogue, so
	// what a person sees is what the catalogue holds, not what was meant.
	rec, err := p.Catalogue.Get(ctx, job.ID)
	if err != nil {
		return p.fail(watch, StepRecord, fmt.Errorf("reading the record back: %w", err))
	}
	job.Record = rec
	job.img = nil // the window keeps its own copy; a finished job need not hold pixels
	notify(watch, Event{Step: StepRecord, State: StateDone})
	return nil
}

// alreadyRecorded reports whether the catalogue holds job's photo, and if so
// makes that record the job's and marks the remaining steps skipped.
func (p *Pipeline) alreadyRecorded(ctx context.Context, job *Job, watch func(Event)) bool {
	existing, err := p.Catalogue.Get(ctx, job.ID)
	if err != nil {
		if !cloud.IsNotFound(err) {
			// Only an optimisation: the record is written by ID, so storing
			// and labelling now and recording later still leaves one record.
			slog.Warn("could not check the catalogue for a duplicate", "id", job.ID,
				"err", err)
		}
		return false
	}
	job.Record, job.Duplicate = existing, true
	for _, s := range []Step{StepStore, StepLabel, StepRecord} {
		notify(watch, Event{Step: s, State: StateSkipped})
	}
	return true
}

func (j *Job) record(owner, store string) *cloud.Record {
	labels := j.Labels
	if labels == nil {
		labels = []cloud.Label{}
	}
	return &cloud.Record{
		ID:          j.ID,
		SHA256:      j.SHA256,
		URL:         j.URL,
		WebURL:      j.WebURL,
		Key:         j.Key,
		ContentType: j.ContentType,
		Bytes:       j.Bytes,
		Width:       j.Width,
		Height:      j.Height,
		Name:        j.Name,
		CreatedAt:   j.CreatedAt,
		Labels:      labels,
		Labeller:    j.Labeller,
		Source:      j.Source,
		Owner:       owner,
		Store:       store,
	}
}

func (p *Pipeline) fail(watch func(Event), step Step, err error) error {
	se := &StepError{Step: step, Err: err}
	notify(watch, Event{Step: step, State: StateFailed, Err: err})
	return se
}

func notify(watch func(Event), e Event) {
	if watch != nil {
		watch(e)
	}
}

// Delete removes a photo: its record first, so that nothing in the catalogue
// points at a missing original, then the original.
func (p *Pipeline) Delete(ctx context.Context, id string) error {
	rec, err := p.Catalogue.Get(ctx, id)
	if err != nil {
		return err
	}
	if err := p.Catalogue.Delete(ctx, id); err != nil {
		return err
	}
	if err := p.Store.Delete(ctx, rec.Key); err != nil {
		return fmt.Errorf("the record is deleted but its photo %s is not: %w", rec.Key, err)
	}
	return nil
}
