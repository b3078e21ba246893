//go:build !cgo

package capture

// Without cgo mediadevices' camera drivers register nothing; the error for "no camera"
// says so, or a developer would look for a missing webcam.
func init() { cgoEnabled = false }
