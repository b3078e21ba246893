// Package sqlitecat is the embedded default of the catalogue role: records in
// a SQLite database file, through modernc.org/sqlite (pure Go, so the
// catalogue needs no C compiler and no server).
//
// Each record is kept whole as JSON, so fields added later need no migration,
// beside an indexed table of its label names and scores so that a search by
// label reads the index, not every record. Listings are paged by keyset
// (created_at, id), which stays fast at any depth, unlike OFFSET.
package sqlitecat

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/multicloud/multicloud/cloud"
)

// Catalogue is a cloud.Catalogue on a SQLite file.
type Catalogue struct {
	db   *sql.DB
	path string
}

var _ cloud.Catalogue = (*Catalogue)(nil)

const schema = `
CREATE TABLE IF NOT EXISTS records (
	id         TEXT PRIMARY KEY,
	created_at INTEGER NOT NULL, -- Unix nanoseconds, UTC
	doc        TEXT NOT NULL     -- the record as JSON
);
CREATE INDEX IF NOT EXISTS records_newest ON records (created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS labels (
	record_id  TEXT NOT NULL REFERENCES records (id) ON DELETE CASCADE,
	name       TEXT NOT NULL,
	score      REAL NOT NULL,
	created_at INTEGER NOT NULL, -- copied from records so a search pages on one index
	PRIMARY KEY (record_id, name)
);
CREATE INDEX IF NOT EXISTS labels_search ON labels (name, created_at DESC, record_id DESC);
`

// Open opens (creating if needed) the catalogue in the SQLite file at path.
func Open(path string) (*Catalogue, error) {
	const op = "sqlite catalogue open"
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, cloud.Wrap(cloud.FailedPrecondition, op, err)
	}
	// WAL lets the gallery read while an import writes; busy_timeout makes a
	// second process (the CLI beside the window) wait instead of failing.
	dsn := (&url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: "_pragma=" +
		"busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
		"&_pragma=synchronous(NORMAL)"}).String()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, cloud.Wrap(cloud.FailedPrecondition, op, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, cloud.Errorf(cloud.FailedPrecondition, op, "%s: %v", path, err)
	}
	return &Catalogue{db: db, path: path}, nil
}

// Name implements cloud.Catalogue.
func (c *Catalogue) Name() string { return "sqlite:" + c.path }

// Close implements cloud.Catalogue.
func (c *Catalogue) Close() error { return c.db.Close() }

// Put implements cloud.Catalogue.
func (c *Catalogue) Put(ctx context.Context, rec *cloud.Record) error {
	const op = "sqlite catalogue put"
	if rec == nil || rec.ID == "" {
		return cloud.Errorf(cloud.InvalidArgument, op, "a record needs an id")
	}
	doc, err := json.Marshal(rec)
	if err != nil {
		return cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	created := rec.CreatedAt.UTC().UnixNano()
	tx, err := c.db.BeginTx(ctx, nil)
	if err != nil {
		return wrap(op, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO records (id, created_at, doc) VALUES (?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, doc = excluded.doc`,
		rec.ID, created, string(doc)); err != nil {
		return wrap(op, err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM labels WHERE record_id = ?`, rec.ID); err != nil {
		return wrap(op, err)
	}
	for _, l := range rec.Labels {
		name := cloud.NormalizeLabel(l.Name)
		if name == "" {
			continue
		}
		// A name given twice keeps its best score.
		if _, err := tx.ExecContext(ctx, `INSERT INTO labels (record_id, name, score, created_at)
			VALUES (?, ?, ?, ?) ON CONFLICT (record_id, name)
			DO UPDATE SET score = max(score, excluded.score)`,
			rec.ID, name, l.Score, created); err != nil {
			return wrap(op, err)
		}
	}
	return wrap(op, tx.Commit())
}

// Get implements cloud.Catalogue.
func (c *Catalogue) Get(ctx context.Context, id string) (*cloud.Record, error) {
	var doc string
	err := c.db.QueryRowContext(ctx, `SELECT doc FROM records WHERE id = ?`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cloud.Errorf(cloud.NotFound, "sqlite catalogue get", "no record %q", id)
	}
	if err != nil {
		return nil, wrap("sqlite catalogue get", err)
	}
	return decode(doc)
}

// List implements cloud.Catalogue.
func (c *Catalogue) List(ctx context.Context, q cloud.Query) (cloud.Page, error) {
	const op = "sqlite catalogue list"
	limit := q.Limit
	if limit <= 0 {
		limit = cloud.DefaultPageSize
	}
	after, afterID, err := parseToken(q.PageToken)
	if err != nil {
		return cloud.Page{}, cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	var rows *sql.Rows
	// Ask for one more than a page to know whether another page follows.
	if label := cloud.NormalizeLabel(q.Label); label != "" {
		rows, err = c.db.QueryContext(ctx, `SELECT r.doc, r.created_at, r.id
			FROM labels l JOIN records r ON r.id = l.record_id
			WHERE l.name = ? AND l.score >= ? AND (l.created_at, l.record_id) < (?, ?)
			ORDER BY l.created_at DESC, l.record_id DESC LIMIT ?`,
			label, q.MinScore, after, afterID, limit+1)
	} else {
		rows, err = c.db.QueryContext(ctx, `SELECT doc, created_at, id FROM records
			WHERE (created_at, id) < (?, ?) ORDER BY created_at DESC, id DESC LIMIT ?`,
			after, afterID, limit+1)
	}
	if err != nil {
		return cloud.Page{}, wrap(op, err)
	}
	defer rows.Close()
	var page cloud.Page
	var lastAt int64
	var lastID string
	for rows.Next() {
		if len(page.Records) == limit {
			page.NextPageToken = makeToken(lastAt, lastID)
			break
		}
		var doc string
		if err := rows.Scan(&doc, &lastAt, &lastID); err != nil {
			return cloud.Page{}, wrap(op, err)
		}
		rec, err := decode(doc)
		if err != nil {
			return cloud.Page{}, err
		}
		page.Records = append(page.Records, rec)
	}
	return page, wrap(op, rows.Err())
}

// Labels implements cloud.Catalogue.
func (c *Catalogue) Labels(ctx context.Context) ([]cloud.LabelCount, error) {
	rows, err := c.db.QueryContext(ctx, `SELECT name, count(*) FROM labels
		GROUP BY name ORDER BY count(*) DESC, name`)
	if err != nil {
		return nil, wrap("sqlite catalogue labels", err)
	}
	defer rows.Close()
	var out []cloud.LabelCount
	for rows.Next() {
		var lc cloud.LabelCount
		if err := rows.Scan(&lc.Name, &lc.Count); err != nil {
			return nil, wrap("sqlite catalogue labels", err)
		}
		out = append(out, lc)
	}
	return out, wrap("sqlite catalogue labels", rows.Err())
}

// Delete implements cloud.Catalogue.
func (c *Catalogue) Delete(ctx context.Context, id string) error {
	_, err := c.db.ExecContext(ctx, `DELETE FROM records WHERE id = ?`, id)
	return wrap("sqlite catalogue delete", err)
}

func decode(doc string) (*cloud.Record, error) {
	var rec cloud.Record
	if err := json.Unmarshal([]byte(doc), &rec); err != nil {
		return nil, cloud.Wrap(cloud.FailedPrecondition, "sqlite catalogue decode", err)
	}
	return &rec, nil
}

// The page token is the position of the last record returned. An empty token
// starts above every real position.
func makeToken(at int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at, 10) + ":" + id))
}

func parseToken(tok string) (int64, string, error) {
	if tok == "" {
		return int64(^uint64(0) >> 1), "\U0010FFFF", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, "", fmt.Errorf("bad page token")
	}
	at, id, ok := strings.Cut(string(raw), ":")
	n, err := strconv.ParseInt(at, 10, 64)
	if !ok || err != nil {
		return 0, "", fmt.Errorf("bad page token")
	}
	return n, id, nil
}

func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if c := cloud.CodeOf(err); c != cloud.Unknown {
		return cloud.Wrap(c, op, err)
	}
	if strings.Contains(err.Error(), "SQLITE_BUSY") || strings.Contains(err.Error(), "locked") {
		return cloud.Wrap(cloud.Unavailable, op, err)
	}
	return cloud.Wrap(cloud.FailedPrecondition, op, err)
}
