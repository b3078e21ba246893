//go:build cgo

package function

import (
	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/ondevice"
)

// openOnDevice opens the on-device model. It needs model_dir to name a folder
// holding the model and the ONNX Runtime library for the machine it runs on.
func openOnDevice(s *Settings) (cloud.Labeller, error) {
	l, err := ondevice.Open(ondevice.Options{
		ModelDir:  s.Labeller.ModelDir,
		Threshold: s.threshold(),
		Faces:     s.Labeller.Faces,
	})
	if err != nil {
		return nil, err // not l: a nil *ondevice.Labeller in the interface is not nil
	}
	return l, nil
}
