package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/multicloud/multicloud/cloud/config"
	"github.com/multicloud/multicloud/cloud/ondevice"
	"github.com/multicloud/multicloud/cloud/visionserver"
)

// serveUsage is printed for `multicloud serve` without an API to serve.
const serveUsage = `Usage:
  multicloud serve vision [--addr HOST:PORT] [--public]
        serve the Google Cloud Vision API (BatchAnnotateImages) with the
        on-device model, until interrupted. Default address %s;
        an address other machines can reach needs --public.
`

func init() {
	commands["serve"] = command{flags: serveFlags, run: runServe}
}

type serveOpts struct {
	// fs is kept so that the flags after the API's name ("serve vision
	// --addr …") are parsed too: the flag package stops at "vision".
	fs     *flag.FlagSet
	addr   *string
	public *bool
}

func serveFlags(fs *flag.FlagSet) any {
	return &serveOpts{
		fs:     fs,
		addr:   fs.String("addr", visionserver.DefaultAddr, "address to listen on"),
		public: fs.Bool("public", false, "allow an address other machines can reach"),
	}
}

func runServe(ctx context.Context, g *Globals, env Env, o any, args []string) error {
	opts := o.(*serveOpts)
	if len(args) == 0 {
		fmt.Fprintf(env.Stderr, serveUsage, visionserver.DefaultAddr)
		return errUsage
	}
	if args[0] != "vision" {
		fmt.Fprintf(env.Stderr, "multicloud serve: unknown server %q; the only one is "+
			"\"vision\" (see multicloud serve -h)\n", args[0])
		return errUsage
	}
	if err := opts.fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(env.Stdout, serveUsage, visionserver.DefaultAddr)
			return nil
		}
		fmt.Fprintf(env.Stderr, "multicloud serve vision: %v (see multicloud serve -h)\n", err)
		return errUsage
	}
	if opts.fs.NArg() > 0 {
		fmt.Fprintf(env.Stderr, "multicloud serve vision: unexpected argument %q\n",
			opts.fs.Arg(0))
		return errUsage
	}
	cfg, err := loadConfig(g, env)
	if err != nil {
		return err
	}
	// A server says where it listens and what it refuses, so it logs at
	// info level where the other commands keep quiet.
	level := slog.LevelInfo
	if g.Verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(env.Stderr, &slog.HandlerOptions{Level: level}))

	// The address is checked before the model is loaded, so that a wrong
	// one is reported at once.
	// Main stops on an interrupt; a service manager stops a server with
	// SIGTERM, which should let calls in progress finish too.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM)
	defer stop()
	lis, err := visionserver.Listen(*opts.addr, *opts.public)
	if err != nil {
		return err
	}
	defer lis.Close()
	l, faces, err := openServeLabellers(cfg, log)
	if err != nil {
		return err
	}
	defer l.Close()
	srvOpts := visionserver.Options{Logger: log}
	if faces != nil {
		// Only when there is one: a nil *ondevice.Labeller in the interface
		// would not be nil.
		defer faces.Close()
		srvOpts.Faces = faces
	}

	srv := visionserver.New(l, srvOpts)
	log.Info("serving the Cloud Vision API", "addr", lis.Addr().String(),
		"labeller", l.Name(), "faces", faces != nil)
	err = visionserver.Serve(ctx, lis, srv)
	log.Info("stopped", "addr", lis.Addr().String())
	return err
}

// openServeLabellers opens the on-device model with the settings' model
// folder and threshold, and a second one that also finds faces when this
// build and its model folder have the face detector (nil otherwise), so that
// the server offers FACE_DETECTION when it can and only images that ask for
// faces pay for finding them.
func openServeLabellers(cfg *config.Config, log *slog.Logger) (l, faces *ondevice.Labeller,
	err error) {
	opts := ondevice.Options{ModelDir: cfg.Labeller.ModelDir, Threshold: cfg.Threshold()}
	if l, err = ondevice.Open(opts); err != nil {
		return nil, nil, err
	}
	opts.Faces = true
	if faces, err = ondevice.Open(opts); err != nil {
		log.Info("face detection is not available; FACE_DETECTION gets a per-image error",
			"reason", err.Error())
		return l, nil, nil
	}
	return l, faces, nil
}
