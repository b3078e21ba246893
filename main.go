// Command multicloud keeps photos in three clouds: it stores the original
// (a local folder or AWS S3), has it labelled (an on-device model or Google
// Cloud Vision) and records the labels (an embedded SQLite database or Azure
// Cosmos DB). With no arguments it opens the desktop window; with a command
// (import, list, show, delete…) it runs the same pipeline from the terminal.
// See `multicloud --help`.
package main

import (
	"os"

	"github.com/multicloud/multicloud/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{
		Stdout: os.Stdout,
		Stderr: os.Stderr,
		Window: openWindow,
	}))
}
