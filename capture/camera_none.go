//go:build nocamera || (darwin && !cgo)

package capture

// Builds without mediadevices: with -tags nocamera, or for macOS without cgo, where its
// camera driver does not compile. There are no cameras.

func cameras() ([]Device, error) { return []Device{}, nil }

func openCamera(string, Options) (Source, error) {
	if !cgoEnabled {
		return nil, noCamera(nil, "this build of the app cannot use cameras "+
			"(it was built without cgo)")
	}
	return nil, noCamera(nil, "this build of the app cannot use cameras "+
		"(it was built with the nocamera tag)")
}
