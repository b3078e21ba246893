// Command benchtable reads `go test -bench` output on standard input and
// prints the figures `make bench` reports: one row per benchmark, then the
// ratios the project has goals for, each against its goal.
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// A ratio compares a benchmark of the project's code (Ours) with the same
// work done by the library or tool alone (Base): how much the project adds.
type ratio struct {
	what       string
	ours, base string // benchmark names without "Benchmark" and the -N suffix
	metric     string // "ns/op" or a custom metric; ratio = ours/base
	goal       float64
	higherGood bool // for throughput metrics the goal is a minimum
}

var ratios = []ratio{
	{what: "S3 upload 1 MiB: project / aws s3 cp (MB/s)", ours: "S3Upload/1MiB",
		base: "AWSCLIUpload/1MiB", metric: "MB/s", goal: 1.0, higherGood: true},
	{what: "S3 upload 50 MiB: project / aws s3 cp (MB/s)", ours: "S3Upload/50MiB",
		base: "AWSCLIUpload/50MiB", metric: "MB/s", goal: 1.0, higherGood: true},
	{what: "Cosmos DB / SQLite, records written per second", ours: "CosmosPut",
		base: "SQLitePut", metric: "records/s", goal: 0, higherGood: true},
	{what: "Cosmos DB / SQLite, label search at 10,000 records", ours: "CosmosSearch10k",
		base: "SQLiteSearch10k", metric: "ns/op", goal: 0},
}

// goals on single figures.
type goal struct {
	what, bench, metric string
	limit               float64
	min                 bool
}

var goals = []goal{
	// Measured by alternating the two in one benchmark and comparing medians,
	// so that load from elsewhere falls on both alike.
	{what: "labelling: project / ONNX Runtime direct (×)", bench: "LabelVsDirect",
		metric: "ratio", limit: 1.2},
	{what: "labels via local Vision server / on-device direct (×)", bench: "VisionVsOnDevice",
		metric: "ratio", limit: 1.1},
	{what: "import throughput, shared photos (photos/s)", bench: "ImportFolder",
		metric: "photos/s"},
	{what: "preview frames per second", bench: "Preview", metric: "fps", limit: 25, min: true},
	{what: "preview CPU (cores busy)", bench: "Preview", metric: "cpu-s/s", limit: 1},
	{what: "gallery first page at 10,000 records (ms)", bench: "GalleryFirstPage",
		metric: "ms/page", limit: 200},
}

var line = regexp.MustCompile(`^Benchmark(\S+?)(-\d+)?\s+(\d+)\s+(.*)$`)

func main() {
	results := map[string]map[string]float64{}
	var order []string
	pkg := ""
	pkgOf := map[string]string{}
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		text := sc.Text()
		if p, ok := strings.CutPrefix(text, "pkg: "); ok {
			pkg = p
		}
		m := line.FindStringSubmatch(text)
		if m == nil {
			if strings.HasPrefix(text, "FAIL") || strings.HasPrefix(text, "--- FAIL") {
				fmt.Fprintln(os.Stderr, text)
			}
			continue
		}
		name := m[1]
		fields := strings.Fields(m[4])
		vals := map[string]float64{}
		for i := 0; i+1 < len(fields); i += 2 {
			v, err := strconv.ParseFloat(fields[i], 64)
			if err == nil {
				vals[fields[i+1]] = v
			}
		}
		if _, seen := results[name]; !seen {
			order = append(order, name)
		}
		results[name] = vals
		pkgOf[name] = strings.TrimPrefix(pkg, "github.com/multicloud/multicloud/")
	}

	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "benchmark\tpackage\ttime/op\tfigures\t")
	for _, name := range order {
		vals := results[name]
		var extra []string
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k != "ns/op" {
				extra = append(extra, fmt.Sprintf("%.4g %s", vals[k], k))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, pkgOf[name], dur(vals["ns/op"]),
			strings.Join(extra, "  "))
	}
	tw.Flush()

	fmt.Println()
	tw = tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "goal\tmeasured\ttarget\tmet")
	for _, r := range ratios {
		o, ok1 := results[r.ours][r.metric]
		b, ok2 := results[r.base][r.metric]
		if !ok1 || !ok2 || b == 0 {
			fmt.Fprintf(tw, "%s\tnot measured\t\t\n", r.what)
			continue
		}
		v := o / b
		if r.goal == 0 {
			fmt.Fprintf(tw, "%s\t%.3f×\t(no goal)\t\n", r.what, v)
			continue
		}
		met := v <= r.goal
		cmp := "≤"
		if r.higherGood {
			met, cmp = v >= r.goal, "≥"
		}
		fmt.Fprintf(tw, "%s\t%.3f×\t%s %.2f×\t%s\n", r.what, v, cmp, r.goal, yes(met))
	}
	for _, g := range goals {
		v, ok := results[g.bench][g.metric]
		if !ok {
			fmt.Fprintf(tw, "%s\tnot measured\t\t\n", g.what)
			continue
		}
		if g.limit == 0 {
			fmt.Fprintf(tw, "%s\t%.4g\t(no goal)\t\n", g.what, v)
			continue
		}
		met, cmp := v <= g.limit, "≤"
		if g.min {
			met, cmp = v >= g.limit, "≥"
		}
		fmt.Fprintf(tw, "%s\t%.4g\t%s %g\t%s\n", g.what, v, cmp, g.limit, yes(met))
	}
	tw.Flush()
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "NO"
}

func dur(ns float64) string {
	switch {
	case ns == 0:
		return "-"
	case ns >= 1e9:
		return fmt.Sprintf("%.2f s", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2f ms", ns/1e6)
	case ns >= 1e3:
		return fmt.Sprintf("%.2f µs", ns/1e3)
	}
	return fmt.Sprintf("%.0f ns", ns)
}
