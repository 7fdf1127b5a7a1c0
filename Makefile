# hlscam — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := build
CARGO ?= cargo
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PORT ?= 8080
DIR ?= /tmp/hlscam

# Debian packages to build and run (codecs are built from the crates' bundled sources).
BUILD_PKGS := pkg-config libasound2-dev libclang1-14 nasm g++ gcc
# ...and to test: decoders, a real browser, the VM harness, cross toolchains, systemd tools.
TEST_PKGS := $(BUILD_PKGS) ffmpeg time chromium python3 python3-pip curl nginx \
	qemu-system-x86 busybox-static cpio kmod xz-utils v4l-utils alsa-utils systemd \
	gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav

.PHONY: build run test deps test-deps web release lint unit browser browser-deps vm cross-aarch64 cross-armv7 cross-test deb check-boards bench

# Installs only what is missing (apt-get via sudo when not root).
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then echo "installing:$$missing"; \
	  $(SUDO) apt-get update -qq || true; \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing; fi
	@command -v npm >/dev/null || { DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq npm; }
endef

deps:
	$(call apt_install,$(BUILD_PKGS))

test-deps:
	$(call apt_install,$(TEST_PKGS))
	@# The independent LL-HLS playlist parser of tests/ll_check.py (PyPI), kept in target/.
	@[ -f target/pydeps/m3u8/__init__.py ] || python3 -m pip install --quiet \
	  --disable-pip-version-check --break-system-packages --target target/pydeps m3u8==6.0.0
	@# The publish tests run their own nginx (tests/support/nginx.rs): Debian's package starts
	@# a system one on port 80 where an init system runs; nothing here uses it, so stop it.
	@if [ -x /etc/init.d/nginx ]; then \
	  { systemctl disable --now nginx || /etc/init.d/nginx stop; } >/dev/null 2>&1 || true; fi
	@# The S3 emulator of tests/publish_s3.rs (moto's server, with boto3), kept in target/.
	@[ -f target/pydeps-s3/moto/server.py ] || python3 -m pip install --quiet \
	  --disable-pip-version-check --break-system-packages --target target/pydeps-s3 \
	  'moto[server]==5.2.5'

# hls.js from the npm registry (pinned in web/package-lock.json), embedded by build.rs.
web:
	@if [ -f web/package-lock.json ] && [ ! -f web/node_modules/hls.js/dist/hls.min.js ]; then \
	  npm ci --prefix web --no-audit --no-fund; fi

build: deps web
	$(CARGO) build --release

release: build

run: build
	@mkdir -p $(DIR)
	./target/release/hlscam --listen 0.0.0.0:$(PORT) --dir $(DIR)

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps

# Every test target, the paced real-time tests in a second lane beside the rest.
unit:
	CARGO="$(CARGO)" scripts/unit_tests.sh

browser-deps:
	@[ -d tests/browser/node_modules/playwright-core ] || npm ci --prefix tests/browser --no-audit --no-fund

# Headless Chromium plays the real binary's stream through its own player page (native + hls.js).
browser: browser-deps
	$(CARGO) build
	tests/browser_e2e.sh target/debug/hlscam

# Real V4L2/ALSA code against the kernel's virtual devices (vivid, v4l2loopback, snd-aloop) in a
# QEMU VM booting Debian's kernel; see tests/vm/README.md.
vm:
	tests/vm/all.sh

# Benchmarks against ffmpeg and GStreamer (results in BENCHMARKS.md); ~20 min, not part of test.
bench: build
	bench/all.sh

# Boards: cross builds with Debian's toolchains (no Docker), tests under qemu-user, packages.
cross-aarch64: web
	scripts/cross_build.sh aarch64

cross-armv7: web
	scripts/cross_build.sh armv7

cross-test:
	scripts/cross_test.sh

deb: web
	scripts/package_deb.sh

# Every board profile and the packaged config must pass `hlscam check-config`; the systemd unit
# must pass `systemd-analyze verify` and score "OK" in `systemd-analyze security`.
check-boards:
	$(CARGO) build
	HLSCAM_BIN=target/debug/hlscam scripts/check_boards.sh
	HLSCAM_BIN=target/debug/hlscam tests/systemd.sh

test: test-deps web browser-deps
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) check-boards
	$(MAKE) browser
	$(MAKE) vm
	$(MAKE) cross-test
	@echo "all test stages passed"
