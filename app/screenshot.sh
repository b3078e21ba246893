#!/usr/bin/env bash
# screenshot.sh BIN OUTDIR: run the real window under Xvfb, take a photo with
# the Space key, wait for its record, open the gallery with Ctrl+G, and write
# OUTDIR/screenshot-capture.png and OUTDIR/screenshot-gallery.png.
#
# It fails when the window crashes, logs a Fyne thread error or a panic, or a
# PNG is not written. Every wait is bounded, and the window is killed with
# SIGKILL at the end if it has not closed, so CI never hangs on it.
#
# Called by `make screenshot`; it runs itself again inside xvfb-run.
set -euo pipefail

bin=$(realpath "${1:?usage: screenshot.sh BIN OUTDIR}")
out=$(realpath -m "${2:?usage: screenshot.sh BIN OUTDIR}")
photos=${SCREENSHOT_PHOTOS:-../shared/photos}

if [ -z "${SCREENSHOT_INNER:-}" ]; then
	mkdir -p "$out"
	rm -f "$out/screenshot-capture.png" "$out/screenshot-gallery.png"
	# -a picks a free display; the screen is a little larger than the window.
	SCREENSHOT_INNER=1 exec timeout -s KILL 300 xvfb-run -a \
		-s "-screen 0 1100x720x24 -nolisten tcp" "$0" "$@"
fi

work=$(mktemp -d)
log=$work/window.log
: >"$work/config.toml" # empty settings: the embedded default
pid=
cleanup() {
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "screenshot: $*" >&2
	echo "--- window log ---" >&2
	cat "$log" >&2 || true
	exit 1
}

alive() { kill -0 "$pid" 2>/dev/null || fail "the window exited early"; }

# Fyne logs wrong-thread calls instead of failing; so does a recovered panic.
check_log() {
	if grep -q -e "Error in Fyne call thread" -e "^panic:" -e "DATA RACE" "$log"; then
		fail "the window logged a thread error, a race or a panic"
	fi
}

# A fresh data folder and settings file, so the run depends on nothing here.
LANG=en_US.UTF-8 timeout -s KILL 240 "$bin" --data "$work/data" \
	--config "$work/config.toml" --camera "file:$photos" >"$log" 2>&1 &
pid=$!

win=
for _ in $(seq 60); do
	alive
	win=$(xdotool search --name '^Multi-Cloud$' 2>/dev/null | head -n1 || true)
	[ -n "$win" ] && break
	sleep 0.5
done
[ -n "$win" ] || fail "no window appeared"
# Without a window manager nothing gives the window the keyboard: do it here.
xdotool windowfocus "$win" 2>/dev/null || true
sleep 3 # the first photo of the folder on the preview

xdotool key --clearmodifiers space
recorded=
for _ in $(seq 120); do
	alive
	n=$("$bin" --data "$work/data" --config "$work/config.toml" list --json 2>/dev/null |
		grep -c '"id"' || true)
	if [ "${n:-0}" -gt 0 ]; then
		recorded=1
		break
	fi
	sleep 0.5
done
[ -n "$recorded" ] || fail "no record was written after Space"
sleep 1.5 # the result panel shows the record
/usr/bin/import -window root "$out/screenshot-capture.png"

xdotool key --clearmodifiers ctrl+g
sleep 3 # the first page and its thumbnail
/usr/bin/import -window root "$out/screenshot-gallery.png"

alive
check_log
for f in "$out/screenshot-capture.png" "$out/screenshot-gallery.png"; do
	[ -s "$f" ] || fail "$f was not written"
	/usr/bin/identify "$f" >/dev/null || fail "$f is not an image"
done
kill -TERM "$pid" 2>/dev/null || true
for _ in $(seq 20); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.25
done
check_log
echo "screenshot: wrote $out/screenshot-capture.png and $out/screenshot-gallery.png"
