package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/multicloud/multicloud/cloud/photo"
	"github.com/multicloud/multicloud/cloud/pipeline"
)

// pendingStore keeps photos that are not recorded yet in <data>/pending:
// the original as <id><ext> and the job as <id>.json. A photo is written
// there before the pipeline starts and removed once its record exists, so a
// crash or a failed step loses nothing; the next start offers to finish it.
type pendingStore struct {
	dir string
}

func (p *pendingStore) photoPath(job *pipeline.Job) string {
	return filepath.Join(p.dir, job.ID+photo.Extension(job.ContentType))
}

func (p *pendingStore) jobPath(id string) string {
	return filepath.Join(p.dir, id+".json")
}

// save writes the photo, then the job. Both go through a temporary file and
// a rename, so a crash leaves either the old file or the new one, and a job
// file is never there without its photo.
func (p *pendingStore) save(job *pipeline.Job) error {
	if err := os.MkdirAll(p.dir, 0o755); err != nil {
		return err
	}
	if err := writeAtomic(p.photoPath(job), job.Data()); err != nil {
		return err
	}
	b, err := json.MarshalIndent(job, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(p.jobPath(job.ID), b)
}

// remove deletes a job's files once it is recorded.
func (p *pendingStore) remove(job *pipeline.Job) {
	for _, f := range []string{p.jobPath(job.ID), p.photoPath(job)} {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			slog.Warn("could not remove a finished photo from pending", "file", f, "err", err)
		}
	}
}

// load reads every saved job with its photo attached. A job that cannot be
// read is logged and left on disk for a person to look at.
func (p *pendingStore) load() ([]*pipeline.Job, error) {
	entries, err := os.ReadDir(p.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var jobs []*pipeline.Job
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		job, err := p.read(filepath.Join(p.dir, e.Name()))
		if err != nil {
			slog.Warn("skipping an unreadable pending photo", "file", e.Name(), "err", err)
			continue
		}
		jobs = append(jobs, job)
	}
	return jobs, nil
}

func (p *pendingStore) read(path string) (*pipeline.Job, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	job := &pipeline.Job{}
	if err := json.Unmarshal(b, job); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p.photoPath(job))
	if err != nil {
		return nil, fmt.Errorf("its photo: %w", err)
	}
	if err := job.Attach(data); err != nil {
		return nil, err
	}
	return job, nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}
