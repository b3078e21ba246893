// Command multicloud-cli is Multi-Cloud's command line without the desktop
// window: the same cli.Main as the app's, built without Fyne and its cgo
// OpenGL code. Tests start `multicloud-cli serve vision` as a real process
// with it in seconds rather than the minutes a cold build of the app takes,
// and a machine without a display can run the Vision server with it.
package main

import (
	"os"

	"github.com/multicloud/multicloud/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{Stdout: os.Stdout, Stderr: os.Stderr}))
}
