//go:build !cgo

package function

import "github.com/multicloud/multicloud/cloud"

// openOnDevice refuses: the on-device labeller runs the model through ONNX
// Runtime's C library (github.com/yalue/onnxruntime_go, which needs cgo), and
// the Lambda build is made with CGO_ENABLED=0 so that it runs on any Linux
// without a matching C library. Such a build labels with Google Cloud Vision.
func openOnDevice(s *Settings) (cloud.Labeller, error) {
	return nil, cloud.Errorf(cloud.FailedPrecondition, "function",
		"settings %s ask for the on-device labeller, which this build does not have (ONNX "+
			"Runtime needs cgo and the Lambda build has none); set [labeller] provider = "+
			"\"vision\" with a [labeller.vision] section", s.path)
}
