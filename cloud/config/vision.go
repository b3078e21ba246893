package config

import (
	"context"
	"fmt"
	"time"

	"github.com/multicloud/multicloud/cloud"
	"github.com/multicloud/multicloud/cloud/gvision"
)

// openVision opens the Google Cloud Vision labeller (cloud/gvision).
//
// Against Google, with Application Default Credentials
// (`gcloud auth application-default login`, or GOOGLE_APPLICATION_CREDENTIALS
// naming a key file) and the Cloud Vision API enabled for the project:
//
//	[labeller]
//	provider = "vision"
//
//	[labeller.vision]
//	# credentials_file = "/home/me/keys/vision-sa.json"  # else ADC
//	max_results = 10      # labels (and objects, faces) asked for per photo
//	objects = true        # OBJECT_LOCALIZATION: labels with boxes
//	faces = false         # FACE_DETECTION: a "face" label with a box per face
//	timeout = "30s"       # per photo, retries on quota errors included
//
// Against the local Vision-compatible server (`multicloud serve vision`,
// which labels with the on-device model), on this machine only:
//
//	[labeller]
//	provider = "vision"
//
//	[labeller.vision]
//	endpoint = "127.0.0.1:50051"
//	insecure = true       # plain gRPC, no credentials; refused off loopback
//	objects = true
func openVision(ctx context.Context, cfg *Vision, threshold float32) (cloud.Labeller, error) {
	var timeout time.Duration
	if cfg.Timeout != "" {
		d, err := time.ParseDuration(cfg.Timeout)
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("[labeller.vision] timeout %q is not a duration such as "+
				"\"30s\"", cfg.Timeout)
		}
		timeout = d
	}
	if cfg.MaxResults < 0 {
		return nil, fmt.Errorf("[labeller.vision] max_results %d is negative", cfg.MaxResults)
	}
	l, err := gvision.Open(ctx, gvision.Options{
		Endpoint:        cfg.Endpoint,
		CredentialsFile: cfg.CredentialsFile,
		Insecure:        cfg.Insecure,
		MaxResults:      cfg.MaxResults,
		Objects:         cfg.Objects,
		Faces:           cfg.Faces,
		Timeout:         timeout,
		Threshold:       threshold,
	})
	if err != nil {
		// Not l itself: a nil *gvision.Labeller in the interface is not nil.
		return nil, err
	}
	return l, nil
}
