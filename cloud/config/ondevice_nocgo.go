//go:build !cgo

package config

import "github.com/multicloud/multicloud/cloud"

// openOnDevice refuses: the on-device model runs in ONNX Runtime, a C
// library loaded through cgo, and this build has none (the cloud function is
// built without cgo). Such builds label with Google Cloud Vision.
func openOnDevice(c *Config) (cloud.Labeller, error) {
	return nil, cloud.Errorf(cloud.FailedPrecondition, "labeller",
		"this build has no on-device labeller (it was built without cgo); "+
			"set [labeller] provider = \"vision\"")
}
