// Package cloud defines the three roles that Multi-Cloud's pipeline is built on
// and the record that ties them together.
//
// A photo is kept by a Store (a local folder or AWS S3), described by a
// Labeller (an on-device model or Google Cloud Vision) and recorded in a
// Catalogue (an embedded SQLite database or Azure Cosmos DB). Each role is a
// small interface; providers live in packages of their own below this one and
// prove themselves by passing the role's conformance suite in cloud/roletest.
// The pipeline (cloud/pipeline) only ever sees the interfaces, so which
// provider serves a role is purely a matter of configuration (cloud/config).
//
// Errors that callers need to branch on carry a Code (see errors.go) rather
// than being matched by their text.
package cloud

import (
	"context"
	"image"
	"io"
	"time"
)

// Store keeps original photos as opaque objects addressed by key.
//
// Keys are slash-separated and may contain any Unicode character, spaces,
// '+' and '%'; a provider must map them so that the same key read back finds
// the same object. Put overwrites: the pipeline derives keys from content, so
// writing the same key twice writes the same bytes.
type Store interface {
	// Put stores body under key. The body is seekable so that a provider may
	// read it more than once (to checksum it, or to resend it on a retry).
	Put(ctx context.Context, key string, body io.ReadSeeker, opts PutOptions) (Object, error)

	// Open returns the object's bytes. A missing key is an error with code NotFound.
	Open(ctx context.Context, key string) (io.ReadCloser, error)

	// Stat describes an object without reading it. NotFound if missing.
	Stat(ctx context.Context, key string) (Object, error)

	// Delete removes the object. Deleting a key that is already gone succeeds.
	Delete(ctx context.Context, key string) error

	// URL is the stable address recorded for key (file:///…, s3://…). It never
	// carries credentials or a signature and does not expire.
	URL(key string) string

	// Name identifies the provider and its place, e.g. "local:/home/a/photos".
	Name() string

	Close() error
}

// PutOptions carry what a store may record beside the bytes.
type PutOptions struct {
	ContentType string
	// SHA256 is the hex digest of the body when the caller knows it; a
	// provider may use it to verify the write.
	SHA256 string
}

// Object describes a stored object.
type Object struct {
	Key         string
	URL         string
	Size        int64
	ContentType string
	ModTime     time.Time
}

// WebURLer is a store whose objects also have an https address.
type WebURLer interface {
	WebURL(key string) string
}

// Presigner is a store that can hand out a short-lived URL to read an object
// (for showing a private photo). The URL is a credential: show it, never
// store or log it.
type Presigner interface {
	Presign(ctx context.Context, key string, ttl time.Duration) (string, error)
}

// Labeller describes what a photo shows.
type Labeller interface {
	// Label returns the labels found in the photo, best first, with scores in
	// [0, 1]. A photo in which nothing is recognised gives an empty slice and
	// no error.
	Label(ctx context.Context, photo *Photo) ([]Label, error)

	// Name identifies the provider and its model, e.g. "ondevice:centernet-coco".
	Name() string

	Close() error
}

// Photo is a decoded photo as the pipeline hands it to a labeller: the
// original bytes as they were stored and the decoded image with its EXIF
// orientation already applied.
type Photo struct {
	Data        []byte
	ContentType string
	Image       image.Image
}

// Label is one thing a labeller saw.
type Label struct {
	// Name is normalised with NormalizeLabel so that every labeller's "Cat"
	// and "cat " are found by the same search.
	Name  string  `json:"name"`
	Score float32 `json:"score"`
	// Box is where the thing is, when the labeller locates it.
	Box *Box `json:"box,omitempty"`
	// MID and Topicality are Google Cloud Vision's knowledge-graph id and
	// relevance; other labellers leave them empty.
	MID        string  `json:"mid,omitempty"`
	Topicality float32 `json:"topicality,omitempty"`
}

// Box is a rectangle in coordinates relative to the oriented image: (0,0) is
// the top-left corner and (1,1) the bottom-right, so it holds at any size.
type Box struct {
	X float32 `json:"x"`
	Y float32 `json:"y"`
	W float32 `json:"w"`
	H float32 `json:"h"`
}

// Record is what the catalogue keeps about one photo.
type Record struct {
	// ID is derived from the photo's content (see RecordID), so importing the
	// same photo twice leaves one record.
	ID     string `json:"id"`
	SHA256 string `json:"sha256"`
	URL    string `json:"url"`
	// WebURL is the https form of URL where the store has one. Like URL it
	// is unsigned: private objects are viewed through a Presigner.
	WebURL      string    `json:"webUrl,omitempty"`
	Key         string    `json:"key"`
	ContentType string    `json:"contentType"`
	Bytes       int64     `json:"bytes"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Name        string    `json:"name,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	Labels      []Label   `json:"labels"`
	Labeller    string    `json:"labeller"`
	// Source says how the photo arrived: "camera", "import" or "function".
	Source string `json:"source"`
	// Owner groups one person's uploads; catalogues that partition their data
	// (Cosmos DB) partition on it. Empty means the local user.
	Owner string `json:"owner,omitempty"`
	// Store names the store that holds the original (Store.Name()).
	Store string `json:"store,omitempty"`
}

// Catalogue keeps records and finds them again.
type Catalogue interface {
	// Put writes the record, replacing any record with the same ID.
	Put(ctx context.Context, rec *Record) error

	// Get reads one record. NotFound if there is none with that ID.
	Get(ctx context.Context, id string) (*Record, error)

	// List returns records newest first (by CreatedAt, then ID), one page at a
	// time. With q.Label set only records carrying that label with at least
	// q.MinScore are returned.
	List(ctx context.Context, q Query) (Page, error)

	// Labels returns every label name in the catalogue with how many records
	// carry it, most common first.
	Labels(ctx context.Context) ([]LabelCount, error)

	// Delete removes the record. Deleting an ID that is already gone succeeds.
	Delete(ctx context.Context, id string) error

	Name() string
	Close() error
}

// Query selects a page of records.
type Query struct {
	Label    string
	MinScore float32
	// Limit is the page size; 0 means DefaultPageSize.
	Limit int
	// PageToken continues a listing where the previous Page ended. It is
	// opaque and only valid for the same Label and MinScore.
	PageToken string
}

// DefaultPageSize is the page size used when a Query leaves Limit at zero.
const DefaultPageSize = 50

// Page is one page of a listing.
type Page struct {
	Records []*Record
	// NextPageToken is empty on the last page.
	NextPageToken string
}

// LabelCount is how many records carry a label.
type LabelCount struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}
