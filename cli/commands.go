package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/photo"
	"github.com/multicloud/multicloud/cloud/pipeline"
)

func init() {
	commands["import"] = command{flags: importFlags, run: runImport}
	commands["list"] = command{flags: listFlags, run: runList}
	commands["labels"] = command{flags: jsonFlag, run: runLabels}
	commands["show"] = command{flags: jsonFlag, run: runShow}
	commands["delete"] = command{flags: noFlags, run: runDelete}
	commands["version"] = command{flags: noFlags, run: func(_ context.Context, _ *Globals,
		env Env, _ any, _ []string) error {
		fmt.Fprintln(env.Stdout, "multicloud", Version)
		return nil
	}}
}

func noFlags(*flag.FlagSet) any { return nil }

func jsonFlag(fs *flag.FlagSet) any { return fs.Bool("json", false, "print JSON") }

// open loads the settings and opens every role.
func open(ctx context.Context, g *Globals, env Env) (*config.Config, *config.Roles, error) {
	cfg, err := loadConfig(g, env)
	if err != nil {
		return nil, nil, err
	}
	roles, err := cfg.Open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return cfg, roles, nil
}

// NewPipeline wires opened roles into a pipeline with the settings' limits.
func NewPipeline(cfg *config.Config, roles *config.Roles) *pipeline.Pipeline {
	return &pipeline.Pipeline{
		Store:     roles.Store,
		Labeller:  roles.Labeller,
		Catalogue: roles.Catalogue,
		MaxPixels: cfg.MaxMegapixels * 1_000_000,
		Owner:     cfg.Owner,
	}
}

// openCatalogue loads the settings and opens only the catalogue: reading
// records needs neither the store nor the model.
func openCatalogue(ctx context.Context, g *Globals, env Env) (cloud.Catalogue, error) {
	cfg, err := loadConfig(g, env)
	if err != nil {
		return nil, err
	}
	return cfg.OpenCatalogue(ctx)
}

type importOpts struct{ json *bool }

func importFlags(fs *flag.FlagSet) any {
	return &importOpts{json: fs.Bool("json", false, "print one JSON object per photo")}
}

// importLine is what import --json prints per file: the record's fields, or
// the error.
type importLine struct {
	File      string `json:"file"`
	Duplicate bool   `json:"duplicate,omitempty"`
	Error     string `json:"error,omitempty"`
	Step      string `json:"step,omitempty"`
	*cloud.Record
}

func runImport(ctx context.Context, g *Globals, env Env, o any, args []string) error {
	opts := o.(*importOpts)
	files := photo.Expand(args...)
	if len(files) == 0 && len(args) > 0 {
		return fmt.Errorf("no .jpg .jpeg .png .gif .webp files in %s", strings.Join(args, ", "))
	}
	if len(files) == 0 {
		return errors.New("import needs at least one photo or folder")
	}
	cfg, roles, err := open(ctx, g, env)
	if err != nil {
		return err
	}
	defer roles.Close()
	p := NewPipeline(cfg, roles)

	// Photos are decoded and stored in parallel; the labeller serialises its
	// own model runs. Results are printed in the order the files were given.
	type result struct {
		job *pipeline.Job
		err error
	}
	results := make([]chan result, len(files))
	for i := range results {
		results[i] = make(chan result, 1)
	}
	work := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 4, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				data, err := photo.ReadFile(files[i])
				if err != nil {
					results[i] <- result{err: err}
					continue
				}
				job, err := p.Process(ctx, pipeline.Input{Data: data,
					Name: filepath.Base(files[i]), Source: "import"}, nil)
				results[i] <- result{job, err}
			}
		}()
	}
	go func() {
		defer close(work)
		for i := range files {
			select {
			case work <- i:
			case <-ctx.Done():
				for j := i; j < len(files); j++ {
					results[j] <- result{err: ctx.Err()}
				}
				return
			}
		}
	}()

	failed := 0
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	for i, f := range files {
		r := <-results[i]
		if r.err != nil {
			failed++
			fmt.Fprintf(env.Stderr, "multicloud: %s: %s\n", f, oneLine(describe(r.err)))
			if *opts.json {
				printJSON(env.Stdout, importLine{File: f, Error: oneLine(describe(r.err)),
					Step: string(pipeline.StepOf(r.err))})
			}
			continue
		}
		if *opts.json {
			printJSON(env.Stdout, importLine{File: f, Duplicate: r.job.Duplicate,
				Record: r.job.Record})
			continue
		}
		note := ""
		if r.job.Duplicate {
			note = " (already recorded)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s%s\n", f, r.job.ID, labelSummary(r.job.Record.Labels), note)
		tw.Flush()
	}
	wg.Wait()
	if failed > 0 {
		fmt.Fprintf(env.Stderr, "multicloud: %d of %d photos failed\n", failed, len(files))
		return exitError(1)
	}
	return nil
}

// describe turns a pipeline error into the sentence a person reads.
func describe(err error) string {
	var se *pipeline.StepError
	if errors.As(err, &se) {
		inner := se.Err
		var ce *cloud.Error
		if errors.As(inner, &ce) && ce.Err != nil && se.Step == pipeline.StepDecode {
			return ce.Err.Error()
		}
		what := map[pipeline.Step]string{
			pipeline.StepStore:  "storing the photo failed",
			pipeline.StepLabel:  "labelling failed",
			pipeline.StepRecord: "writing the record failed",
		}[se.Step]
		if what == "" {
			what = string(se.Step) + " failed"
		}
		hint := ""
		if cloud.Retryable(inner) {
			hint = " (try again later)"
		}
		return fmt.Sprintf("%s: %v%s", what, inner, hint)
	}
	return err.Error()
}

func labelSummary(ls []cloud.Label) string {
	if len(ls) == 0 {
		return "(no labels)"
	}
	parts := make([]string, len(ls))
	for i, l := range ls {
		parts[i] = fmt.Sprintf("%s %.2f", l.Name, l.Score)
	}
	return strings.Join(parts, ", ")
}

type listOpts struct {
	json     *bool
	label    *string
	minScore *float64
	limit    *int
}

func listFlags(fs *flag.FlagSet) any {
	return &listOpts{
		json:     fs.Bool("json", false, "print one JSON record per line"),
		label:    fs.String("label", "", "only photos with this label"),
		minScore: fs.Float64("min-score", 0, "with --label, the least score (0–1)"),
		limit:    fs.Int("limit", 100, "at most this many records (0 for all)"),
	}
}

func runList(ctx context.Context, g *Globals, env Env, o any, args []string) error {
	opts := o.(*listOpts)
	if len(args) > 0 {
		return fmt.Errorf("list takes no arguments (got %q); use --label to search", args[0])
	}
	if *opts.limit < 0 {
		return fmt.Errorf("--limit %d is negative; 0 lists every record", *opts.limit)
	}
	if *opts.minScore < 0 || *opts.minScore > 1 {
		return fmt.Errorf("--min-score %v is not between 0 and 1", *opts.minScore)
	}
	cat, err := openCatalogue(ctx, g, env)
	if err != nil {
		return err
	}
	defer cat.Close()

	label := cloud.NormalizeLabel(*opts.label)
	if label != "" {
		if err := checkLabel(ctx, cat, label); err != nil {
			return err
		}
	}
	q := cloud.Query{Label: label, MinScore: float32(*opts.minScore)}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	if !*opts.json {
		fmt.Fprintln(tw, "ID\tTAKEN\tNAME\tLABELS")
	}
	left := *opts.limit
	for {
		q.Limit = cloud.DefaultPageSize
		if left > 0 {
			q.Limit = min(left, cloud.DefaultPageSize)
		}
		page, err := cat.List(ctx, q)
		if err != nil {
			return err
		}
		for _, r := range page.Records {
			if *opts.json {
				printJSON(env.Stdout, r)
				continue
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", r.ID, r.CreatedAt.Local().Format("2006-01-02 15:04"),
				r.Name, labelSummary(r.Labels))
		}
		left -= len(page.Records)
		if page.NextPageToken == "" || (*opts.limit > 0 && left <= 0) {
			break
		}
		q.PageToken = page.NextPageToken
	}
	return tw.Flush()
}

// checkLabel turns a search for a label no photo carries into an error that
// lists the labels there are, so a typo is noticed instead of giving silence.
func checkLabel(ctx context.Context, cat cloud.Catalogue, label string) error {
	counts, err := cat.Labels(ctx)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(counts))
	for _, lc := range counts {
		if lc.Name == label {
			return nil
		}
		names = append(names, lc.Name)
	}
	if len(names) == 0 {
		return fmt.Errorf("unknown label %q: no photo has been labelled yet", label)
	}
	sort.Strings(names)
	if len(names) > 30 {
		names = append(names[:30], "…")
	}
	return fmt.Errorf("unknown label %q: no photo carries it (labels in use: %s)", label,
		strings.Join(names, ", "))
}

func runLabels(ctx context.Context, g *Globals, env Env, o any, _ []string) error {
	cat, err := openCatalogue(ctx, g, env)
	if err != nil {
		return err
	}
	defer cat.Close()
	counts, err := cat.Labels(ctx)
	if err != nil {
		return err
	}
	for _, lc := range counts {
		if *o.(*bool) {
			printJSON(env.Stdout, lc)
		} else {
			fmt.Fprintf(env.Stdout, "%6d  %s\n", lc.Count, lc.Name)
		}
	}
	return nil
}

func runShow(ctx context.Context, g *Globals, env Env, o any, args []string) error {
	if len(args) != 1 {
		return errors.New("show needs one record ID (see multicloud list)")
	}
	cat, err := openCatalogue(ctx, g, env)
	if err != nil {
		return err
	}
	defer cat.Close()
	r, err := cat.Get(ctx, args[0])
	if cloud.IsNotFound(err) {
		return fmt.Errorf("no record with ID %q (see multicloud list)", args[0])
	}
	if err != nil {
		return err
	}
	if *o.(*bool) {
		return printJSON(env.Stdout, r)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\t%s\nname\t%s\nurl\t%s\nkey\t%s\nsha256\t%s\n", r.ID, r.Name, r.URL,
		r.Key, r.SHA256)
	fmt.Fprintf(tw, "type\t%s\nbytes\t%d\nsize\t%d×%d\ntaken\t%s\nsource\t%s\nlabeller\t%s\n",
		r.ContentType, r.Bytes, r.Width, r.Height, r.CreatedAt.Local().Format("2006-01-02 15:04:05"),
		r.Source, r.Labeller)
	for _, l := range r.Labels {
		fmt.Fprintf(tw, "label\t%-20s %.2f\n", l.Name, l.Score)
	}
	return tw.Flush()
}

func runDelete(ctx context.Context, g *Globals, env Env, _ any, args []string) error {
	if len(args) != 1 {
		return errors.New("delete needs one record ID (see multicloud list)")
	}
	cfg, err := loadConfig(g, env)
	if err != nil {
		return err
	}
	// Deleting needs the store and the catalogue, not the model.
	st, err := cfg.OpenStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	cat, err := cfg.OpenCatalogue(ctx)
	if err != nil {
		return err
	}
	defer cat.Close()
	p := &pipeline.Pipeline{Store: st, Catalogue: cat}
	if err := p.Delete(ctx, args[0]); cloud.IsNotFound(err) {
		return fmt.Errorf("no record with ID %q (see multicloud list)", args[0])
	} else if err != nil {
		return err
	}
	fmt.Fprintln(env.Stdout, "deleted", args[0])
	return nil
}
