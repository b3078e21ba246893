//go:build cgo

package config

import (
	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/ondevice"
)

// openOnDevice opens the on-device model.
func openOnDevice(c *Config) (cloud.Labeller, error) {
	return opened[cloud.Labeller](ondevice.Open(ondevice.Options{
		ModelDir:  c.Labeller.ModelDir,
		Threshold: c.Threshold(),
		Faces:     c.Labeller.Faces,
	}))
}
