package cosmoscat

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/multicloud/multicloud/cloud"
)

// partitionPath is the container's partition key: one person's uploads share
// a logical partition, so browsing them is a single-partition query.
const partitionPath = "/owner"

// LocalOwner is the partition of the records of the local user (an empty
// Record.Owner): Cosmos DB would otherwise file them under an undefined key,
// which cannot be named in a query.
const LocalOwner = "local"

// partitionOf is the only place where an owner becomes a partition key value.
// Documents carry its result in their owner field and every item operation
// takes its key from that field (document.key), so the item and the key that
// addresses it cannot disagree.
func partitionOf(owner string) string {
	if owner == "" {
		return LocalOwner
	}
	return owner
}

// document is what the container holds for one record. The record is kept
// whole under "record", so fields added to it later need no migration and the
// owner the caller wrote comes back exactly; beside it sit the fields that
// queries use: the partition key, a sortable creation time and the labels
// with their names normalised.
type document struct {
	ID    string `json:"id"`
	Owner string `json:"owner"`
	// Created is CreatedAt in UTC at fixed width, so that comparing strings
	// orders by time. Cosmos DB numbers are doubles: Unix nanoseconds would
	// lose their last digits and records a few nanoseconds apart would tie.
	Created string `json:"created"`
	// Labels holds each normalised label name once, with its best score, for
	// the search query; LabelNames the names alone, for counting them.
	Labels     []indexedLabel `json:"labels"`
	LabelNames []string       `json:"labelNames"`
	Record     *cloud.Record  `json:"record"`
	// ETag is set by the server and only read back.
	ETag azcore.ETag `json:"_etag,omitempty"`
}

type indexedLabel struct {
	Name  string  `json:"name"`
	Score float32 `json:"score"`
}

// createdLayout formats to exactly 30 characters for every year 0000–9999.
const createdLayout = "2006-01-02T15:04:05.000000000Z"

func createdKey(t time.Time) string { return t.UTC().Format(createdLayout) }

// newDocument builds the stored form of rec.
func newDocument(rec *cloud.Record) (*document, error) {
	if rec == nil || rec.ID == "" {
		return nil, errors.New("a record needs an id")
	}
	if !validID(rec.ID) {
		return nil, errors.New("a record id must not contain '/', '\\', '?' or '#'")
	}
	if y := rec.CreatedAt.UTC().Year(); y < 0 || y > 9999 {
		return nil, errors.New("a record's creation time must fall in the years 0 to 9999")
	}
	d := &document{
		ID:         rec.ID,
		Owner:      partitionOf(rec.Owner),
		Created:    createdKey(rec.CreatedAt),
		Labels:     []indexedLabel{},
		LabelNames: []string{},
		Record:     rec,
	}
	// A name given twice keeps its best score, as in the SQLite catalogue.
	seen := map[string]int{}
	for _, l := range rec.Labels {
		name := cloud.NormalizeLabel(l.Name)
		if name == "" {
			continue
		}
		if i, ok := seen[name]; ok {
			d.Labels[i].Score = max(d.Labels[i].Score, l.Score)
			continue
		}
		seen[name] = len(d.Labels)
		d.Labels = append(d.Labels, indexedLabel{Name: name, Score: l.Score})
		d.LabelNames = append(d.LabelNames, name)
	}
	return d, nil
}

// key addresses the document in its container.
func (d *document) key() azcosmos.PartitionKey { return azcosmos.NewPartitionKeyString(d.Owner) }

// validID reports whether Cosmos DB accepts id as an item id: these
// characters would change the item's URL.
func validID(id string) bool {
	return id != "" && len(id) <= 255 && !strings.ContainsAny(id, `/\?#`)
}

// pageToken is the position of the last record of a page: listings continue
// by keyset (created, id) rather than with Cosmos DB's own continuation
// token, so a page holds exactly the caller's Limit, a token stays valid
// while records are added or removed, and it does not depend on how a server
// encodes its continuations.
type pageToken struct {
	Created string `json:"c"`
	ID      string `json:"i"`
}

func makeToken(rec *cloud.Record) string {
	b, _ := json.Marshal(pageToken{Created: createdKey(rec.CreatedAt), ID: rec.ID})
	return base64.RawURLEncoding.EncodeToString(b)
}

func parseToken(s string) (*pageToken, error) {
	if s == "" {
		return nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	var t pageToken
	if err == nil {
		err = json.Unmarshal(raw, &t)
	}
	if err == nil {
		_, err = time.Parse(createdLayout, t.Created)
	}
	if err != nil || len(t.Created) != len(createdLayout) || t.ID == "" {
		return nil, errors.New("bad page token")
	}
	return &t, nil
}
