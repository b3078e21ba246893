package pipeline

import (
	"context"

	"github.com/multicloud/multicloud/cloud"
)

// PrepareStored is Prepare for a photo that is already in the store under key,
// put there by someone other than the pipeline (an upload straight to the
// bucket, which the S3-triggered function then labels). The job is marked as
// stored at key and url, so Run labels and records it where it lies instead of
// copying it to its content-derived key. key is relative to the store, as
// every key the pipeline records is.
func (p *Pipeline) PrepareStored(in Input, key, url string) (*Job, error) {
	if key == "" || url == "" {
		return nil, &StepError{Step: StepStore, Err: cloud.Errorf(cloud.InvalidArgument,
			"pipeline", "a stored photo needs its key and URL (got %q, %q)", key, url)}
	}
	job, err := p.Prepare(in)
	if err != nil {
		return nil, err
	}
	job.Key, job.URL, job.Stored = key, url, true
	if w, ok := p.Store.(cloud.WebURLer); ok {
		job.WebURL = w.WebURL(key)
	}
	return job, nil
}

// RunStored runs a job made by PrepareStored. Run leaves out its duplicate
// check for a job that is already stored, because for the pipeline's own jobs
// that means "stored by me, finish the job"; a photo that arrived in the store
// some other way may well be one the catalogue already holds (the app put it
// there and recorded it), and then nothing is labelled or written again.
func (p *Pipeline) RunStored(ctx context.Context, job *Job, watch func(Event)) error {
	if job.Record == nil && !job.Labelled && p.alreadyRecorded(ctx, job, watch) {
		return nil
	}
	return p.Run(ctx, job, watch)
}
