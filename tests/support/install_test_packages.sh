#!/usr/bin/env bash
# Installs the Debian packages the tests use when they are missing: the RTSP server (gst-rtsp-server for
# the system python3), headless Chromium (renders the HTML reports and the live page) and the mosquitto MQTT
# broker (the MQTT bridge's tests). With --required (CI) a failure is
# an error; otherwise the tests that need them skip, saying what to install.
set -u
RTSP_PACKAGES="python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
BROWSER_PACKAGES="chromium"
MQTT_PACKAGES="mosquitto"
here="$(cd "$(dirname "$0")" && pwd)"

rtsp_usable() {
    /usr/bin/python3 -c "import sys; sys.path.insert(0, '$here'); from rtsp import unavailable_reason; sys.exit(1 if unavailable_reason() else 0)" 2>/dev/null
}
browser_usable() { command -v chromium >/dev/null; }
mqtt_usable() { command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ]; }
all_usable() { rtsp_usable && browser_usable && mqtt_usable; }

# Ajv 8 (the strict JSON Schema validator Node.js subscribers use), from the npm registry into a cache folder,
# where node and npm exist; the schema test skips, saying so, where they do not.
AJV_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/roadwatch-tests/ajv"
if command -v node >/dev/null && command -v npm >/dev/null && [ ! -d "$AJV_DIR/node_modules/ajv" ]; then
    mkdir -p "$AJV_DIR" && (cd "$AJV_DIR" && timeout 300 npm install --silent --no-audit --no-fund ajv@8 >/dev/null 2>&1) \
        || echo "note: could not install ajv from npm; the strict schema test will skip"
fi

all_usable && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    missing=""
    rtsp_usable || missing="$missing $RTSP_PACKAGES"
    browser_usable || missing="$missing $BROWSER_PACKAGES"
    mqtt_usable || missing="$missing $MQTT_PACKAGES"
    echo "installing the tests' Debian packages:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null
fi
all_usable && exit 0
if [ "${1:-}" = "--required" ]; then
    echo "error: the tests' Debian packages are not usable; install: $RTSP_PACKAGES $BROWSER_PACKAGES $MQTT_PACKAGES" >&2
    exit 1
fi
echo "note: some tests will skip; as root, install: $RTSP_PACKAGES $BROWSER_PACKAGES $MQTT_PACKAGES"
