#!/usr/bin/env bash
# One entry point for the two set-up commands in the README:
#   ./studio.sh app    install into ./.venv and launch the studio on the shipped model
#   ./studio.sh test   install into ./.venv (with test extras and Debian's chromium) and run every test
# Extra arguments are passed on (to `wavenet app` or to pytest).
set -euo pipefail
cd "$(dirname "$0")"
what="${1:-app}"; shift || true
PY="${PYTHON:-python3}"

if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
extras=""
[ "$what" = "test" ] && extras="[test]"
# torch>=2.4,<2.14 in pyproject resolves to the CPU wheel on this machine's disk.
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".${extras}"
# The SoundFont synthesiser for `--data soundfont` (a self-contained wheel). --no-deps: it declares
# pyaudio, which only its live playback uses and which needs PortAudio's headers to build.
.venv/bin/python -c "import importlib.metadata as m; assert m.version('tinysoundfont') == '0.3.7'" 2>/dev/null \
  || .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps "tinysoundfont==0.3.7"

export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 MPLBACKEND=Agg

# Debian packages: ffmpeg lets the studio play audio while it generates (Gradio's streaming encoder;
# without it the result appears when complete); chromium is for the browser tests only.
apt_install() {
  local SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}
if ! command -v ffmpeg >/dev/null 2>&1; then
  echo "installing Debian's ffmpeg (live playback in the studio)" >&2
  apt_install ffmpeg || echo "could not install ffmpeg: the studio will show results when complete" >&2
fi
case "$what" in
  app)
    exec .venv/bin/wavenet app "$@"
    ;;
  test)
    if [ ! -x /usr/bin/chromium ]; then
      echo "installing Debian's chromium for the browser tests" >&2
      apt_install chromium
    fi
    .venv/bin/python -m ipykernel install --user --name python3 >/dev/null 2>&1 || true
    exec .venv/bin/python -m pytest -q "$@"
    ;;
  *)
    echo "usage: ./studio.sh app|test [args]" >&2; exit 2
    ;;
esac
