// Package cosmoscat is the catalogue role on Azure Cosmos DB (NoSQL API),
// through the Azure SDK for Go (azcosmos).
//
// Each record is one item in a container partitioned on /owner, so one
// person's uploads share a logical partition: listing, searching and counting
// labels are single-partition queries, which Cosmos DB's gateway serves in
// full (ORDER BY and TOP included) and which cost request units in proportion
// to that person's records, not to the whole container. The local user's
// records (an empty Owner) live in the partition named LocalOwner.
//
// A Catalogue is opened for one owner, whose records List and Labels show.
// Get, Delete and Update take only an id: they try the owner's partition
// first (a point operation, one request unit) and otherwise look the id up
// across partitions, so a record written for another owner is still found.
//
// Writes are upserts keyed by the record's content id, so importing a photo
// twice leaves one record. Update reads a record, changes it and writes it
// back only if nobody else wrote it in between (ETag, If-Match), failing with
// FailedPrecondition otherwise.
//
// The account is reached with its key (Options.Key) or a Microsoft Entra ID
// token credential (Options.Credential). Every call has an overall deadline
// (Options.Timeout) within which throttled requests are sent again after the
// wait the server asks for.
package cosmoscat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/multicloud/multicloud/cloud"
)

// DefaultTimeout bounds one catalogue call, waits for throttling included.
const DefaultTimeout = 30 * time.Second

// Defaults for Options.Database and Options.Container.
const (
	DefaultDatabase  = "multicloud"
	DefaultContainer = "records"
)

// KeyEnv is the environment variable an account key is conventionally read
// from; error messages name it when no other name is given.
const KeyEnv = "AZURE_COSMOS_KEY"

// Key is a Cosmos DB account key. It prints as "[redacted]" wherever it is
// formatted or logged, so that Options can be printed without leaking it.
type Key string

const redacted = "[redacted]"

func (Key) String() string               { return redacted }
func (Key) GoString() string             { return redacted }
func (Key) Format(f fmt.State, _ rune)   { f.Write([]byte(redacted)) }
func (Key) LogValue() slog.Value         { return slog.StringValue(redacted) }
func (Key) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Options say which account, database and container to use and how to reach
// them.
type Options struct {
	// Endpoint is the account's URL, https://ACCOUNT.documents.azure.com:443/.
	Endpoint  string
	Database  string // default DefaultDatabase
	Container string // default DefaultContainer

	// Key is the account key. When it is empty Credential is used instead.
	Key Key
	// Credential is a Microsoft Entra ID credential, typically
	// azidentity.NewDefaultAzureCredential. Its identity needs a Cosmos DB
	// data-plane role; data-plane roles cannot create databases or
	// containers, so with Entra ID both must exist already.
	Credential azcore.TokenCredential
	// CredentialName says in error messages which credential to check after
	// a 401 or 403. The default names KeyEnv for a key and the Entra
	// identity for a token credential.
	CredentialName string

	// Owner is whose records List and Labels show ("" is the local user).
	Owner string

	// HTTPClient sends the requests; nil means the Cosmos SDK's default. Use
	// it to trust a local server's certificate authority.
	HTTPClient *http.Client
	// Timeout bounds each call, throttling waits included; 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// Catalogue is a cloud.Catalogue in a Cosmos DB container.
type Catalogue struct {
	client     *azcosmos.Client
	container  *azcosmos.ContainerClient
	name       string
	owner      string // partition key value of Options.Owner
	timeout    time.Duration
	credential string
	entra      bool // a token credential rather than the account key
}

var _ cloud.Catalogue = (*Catalogue)(nil)

// Open connects to the account, checks that the credential is accepted and
// creates the database and container if they are missing.
func Open(ctx context.Context, o Options) (*Catalogue, error) {
	const op = "cosmos catalogue open"
	u, err := url.Parse(o.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		// The product never talks to Cosmos DB in clear: the key signs
		// requests but the records themselves would travel unencrypted.
		return nil, cloud.Errorf(cloud.InvalidArgument, op,
			"endpoint %q is not an https:// URL", o.Endpoint)
	}
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.Container == "" {
		o.Container = DefaultContainer
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	c := &Catalogue{
		name:       "cosmos:" + u.Host + "/" + o.Database + "/" + o.Container,
		owner:      partitionOf(o.Owner),
		timeout:    o.Timeout,
		credential: o.CredentialName,
	}
	copts := &azcosmos.ClientOptions{ClientOptions: azcore.ClientOptions{
		PerCallPolicies: []policy.Policy{newSessionPolicy(), throttlePolicy{limit: o.Timeout}},
		Retry:           policy.RetryOptions{ShouldRetry: shouldRetry},
	}}
	if o.HTTPClient != nil {
		copts.Transport = o.HTTPClient
	}
	switch {
	case o.Key != "":
		if c.credential == "" {
			c.credential = "the account key in " + KeyEnv
		}
		cred, err := azcosmos.NewKeyCredential(string(o.Key))
		if err != nil {
			// The SDK's message is about base64; it never quotes the key.
			return nil, cloud.Errorf(cloud.PermissionDenied, op,
				"%s is not a Cosmos DB account key (base64 expected)", c.credential)
		}
		c.client, err = azcosmos.NewClientWithKey(o.Endpoint, cred, copts)
		if err != nil {
			return nil, cloud.Wrap(cloud.InvalidArgument, op, err)
		}
	case o.Credential != nil:
		c.entra = true
		if c.credential == "" {
			c.credential = "the Microsoft Entra identity and its Cosmos DB data-plane role"
		}
		c.client, err = azcosmos.NewClient(o.Endpoint, tokenCredential{o.Credential}, copts)
		if err != nil {
			return nil, cloud.Wrap(cloud.InvalidArgument, op, err)
		}
	default:
		return nil, cloud.Errorf(cloud.PermissionDenied, op,
			"no credential: give an account key or a Microsoft Entra credential")
	}
	if err := c.prepare(ctx, o.Database, o.Container); err != nil {
		c.client.Close()
		return nil, err
	}
	return c, nil
}

// prepare makes sure the container exists, partitioned as this package
// expects and indexed for its ORDER BY. Reading comes first: with Entra ID
// reading is allowed where creating is not.
func (c *Catalogue) prepare(ctx context.Context, database, container string) error {
	const op = "cosmos catalogue open"
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	db, err := c.client.NewDatabase(database)
	if err != nil {
		return cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	if c.container, err = db.NewContainer(container); err != nil {
		return cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	resp, err := c.container.Read(ctx, nil)
	if statusOf(err) == http.StatusNotFound {
		slog.Info("creating cosmos db container", "database", database, "container", container,
			"partition_key", partitionPath)
		return c.create(ctx, db)
	}
	if err != nil {
		return c.fail(op, err)
	}
	props := resp.ContainerProperties
	if p := props.PartitionKeyDefinition.Paths; len(p) != 1 || p[0] != partitionPath {
		return cloud.Errorf(cloud.FailedPrecondition, op,
			"container %s is partitioned on %v; this catalogue needs %s", container, p,
			partitionPath)
	}
	if props.IndexingPolicy != nil && !hasNewestIndex(props.IndexingPolicy) {
		// Without it Cosmos DB rejects the listing's two-key ORDER BY.
		props.IndexingPolicy.CompositeIndexes = append(props.IndexingPolicy.CompositeIndexes,
			newestIndex())
		if _, err := c.container.Replace(ctx, *props, nil); err != nil {
			return cloud.Errorf(cloud.CodeOf(c.fail(op, err)), op, "container %s lacks "+
				"the composite index (created DESC, id DESC) and adding it failed: %v",
				container, err)
		}
		slog.Info("added composite index to cosmos db container", "container", container)
	}
	return nil
}

func (c *Catalogue) create(ctx context.Context, db *azcosmos.DatabaseClient) error {
	const op = "cosmos catalogue create container"
	// Created without throughput: serverless accounts refuse any, and a
	// provisioned account gives the container its default.
	refused := func(err error) error {
		return cloud.Errorf(cloud.PermissionDenied, op, "container %s/%s does not exist and "+
			"Microsoft Entra ID data-plane roles cannot create it: create it beforehand with "+
			"partition key %s (az cosmosdb sql database create, az cosmosdb sql container "+
			"create), or use the account key (HTTP %d)", db.ID(), c.container.ID(),
			partitionPath, statusOf(err))
	}
	_, err := c.client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: db.ID()}, nil)
	if c.entra && statusOf(err) == http.StatusForbidden {
		return refused(err)
	}
	if err != nil && statusOf(err) != http.StatusConflict {
		return c.fail(op, fmt.Errorf("database %s: %w", db.ID(), err))
	}
	props := azcosmos.ContainerProperties{
		ID: c.container.ID(),
		PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{
			Kind:  azcosmos.PartitionKeyKindHash,
			Paths: []string{partitionPath},
		},
		IndexingPolicy: &azcosmos.IndexingPolicy{
			Automatic:        true,
			IndexingMode:     azcosmos.IndexingModeConsistent,
			IncludedPaths:    []azcosmos.IncludedPath{{Path: "/*"}},
			ExcludedPaths:    []azcosmos.ExcludedPath{{Path: "/record/*"}, {Path: `/"_etag"/?`}},
			CompositeIndexes: [][]azcosmos.CompositeIndex{newestIndex()},
		},
	}
	_, err = db.CreateContainer(ctx, props, nil)
	if c.entra && statusOf(err) == http.StatusForbidden {
		return refused(err)
	}
	if err != nil && statusOf(err) != http.StatusConflict {
		return c.fail(op, fmt.Errorf("container %s: %w", c.container.ID(), err))
	}
	return nil
}

// newestIndex serves ORDER BY c.created DESC, c.id DESC.
func newestIndex() []azcosmos.CompositeIndex {
	return []azcosmos.CompositeIndex{
		{Path: "/created", Order: azcosmos.CompositeIndexDescending},
		{Path: "/id", Order: azcosmos.CompositeIndexDescending},
	}
}

func hasNewestIndex(p *azcosmos.IndexingPolicy) bool {
	for _, ci := range p.CompositeIndexes {
		if len(ci) != 2 || ci[0].Path != "/created" || ci[1].Path != "/id" {
			continue
		}
		// An index serves its exact order and the exact reverse.
		if ci[0].Order == ci[1].Order {
			return true
		}
	}
	return false
}

// Name implements cloud.Catalogue.
func (c *Catalogue) Name() string { return c.name }

// Close implements cloud.Catalogue.
func (c *Catalogue) Close() error {
	c.client.Close()
	return nil
}

func (c *Catalogue) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// scope is the partition of the owner the catalogue was opened for.
func (c *Catalogue) scope() azcosmos.PartitionKey { return azcosmos.NewPartitionKeyString(c.owner) }

// Put implements cloud.Catalogue: an upsert, so writing a record again
// replaces it.
//
// Known shortcoming: the upsert replaces the item in the partition of the
// record's owner only. Writing an id again with another owner leaves the
// earlier item in the earlier owner's partition, and Get then finds either.
// Finding out would cost a query on every write; the pipeline writes one
// owner per installation, so it does not happen there.
func (c *Catalogue) Put(ctx context.Context, rec *cloud.Record) error {
	const op = "cosmos catalogue put"
	doc, err := newDocument(rec)
	if err != nil {
		return cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	_, err = c.container.UpsertItem(ctx, doc.key(), body, nil)
	return c.fail(op, err)
}

// Get implements cloud.Catalogue.
func (c *Catalogue) Get(ctx context.Context, id string) (*cloud.Record, error) {
	const op = "cosmos catalogue get"
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	doc, err := c.read(ctx, op, id)
	if err != nil {
		return nil, err
	}
	return doc.Record, nil
}

// read finds the document with id: a point read in the catalogue's own
// partition, then a query across partitions.
func (c *Catalogue) read(ctx context.Context, op, id string) (*document, error) {
	if !validID(id) {
		return nil, cloud.Errorf(cloud.NotFound, op, "no record %q", id)
	}
	resp, err := c.container.ReadItem(ctx, c.scope(), id, nil)
	switch statusOf(err) {
	case 0:
		if err != nil {
			return nil, c.fail(op, err)
		}
		doc, err := decode(op, resp.Value)
		if err == nil && doc.ETag == "" {
			doc.ETag = resp.ETag
		}
		return doc, err
	case http.StatusNotFound:
		// Not in this owner's partition: it may be in another.
	case http.StatusInternalServerError:
		// cosmosdb-server answers a point read of a missing id with 500
		// where Azure says 404. The query below settles it on either: on
		// Azure a 500 is a passing fault, and the query's own answer (or
		// its own error) is as authoritative as the read would have been.
	default:
		return nil, c.fail(op, err)
	}
	return c.find(ctx, op, id)
}

// find looks id up in every partition. The gateway serves such a filter
// across partitions; it fans out, so it is the second choice.
func (c *Catalogue) find(ctx context.Context, op, id string) (*document, error) {
	pager := c.container.NewQueryItemsPager("SELECT * FROM c WHERE c.id = @id",
		azcosmos.NewPartitionKey(), &azcosmos.QueryOptions{
			QueryParameters: []azcosmos.QueryParameter{{Name: "@id", Value: id}},
		})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, c.fail(op, err)
		}
		// Pages of a cross-partition query may be empty before the end.
		if len(page.Items) > 0 {
			return decode(op, page.Items[0])
		}
	}
	return nil, cloud.Errorf(cloud.NotFound, op, "no record %q", id)
}

func decode(op string, b []byte) (*document, error) {
	var d document
	if err := json.Unmarshal(b, &d); err != nil || d.Record == nil {
		if err == nil {
			err = errors.New("item has no record")
		}
		return nil, cloud.Errorf(cloud.FailedPrecondition, op, "unreadable item: %v", err)
	}
	return &d, nil
}

// List implements cloud.Catalogue. It is one single-partition query per
// page: the owner's records after the page token's position, newest first,
// one more than the page to learn whether another follows. The label, score
// and position reach the server only as parameters.
func (c *Catalogue) List(ctx context.Context, q cloud.Query) (cloud.Page, error) {
	const op = "cosmos catalogue list"
	limit := q.Limit
	if limit <= 0 {
		limit = cloud.DefaultPageSize
	}
	after, err := parseToken(q.PageToken)
	if err != nil {
		return cloud.Page{}, cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	// The owner filter repeats what the partition key already says: Azure
	// routes on either, and cosmosdb-server ignores a query's partition key.
	query := "SELECT TOP @n VALUE c.record FROM c WHERE c.owner = @owner"
	params := []azcosmos.QueryParameter{
		{Name: "@n", Value: limit + 1},
		{Name: "@owner", Value: c.owner},
	}
	if after != nil {
		query += " AND (c.created < @at OR (c.created = @at AND c.id < @id))"
		params = append(params, azcosmos.QueryParameter{Name: "@at", Value: after.Created},
			azcosmos.QueryParameter{Name: "@id", Value: after.ID})
	}
	if label := cloud.NormalizeLabel(q.Label); label != "" {
		query += " AND EXISTS(SELECT VALUE l FROM l IN c.labels" +
			" WHERE l.name = @label AND l.score >= @min)"
		params = append(params, azcosmos.QueryParameter{Name: "@label", Value: label},
			azcosmos.QueryParameter{Name: "@min", Value: q.MinScore})
	}
	query += " ORDER BY c.created DESC, c.id DESC"

	ctx, cancel := c.deadline(ctx)
	defer cancel()
	pager := c.container.NewQueryItemsPager(query, c.scope(), &azcosmos.QueryOptions{
		QueryParameters: params,
		PageSizeHint:    int32(limit + 1),
	})
	var page cloud.Page
	// The server may split the TOP into several pages of its own.
	for pager.More() && len(page.Records) <= limit {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return cloud.Page{}, c.fail(op, err)
		}
		for _, item := range resp.Items {
			var rec cloud.Record
			if err := json.Unmarshal(item, &rec); err != nil {
				return cloud.Page{}, cloud.Errorf(cloud.FailedPrecondition, op,
					"unreadable item: %v", err)
			}
			page.Records = append(page.Records, &rec)
		}
	}
	if len(page.Records) > limit {
		page.Records = page.Records[:limit]
		page.NextPageToken = makeToken(page.Records[limit-1])
	}
	return page, nil
}

// Labels implements cloud.Catalogue. The names are read and counted here:
// GROUP BY is not served by cosmosdb-server, and reading only the names array
// of each record of one partition costs about as much as a grouped query
// would scan.
func (c *Catalogue) Labels(ctx context.Context) ([]cloud.LabelCount, error) {
	const op = "cosmos catalogue labels"
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	pager := c.container.NewQueryItemsPager(
		"SELECT VALUE c.labelNames FROM c WHERE c.owner = @owner", c.scope(),
		&azcosmos.QueryOptions{
			QueryParameters: []azcosmos.QueryParameter{{Name: "@owner", Value: c.owner}},
			PageSizeHint:    1000,
		})
	counts := map[string]int{}
	for pager.More() {
		resp, err := pager.NextPage(ctx)
		if err != nil {
			return nil, c.fail(op, err)
		}
		for _, item := range resp.Items {
			var names []string
			if err := json.Unmarshal(item, &names); err != nil {
				return nil, cloud.Errorf(cloud.FailedPrecondition, op,
					"unreadable item: %v", err)
			}
			for _, n := range names {
				counts[n]++
			}
		}
	}
	out := make([]cloud.LabelCount, 0, len(counts))
	for n, k := range counts {
		out = append(out, cloud.LabelCount{Name: n, Count: k})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// Delete implements cloud.Catalogue. A record that is already gone counts as
// deleted.
func (c *Catalogue) Delete(ctx context.Context, id string) error {
	const op = "cosmos catalogue delete"
	if !validID(id) {
		return nil // no such record can exist
	}
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	_, err := c.container.DeleteItem(ctx, c.scope(), id, nil)
	if s := statusOf(err); err == nil || s != http.StatusNotFound {
		return c.fail(op, err)
	}
	doc, err := c.find(ctx, op, id)
	if cloud.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = c.container.DeleteItem(ctx, doc.key(), id, nil)
	if statusOf(err) == http.StatusNotFound {
		return nil
	}
	return c.fail(op, err)
}

// Update reads the record id, lets change modify it and writes it back only
// if it is still the version that was read (If-Match on its ETag). When
// another writer got there first it fails with FailedPrecondition and writes
// nothing; the caller may read again and redo its change. change may not
// alter the id or the owner (the owner decides the partition); an error it
// returns is returned as is.
func (c *Catalogue) Update(ctx context.Context, id string,
	change func(rec *cloud.Record) error) error {
	const op = "cosmos catalogue update"
	ctx, cancel := c.deadline(ctx)
	defer cancel()
	old, err := c.read(ctx, op, id)
	if err != nil {
		return err
	}
	rec := old.Record
	if err := change(rec); err != nil {
		return err
	}
	doc, err := newDocument(rec)
	if err != nil {
		return cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	if doc.ID != old.ID || doc.Owner != old.Owner {
		return cloud.Errorf(cloud.InvalidArgument, op,
			"an update cannot change a record's id or owner")
	}
	if old.ETag == "" {
		// Without an ETag the replace would be unconditional.
		return cloud.Errorf(cloud.FailedPrecondition, op, "the server gave no ETag for %q", id)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return cloud.Wrap(cloud.InvalidArgument, op, err)
	}
	_, err = c.container.ReplaceItem(ctx, doc.key(), id, body,
		&azcosmos.ItemOptions{IfMatchEtag: &old.ETag})
	return c.fail(op, err)
}

// UpdateLabels replaces a record's labels (and, if labeller is not empty,
// the name of the labeller that found them) through Update, so a relabelling
// cannot silently undo another writer's change.
func (c *Catalogue) UpdateLabels(ctx context.Context, id, labeller string,
	labels []cloud.Label) error {
	return c.Update(ctx, id, func(rec *cloud.Record) error {
		rec.Labels = labels
		if labeller != "" {
			rec.Labeller = labeller
		}
		return nil
	})
}
