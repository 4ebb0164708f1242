#!/usr/bin/env bash
# Installs the Debian packages of the tests' RTSP server (gst-rtsp-server for the system python3) when
# they are missing. With --required (CI) a failure is an error; otherwise the RTSP tests just skip.
set -u
PACKAGES="python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad"
here="$(cd "$(dirname "$0")" && pwd)"

usable() {
    /usr/bin/python3 -c "import sys; sys.path.insert(0, '$here'); from rtsp import unavailable_reason; r = unavailable_reason(); sys.exit(1 if r else 0)" 2>/dev/null
}

usable && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing the RTSP test server's Debian packages: $PACKAGES"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq $PACKAGES >/dev/null
fi
usable && exit 0
if [ "${1:-}" = "--required" ]; then
    echo "error: the RTSP test server cannot run; install: $PACKAGES" >&2
    exit 1
fi
echo "note: the RTSP tests will skip; as root, install: $PACKAGES"
