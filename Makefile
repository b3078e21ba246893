# Multi-Cloud. Two commands on a fresh Debian machine:
#   make run    installs what is missing, fetches the model, opens the window
#   make test   the whole test suite (what CI runs)
# Other targets: build, assets, emulators, bench, screenshot, demo-clouds, lambda,
# package, package-windows, deps, clean.

SHELL := /bin/bash
GO ?= go
BIN := multicloud
# Fyne reads the locale at start-up and complains about a bare "C".
export LANG ?= en_US.UTF-8

# Debian packages the build needs: a C compiler and the X11/OpenGL headers for
# Fyne (cgo), the kernel video headers come with gcc. Xvfb and friends run the
# window without a display for screenshots and UI checks.
APT_BUILD := gcc pkg-config libgl1-mesa-dev libx11-dev libxcursor-dev libxrandr-dev \
	libxinerama-dev libxi-dev libxxf86vm-dev libwayland-dev libxkbcommon-dev
APT_RUN := xvfb xauth libgl1-mesa-dri imagemagick xdotool
APT_ALL := $(APT_BUILD) $(APT_RUN)
# Only for `make package-windows`, which installs them itself (`make deps`, which
# CI runs, does not): MinGW-w64's C and C++ cross-compilers (pion/mediadevices'
# DirectShow camera driver is C++), and Python for its zipfile module.
APT_WINDOWS := gcc-mingw-w64-x86-64 g++-mingw-w64-x86-64 python3

.PHONY: all run build test vet bench deps deps-windows clean emulators demo-clouds package \
	package-windows

all: build

include assets/assets.mk

# deps installs the Debian packages that are missing (as root, or via sudo).
# npm (for `npm pack` of the model) is taken from Debian only when the machine
# has no npm of its own: Debian's would conflict with a Node.js already there.
# The AWS CLI is only for the tests that check S3 objects interoperate with it.
# apt_install,PACKAGES[,SHELL]: install those of PACKAGES that are missing, as
# root or through sudo. SHELL may add more names to $$missing first.
define apt_install
	@missing=$$(for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	$(2) \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		sudo=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$sudo apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends \
			$$missing; \
	fi
endef

deps:
	$(call apt_install,$(APT_ALL),command -v npm >/dev/null || missing="$$missing nodejs npm"; \
		command -v aws >/dev/null || missing="$$missing awscli";)

# deps-windows installs what package-windows needs on top of deps, if missing.
deps-windows:
	$(call apt_install,$(APT_WINDOWS))

build: deps assets
	$(GO) build -o $(BIN) .

# run opens the window on the embedded default (local folder, on-device
# model, SQLite). Without a display it says so; use `make screenshot` there.
run: build
	case "$$LANG" in C|C.*|POSIX) export LANG=en_US.UTF-8;; esac; ./$(BIN)

vet:
	@bad=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) vet ./...

# emulators installs the local stand-ins for S3 and Cosmos DB that the tests
# start on 127.0.0.1 (versions pinned in .ci/emulators/package.json).
EMULATORS := .ci/emulators/node_modules/.package-lock.json
emulators: $(EMULATORS)
$(EMULATORS): .ci/emulators/package.json .ci/emulators/package-lock.json
	cd .ci/emulators && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# test checks formatting and vet, drives the real window under Xvfb for its
# screenshots, then runs every Go test. CI runs exactly this.
test: deps assets emulators vet screenshot
	$(GO) test -count=1 ./...

# bench runs every benchmark (the local servers start on loopback as in the
# tests) and prints a table of the figures with the project's goals. Three
# seconds each: on a small shared machine the ratios need that many runs to
# settle.
bench: deps assets emulators
	@mkdir -p out
	$(GO) test -run '^$$' -bench . -benchtime 3s -benchmem ./... 2>&1 | tee out/bench.txt
	@echo
	@$(GO) run ./internal/benchtable < out/bench.txt

# demo-clouds opens the window with every role on a cloud provider, each cloud a
# local server on 127.0.0.1: S3 (s3rver), Vision (the app's own server with the
# on-device model) and Cosmos DB (cosmosdb-server). DEMO_ARGS are passed to the
# app, e.g. make demo-clouds DEMO_ARGS="import ../shared/photos/coffee.png".
demo-clouds: build emulators
	$(GO) run ./internal/democlouds ./$(BIN) $(DEMO_ARGS)

# package makes a folder and a tarball for this machine's OS and processor:
# the program with its model, ONNX Runtime library and licences in models/
# beside it, where the program looks first. It then runs the packaged copy from
# another folder on a photo, so a package that cannot find its model fails
# here rather than on a user's machine. (A macOS package must be built on macOS:
# there is no macOS SDK here. For Windows see package-windows.)
PKG_NAME := $(BIN)-$(shell $(GO) env GOOS)-$(shell $(GO) env GOARCH)
package: build
	rm -rf dist/$(PKG_NAME) && mkdir -p dist/$(PKG_NAME)/models
	cp $(BIN) README.md dist/$(PKG_NAME)/
	cp $(ASSETS_FILES) $(ASSETS_MODELS)/LICENSE.* dist/$(PKG_NAME)/models/
	tar -C dist -czf dist/$(PKG_NAME).tar.gz $(PKG_NAME)
	@check=$$(mktemp -d) && cd $$check && : > none.toml && \
	  $(CURDIR)/dist/$(PKG_NAME)/$(BIN) --data $$check/data --config $$check/none.toml \
	    import --json $(CURDIR)/../shared/photos/coffee.png | grep -q '"name":"cup"' && \
	  rm -rf $$check && echo "dist/$(PKG_NAME).tar.gz: run from another folder, it labels coffee.png as cup"

# package-windows cross-compiles the app for 64-bit Windows with MinGW-w64 (cgo:
# Fyne's OpenGL code and the DirectShow camera driver) and zips it as
# dist/multicloud-windows-amd64.zip: multicloud.exe, README.md and models/ with
# the model, onnxruntime.dll (fetched by `make assets ASSETS_GOOS=windows`) and
# the licences, the layout FindModelDir and LibraryFile look for. The first
# build takes 6 to 10 minutes (the OpenGL code again, for Windows); later ones
# seconds. To vet the Windows build: $(WIN_GOENV) go vet ./...
# (plain `GOOS=windows go vet` turns cgo off, and Fyne's OpenGL needs it).
#
# It is built here but cannot be run here (Debian's wine cannot run Go >= 1.24
# programs), so the checks are static: a 64-bit PE file that imports only DLLs
# every Windows has. static_windows.go links MinGW's C/C++ runtimes in;
# without it the .exe would need libstdc++-6.dll and libgcc_s_seh-1.dll.
# onnxruntime.dll itself needs the Microsoft Visual C++ 2015-2022
# Redistributable (x64), which the package does not include.
#
# No -ldflags -H=windowsgui, although it would stop a console window opening
# beside the window: the same .exe is the command-line tool, and a GUI-
# subsystem program started from cmd.exe or PowerShell gets no console, so
# `multicloud.exe import ...` would print nothing (output only reached a file or
# pipe it was redirected to) and the prompt would return at once without its
# exit code.
WIN_PKG := $(BIN)-windows-amd64
WIN_GOENV := GOOS=windows GOARCH=amd64 CGO_ENABLED=1 \
	CC=x86_64-w64-mingw32-gcc CXX=x86_64-w64-mingw32-g++
# DLLs every Windows has in System32, lower case: what the .exe may import.
# (Today it imports gdi32, kernel32, msvcrt, ole32, opengl32, quartz, shell32
# and user32.)
WIN_SYSTEM_DLLS := advapi32.dll bcrypt.dll comdlg32.dll crypt32.dll dwmapi.dll gdi32.dll \
	imm32.dll kernel32.dll msvcrt.dll ntdll.dll ole32.dll oleaut32.dll opengl32.dll \
	quartz.dll setupapi.dll shell32.dll shlwapi.dll user32.dll uxtheme.dll version.dll \
	winmm.dll ws2_32.dll
package-windows: deps-windows
	$(MAKE) --no-print-directory assets ASSETS_GOOS=windows ASSETS_GOARCH=amd64
	rm -rf dist/$(WIN_PKG) dist/$(WIN_PKG).zip && mkdir -p dist/$(WIN_PKG)/models
	$(WIN_GOENV) $(GO) build -ldflags='-s -w' -o dist/$(WIN_PKG)/$(BIN).exe .
	cp README.md dist/$(WIN_PKG)/
	cp $(addprefix $(ASSETS_MODELS)/,centernet.onnx onnxruntime.dll facefinder) \
		$(ASSETS_MODELS)/LICENSE.* dist/$(WIN_PKG)/models/
	@file -b dist/$(WIN_PKG)/$(BIN).exe | grep -q '^PE32+ executable.*x86-64' || { \
	  echo "package-windows: $(BIN).exe is not a 64-bit Windows program" >&2; exit 1; }
	@dlls=$$(x86_64-w64-mingw32-objdump -p dist/$(WIN_PKG)/$(BIN).exe | \
	  sed -n 's/^[[:space:]]*DLL Name: //p' | tr A-Z a-z | sort -u); \
	bad=$$(for d in $$dlls; do case " $(WIN_SYSTEM_DLLS) " in *" $$d "*) ;; *) echo $$d;; esac; \
	  done); \
	if [ -n "$$bad" ]; then \
	  echo "package-windows: $(BIN).exe needs DLLs Windows does not have:" $$bad >&2; exit 1; fi; \
	echo "$(BIN).exe imports only system DLLs:" $$dlls
	cd dist && python3 -m zipfile -c $(WIN_PKG).zip $(WIN_PKG)
	@python3 -m zipfile -l dist/$(WIN_PKG).zip
	@echo "dist/$(WIN_PKG).zip: built here, not run here (no Windows)"

clean:
	rm -f $(BIN) $(BIN).exe
	rm -rf dist

# screenshot runs the real window under Xvfb on a fresh data folder with the
# shared photos as its camera, takes a photo with Space, opens the gallery
# with Ctrl+G and writes out/screenshot-capture.png and
# out/screenshot-gallery.png. It fails if the window crashes or logs a thread
# error, or if a PNG is missing.
.PHONY: screenshot
screenshot: build
	bash app/screenshot.sh ./$(BIN) out

# lambda builds the S3-triggered function (cloud/function) for AWS Lambda's
# provided.al2023 runtime: a static Linux executable named bootstrap (no cgo,
# so the function labels with Google Cloud Vision, not the on-device model),
# zipped by a small Go program into out/lambda/function.zip.
#   LAMBDA_CONFIG  the settings file to ship as config.toml; point the
#                  function's MULTICLOUD_CONFIG at /var/task/config.toml
#   LAMBDA_FILES   more files to ship beside it, e.g. a Vision credentials file
#   LAMBDA_ARCH    amd64 (x86_64, the default) or arm64 (Graviton)
# e.g. make lambda LAMBDA_CONFIG=deploy/function.toml
# The end-to-end test in cloud/function builds the bootstrap with the same
# flags, so the two share Go's build cache.
LAMBDA_ARCH ?= amd64
LAMBDA_CONFIG ?=
LAMBDA_FILES ?=
LAMBDA_OUT := out/lambda
LAMBDA_GOFLAGS := -trimpath -tags lambda.norpc -ldflags='-s -w'

.PHONY: lambda
lambda:
	@mkdir -p $(LAMBDA_OUT)
	CGO_ENABLED=0 GOOS=linux GOARCH=$(LAMBDA_ARCH) $(GO) build $(LAMBDA_GOFLAGS) \
		-o $(LAMBDA_OUT)/bootstrap ./cloud/function/cmd/bootstrap
	$(GO) run ./cloud/function/cmd/lambdazip -o $(LAMBDA_OUT)/function.zip \
		$(LAMBDA_OUT)/bootstrap $(if $(LAMBDA_CONFIG),config.toml=$(LAMBDA_CONFIG)) \
		$(LAMBDA_FILES)
	@$(if $(LAMBDA_CONFIG),,echo "note: no LAMBDA_CONFIG, so the package has no config.toml;" \
		"the function needs MULTICLOUD_CONFIG to name a settings file it can read")
	@ls -l $(LAMBDA_OUT)/function.zip
