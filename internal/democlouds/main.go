// Command democlouds runs Multi-Cloud against three local stand-ins for the
// clouds at once: s3rver for Amazon S3, cosmosdb-server for Azure Cosmos DB
// (both separate processes) and the app's own Vision-compatible server with
// the on-device model behind it, all on 127.0.0.1. It writes a settings file
// that points each role at its server and starts the app with it, so a photo
// taken in the window lands in three "clouds". `make demo-clouds` runs it.
//
// Usage: democlouds [-keep DIR] APP [ARGS...]
//
// ARGS are passed to the app after --config and --data, so
// `democlouds ./multicloud import photo.jpg` works without a display too.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/multicloud/multicloud/cloud/ondevice"
	"github.com/multicloud/multicloud/internal/localclouds"
)

func main() {
	log.SetFlags(0)
	log.SetPrefix("demo-clouds: ")
	keep := flag.String("keep", "", "keep the servers' data and the settings in this folder")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("usage: democlouds [-keep DIR] APP [ARGS...]")
	}
	dir := *keep
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "multicloud-demo-"); err != nil {
			log.Fatal(err)
		}
	}
	code := run(dir, flag.Args())
	// os.Exit skips deferred calls, so the temporary folder (with the
	// run's private key) is removed here.
	if *keep == "" {
		os.RemoveAll(dir)
	}
	os.Exit(code)
}

func run(dir string, app []string) int {
	l, err := ondevice.Open(ondevice.Options{})
	if err != nil {
		log.Print(err)
		return 1
	}
	defer l.Close()
	clouds, err := localclouds.StartAll(dir, l)
	if err != nil {
		log.Print(err)
		return 1
	}
	defer clouds.Stop()
	cfgPath := filepath.Join(dir, "config.toml")
	if _, err := clouds.WriteConfig(cfgPath); err != nil {
		log.Print(err)
		return 1
	}
	fmt.Printf("demo-clouds: S3 at %s, Cosmos DB at %s, Vision at %s\n",
		clouds.S3Endpoint, clouds.CosmosEndpoint, clouds.VisionAddr)
	fmt.Printf("demo-clouds: settings in %s\n", cfgPath)

	args := append([]string{"--config", cfgPath, "--data", filepath.Join(dir, "data")},
		app[1:]...)
	cmd := exec.Command(app[0], args...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), clouds.Env...)
	// Ctrl-C reaches the app through the terminal; the servers stop after it.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		log.Printf("%s: %v", strings.Join(app, " "), err)
		return 1
	}
	return 0
}
