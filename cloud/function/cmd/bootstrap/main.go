// Command bootstrap is Multi-Cloud's S3-triggered function as an AWS Lambda
// custom runtime (provided.al2023): Lambda runs the executable named bootstrap
// at the root of the package. `make lambda` builds it without cgo and zips it
// with the settings into out/lambda/function.zip.
//
// At start-up it reads the settings named by MULTICLOUD_CONFIG (default
// $LAMBDA_TASK_ROOT/config.toml) and opens the labeller and the catalogue once
// for the life of the instance; a setting it cannot use stops it here, with
// the reason in the log, rather than failing every photo. Logs are JSON lines
// on standard output, which Lambda sends to CloudWatch.
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/multicloud/multicloud/cloud/function"
)

func main() {
	slog.SetDefault(slog.New(slog.NewJSONHandler(os.Stdout, nil)))

	path := function.SettingsPath()
	// Lambda allows an instance 10 s to start; opening the catalogue may
	// create its database and container on the first start.
	ctx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
	h, err := function.Open(ctx, path)
	cancel()
	if err != nil {
		slog.Error("cannot start", "settings", path, "err", err)
		os.Exit(1)
	}
	slog.Info("ready", "settings", path, "labeller", h.Pipeline.Labeller.Name(),
		"catalogue", h.Pipeline.Catalogue.Name())
	lambda.StartWithOptions(h.Handle, lambda.WithEnableSIGTERM(func() { h.Close() }))
}
