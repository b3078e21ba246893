# assets.mk — the model files the on-device labeller (cloud/ondevice) needs.
#
# Included by the top-level Makefile and run from the repository root:
#     make assets
#
# What is fetched, and why
#   @vladmandic/human 3.3.6 (npm, MIT licence, © Vladimir Mandic)
#     Only package/models/centernet.{json,bin} are used: a MobileNetV3-CenterNet
#     object detector for the 80 COCO classes in TF.js graph-model format (about
#     4 MB). It is small and fast enough to label photos on a laptop CPU, and
#     its licence lets us ship it. There is no TF.js runtime for Go, so
#     cloud/ondevice/tfjs2onnx converts it to assets/models/centernet.onnx.
#   onnxruntime-node 1.30.0 (npm, MIT licence, © Microsoft Corporation)
#     Only the ONNX Runtime shared library for the build host is used
#     (package/bin/napi-v6/<os>/<arch>/), loaded at run time by
#     github.com/yalue/onnxruntime_go.
#     npm is used because it is a registry every developer machine and CI
#     reaches; the Node binding in the package is not used.
#   github.com/esimov/pigo v1.4.6 (Go module, MIT licence, © Endre Simo)
#     Its face detection cascade, cascade/facefinder (about 230 KB), for the
#     labeller's optional "face" label. It is data inside another module, which
#     go:embed cannot reach, so it is copied from the Go module cache (the module
#     proxy's checksum database vouches for the module; the file's own SHA-256
#     is checked too). pigo's code is compiled in as an ordinary dependency.
#   The licences are put beside the files (LICENSE.human, LICENSE.onnxruntime,
#   LICENSE.pigo) so that a package of the app can carry them. onnxruntime-node
#   ships no licence file (its package.json says MIT and its README points to
#   the repository's), so that one is written from ASSETS_ORT_LICENSE below.
#
# How
#   `npm pack` downloads each tarball into assets/.cache. Its SHA-256 is checked
#   against the pinned value below before it is used, and again before anything
#   is extracted from it; a mismatch stops the build and the file is discarded.
#   Only the needed files are extracted. All targets are files, so a second
#   `make assets` does nothing. Nothing is ever fetched when the app runs: the
#   labeller reports "run `make assets`" when the files are missing.
#
# The library for another OS (to package for it) can be fetched alongside:
#     make assets ASSETS_GOOS=windows ASSETS_GOARCH=amd64
# The file names differ per OS, so libraries for several can share the folder.

ASSETS_DIR    := assets
ASSETS_MODELS := $(ASSETS_DIR)/models
ASSETS_CACHE  := $(ASSETS_DIR)/.cache

ASSETS_HUMAN_PKG    := @vladmandic/human
ASSETS_HUMAN_VER    := 3.3.6
ASSETS_HUMAN_TGZ    := $(ASSETS_CACHE)/vladmandic-human-$(ASSETS_HUMAN_VER).tgz
ASSETS_HUMAN_SHA256 := 425e9c51dbbca0c8934362b170cb0d54c2529c11c654b3c03092b16e9d6ad3f7

ASSETS_ORT_PKG    := onnxruntime-node
ASSETS_ORT_VER    := 1.30.0
ASSETS_ORT_TGZ    := $(ASSETS_CACHE)/onnxruntime-node-$(ASSETS_ORT_VER).tgz
ASSETS_ORT_SHA256 := 6e3390d6b783e7be946fad629292799da28d0b42f84856e50d2c1b0383291e75

ASSETS_PIGO_MOD    := github.com/esimov/pigo@v1.4.6
ASSETS_PIGO_SHA256 := d8014993e7298c7b1865d1f8b855d6dbf4ec5c808bf879e2091ab6837abf90cd

ASSETS_GOOS   ?= $(shell go env GOOS)
ASSETS_GOARCH ?= $(shell go env GOARCH)

# onnxruntime-node names platforms the Node way and each OS's library its own
# way; these must match LibraryFile() in cloud/ondevice.
ASSETS_ORT_OS   := $(patsubst windows,win32,$(ASSETS_GOOS))
ASSETS_ORT_ARCH := $(patsubst amd64,x64,$(ASSETS_GOARCH))
ASSETS_ORT_LIB  := $(if $(filter windows,$(ASSETS_GOOS)),onnxruntime.dll,$(if \
                   $(filter darwin,$(ASSETS_GOOS)),libonnxruntime.1.dylib,libonnxruntime.so.1))
ASSETS_ORT_SRC  := package/bin/napi-v6/$(ASSETS_ORT_OS)/$(ASSETS_ORT_ARCH)/$(ASSETS_ORT_LIB)

ASSETS_SHA256SUM ?= $(shell command -v sha256sum >/dev/null 2>&1 && echo sha256sum \
                    || echo "shasum -a 256")

ASSETS_FILES := $(ASSETS_MODELS)/centernet.onnx $(ASSETS_MODELS)/$(ASSETS_ORT_LIB) \
                $(ASSETS_MODELS)/facefinder

.PHONY: assets assets-clean
assets: $(ASSETS_FILES)

# assets_verify,file,sha256: fail (and delete the file) unless it has that digest.
define assets_verify
	@echo "$(2)  $(1)" | $(ASSETS_SHA256SUM) -c - >/dev/null 2>&1 || { \
	  echo "assets: $(1) does not have the pinned SHA-256 $(2); deleted it" >&2; \
	  rm -f $(1); exit 1; }
endef

# assets_fetch,pkg@version,tarball,sha256: npm pack into a scratch folder and
# move the tarball into place only once its digest matches, so that a
# half-downloaded or substituted file never looks up to date to make.
define assets_fetch
	@mkdir -p $(ASSETS_CACHE)/incoming
	@rm -f $(ASSETS_CACHE)/incoming/$(notdir $(2))
	cd $(ASSETS_CACHE)/incoming && npm pack --silent $(1) >/dev/null
	$(call assets_verify,$(ASSETS_CACHE)/incoming/$(notdir $(2)),$(3))
	@mv $(ASSETS_CACHE)/incoming/$(notdir $(2)) $(2)
endef

$(ASSETS_HUMAN_TGZ):
	$(call assets_fetch,$(ASSETS_HUMAN_PKG)@$(ASSETS_HUMAN_VER),$@,$(ASSETS_HUMAN_SHA256))

$(ASSETS_ORT_TGZ):
	$(call assets_fetch,$(ASSETS_ORT_PKG)@$(ASSETS_ORT_VER),$@,$(ASSETS_ORT_SHA256))

# The converter is a prerequisite so that a fix to it reconverts the model.
$(ASSETS_MODELS)/centernet.onnx: $(ASSETS_HUMAN_TGZ) cloud/ondevice/tfjs2onnx/main.go
	$(call assets_verify,$<,$(ASSETS_HUMAN_SHA256))
	@rm -rf $(ASSETS_CACHE)/human
	@mkdir -p $(ASSETS_CACHE)/human $(ASSETS_MODELS)
	tar -xzf $< -C $(ASSETS_CACHE)/human \
	  package/models/centernet.json package/models/centernet.bin package/LICENSE
	go run ./cloud/ondevice/tfjs2onnx \
	  -in $(ASSETS_CACHE)/human/package/models/centernet.json -out $@
	@cp $(ASSETS_CACHE)/human/package/LICENSE $(ASSETS_MODELS)/LICENSE.human
	@rm -rf $(ASSETS_CACHE)/human

$(ASSETS_MODELS)/$(ASSETS_ORT_LIB): $(ASSETS_ORT_TGZ)
	$(call assets_verify,$<,$(ASSETS_ORT_SHA256))
	@rm -rf $(ASSETS_CACHE)/ort
	@mkdir -p $(ASSETS_CACHE)/ort $(ASSETS_MODELS)
	tar -xzf $< -C $(ASSETS_CACHE)/ort $(ASSETS_ORT_SRC)
	@# Copied, not left as tar wrote it: tar restores a 1985 mtime, older than the tarball.
	cp $(ASSETS_CACHE)/ort/$(ASSETS_ORT_SRC) $@.tmp && mv $@.tmp $@
	@printf '%s\n' "$$ASSETS_ORT_LICENSE" > $(ASSETS_MODELS)/LICENSE.onnxruntime
	@rm -rf $(ASSETS_CACHE)/ort

$(ASSETS_MODELS)/facefinder:
	@mkdir -p $(ASSETS_MODELS)
	go mod download $(ASSETS_PIGO_MOD)
	cp "$$(go env GOMODCACHE)/$(ASSETS_PIGO_MOD)/cascade/facefinder" $@.tmp
	@chmod 644 $@.tmp
	$(call assets_verify,$@.tmp,$(ASSETS_PIGO_SHA256))
	@cp "$$(go env GOMODCACHE)/$(ASSETS_PIGO_MOD)/LICENSE" $(ASSETS_MODELS)/LICENSE.pigo
	@chmod 644 $(ASSETS_MODELS)/LICENSE.pigo
	@mv $@.tmp $@

# ONNX Runtime's licence (the MIT licence of github.com/microsoft/onnxruntime).
define ASSETS_ORT_LICENSE
MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
endef
export ASSETS_ORT_LICENSE

assets-clean:
	rm -rf $(ASSETS_MODELS) $(ASSETS_CACHE)
