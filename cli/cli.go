// Package cli is Multi-Cloud's command line: the same pipeline as the window,
// for scripts and for people who prefer a terminal. main.go hands it the
// arguments and a function that opens the window, so this package never
// imports the GUI toolkit and its tests need no display.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"

	"github.com/multicloud/multicloud/cloud/config"
)

// Version is set at build time (-ldflags "-X …cli.Version=…").
var Version = "dev"

// Globals are the options every command shares.
type Globals struct {
	Data    string // --data
	Config  string // --config
	Camera  string // --camera (window only)
	Verbose bool
}

// WindowFunc opens the desktop window with the loaded settings and blocks
// until it closes.
type WindowFunc func(ctx context.Context, cfg *config.Config, g Globals) error

// Env is what a command reads and writes; tests give their own.
type Env struct {
	Stdout, Stderr io.Writer
	Window         WindowFunc
}

const usage = `Multi-Cloud keeps your photos: each one is stored, labelled and recorded.

Usage:
  multicloud [global options]                  open the desktop window
  multicloud [global options] COMMAND [options] [arguments]

Commands:
  import [--json] FILE|FOLDER...   store, label and record photos; one line (or JSON
                                   object with --json) per photo. Folders are read
                                   recursively for .jpg .jpeg .png .gif .webp files.
                                   Exit status 1 if any photo failed; the rest are
                                   still imported. A photo already recorded is not
                                   imported twice.
  list [--json] [--label NAME] [--min-score S] [--limit N]
                                   records newest first; with --label, only photos
                                   carrying that label with at least score S (0–1)
  labels [--json]                  every label in the catalogue, with counts
  show [--json] ID                 one record
  delete ID                        delete a record and its stored photo
  serve vision [--addr HOST:PORT] [--public]
                                   serve the Google Cloud Vision API with the on-device
                                   model until interrupted (default 127.0.0.1:50051)
  version                          print the version

Global options (before or after the command):
  --data DIR      where local photos, the catalogue and caches live
                  (also MULTICLOUD_DATA; default: %s)
  --config FILE   settings file choosing a provider per role
                  (also MULTICLOUD_CONFIG; default: %s)
  --camera SPEC   window only: "synthetic", "file:FOLDER", "camera" or "camera:ID"
  --verbose       log what each step does to standard error

Examples:
  multicloud import ~/Pictures/holiday
  multicloud list --label cat --min-score 0.6 --json | jq -r .url
`

func printUsage(w io.Writer) {
	fmt.Fprintf(w, usage, config.DefaultDataDir(), config.DefaultPath())
}

func addGlobals(fs *flag.FlagSet, g *Globals) {
	fs.StringVar(&g.Data, "data", g.Data, "folder for local data")
	fs.StringVar(&g.Config, "config", g.Config, "settings file")
	fs.StringVar(&g.Camera, "camera", g.Camera, "camera for the window")
	fs.BoolVar(&g.Verbose, "verbose", g.Verbose, "log each step")
}

// errUsage marks errors after which the usage was already printed.
var errUsage = errors.New("usage")

// exitError carries an exit status without another message.
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// Main runs the command line and returns the process's exit status.
func Main(args []string, env Env) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	err := run(ctx, args, env)
	var ee exitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return int(ee)
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(env.Stderr, "multicloud: %v\n", err)
		return 1
	}
}

func run(ctx context.Context, args []string, env Env) error {
	var g Globals
	fs := flag.NewFlagSet("multicloud", flag.ContinueOnError)
	// The flag package would print its message and then the usage; the
	// usage is printed once, to standard output, for -h, and a bad flag is
	// one line on standard error.
	fs.SetOutput(io.Discard)
	addGlobals(fs, &g)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(env.Stdout)
			return nil
		}
		fmt.Fprintf(env.Stderr, "multicloud: %v (see multicloud --help)\n", err)
		return errUsage
	}
	args = fs.Args()
	if len(args) == 0 {
		// The window may be given a settings file that does not exist yet:
		// Settings creates it when saved.
		cfg, err := loadSettings(&g, env, false)
		if err != nil {
			return err
		}
		if env.Window == nil {
			return errors.New("this build has no desktop window; use a command (see --help)")
		}
		return env.Window(ctx, cfg, g)
	}

	cmd, args := args[0], args[1:]
	c, ok := commands[cmd]
	if !ok {
		if cmd == "help" {
			printUsage(env.Stdout)
			return nil
		}
		fmt.Fprintf(env.Stderr, "multicloud: unknown command %q (see multicloud --help)\n", cmd)
		return errUsage
	}
	cfs := flag.NewFlagSet("multicloud "+cmd, flag.ContinueOnError)
	cfs.SetOutput(io.Discard)
	addGlobals(cfs, &g)
	opts := c.flags(cfs)
	positional, err := parseInterspersed(cfs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(env.Stdout, "Usage of multicloud %s:\n", cmd)
			cfs.SetOutput(env.Stdout)
			cfs.PrintDefaults()
			return nil
		}
		fmt.Fprintf(env.Stderr, "multicloud %s: %v (see multicloud %s -h)\n", cmd, err, cmd)
		return errUsage
	}
	return c.run(ctx, &g, env, opts, positional)
}

// parseInterspersed parses flags wherever they stand among the arguments, as
// the usage promises ("import a.jpg --json" is "import --json a.jpg"); after
// "--" everything is an argument.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for len(args) > 0 {
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if rest := fs.Args(); len(rest) > 0 && len(rest) < len(args) && args[len(args)-len(
			rest)-1] == "--" {
			return append(positional, rest...), nil
		}
		args = fs.Args()
		if len(args) > 0 {
			positional = append(positional, args[0])
			args = args[1:]
		}
	}
	return positional, nil
}

type command struct {
	flags func(fs *flag.FlagSet) any
	run   func(ctx context.Context, g *Globals, env Env, opts any, args []string) error
}

var commands = map[string]command{}

// loadConfig loads the settings for a command. A settings file named with
// --config or MULTICLOUD_CONFIG must exist: a mistyped path would otherwise
// run the command on the defaults without a word.
func loadConfig(g *Globals, env Env) (*config.Config, error) {
	return loadSettings(g, env, true)
}

func loadSettings(g *Globals, env Env, named bool) (*config.Config, error) {
	level := slog.LevelWarn
	if g.Verbose {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level})))
	load := config.Load
	if named && (g.Config != "" || os.Getenv("MULTICLOUD_CONFIG") != "") {
		load = config.LoadExisting
	}
	cfg, err := load(g.Config)
	if err != nil {
		return nil, err
	}
	cfg.ResolveDataDir(g.Data)
	return cfg, nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// oneLine keeps a message on one line so that each failure is one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
