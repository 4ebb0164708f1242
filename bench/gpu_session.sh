#!/usr/bin/env bash
# Every GPU-machine check of issues 4 and 8 as ONE run that fits a task's device budget (15 minutes in all,
# the machine's start included, so one command of under 10 minutes and no second try to count on).
# Most important first; each step time-boxed so one that hangs or crashes cannot eat the next one's time;
# each result written into $OUT the moment it exists (the device tool brings back at most 8 files):
#   session.log     everything printed, with each step's exit status and duration
#   detector.json   issue 4: our detector against predict per frame / batched and the bare network, batch 64
#   e2e_file.json   issue 8: file mode, 8, 32 and 64 streams, against model.track in the same run
#   e2e_file_process.json   the same, 32 and 64 streams, decoding in a process per stream
#   e2e_live.json   issue 8: 64 live streams at 30 frames/s for 300 s, or for what the budget leaves
#   streams.json    if time is left: capture alone, 64 streams, threads against a process per stream
#   host.json       if time is left: the per-frame work after detection, 64 streams, against Ultralytics' tracker
#
# Here, once:   bash ../shared/device/prepare.sh orjson          (orjson is not in the GPU image)
# Device tool:  run  command="bash bench/gpu_session.sh"  carry=[".device"]  timeout_s=600
# A dry run on a CPU (the project's venv, short steps):
#   SETUP=0 DEVICE=cpu PYTHON=.venv/bin/python BUDGET_S=240 LIVE_S=20 FILE_STREAMS="1 2" PROCESS_STREAMS=2 \
#     LIVE_STREAMS=2 STREAMS=4 HOST_STREAMS=8 DETECTOR_BATCH=8 FILE_FRAMES=24 bash bench/gpu_session.sh
set -uo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bench/results/gpu}
BUDGET_S=${BUDGET_S:-560}          # what the steps are planned to fit in
HARD_S=${HARD_S:-$((BUDGET_S + 25))}  # no step runs past this; keep the device tool's timeout_s above it
DEVICE=${DEVICE:-cuda}
PYTHON=${PYTHON:-python3}
LIVE_S=${LIVE_S:-300}              # issue 8: 5 minutes; shortened to what is left when earlier steps ran long
FILE_STREAMS=${FILE_STREAMS:-"8 32 64"}
FILE_FRAMES=${FILE_FRAMES:-0}      # frames per stream in file mode; 0: the whole clip (268 frames of 720p)
LIVE_STREAMS=${LIVE_STREAMS:-64}
PROCESS_STREAMS=${PROCESS_STREAMS:-"32 64"}
STREAMS=${STREAMS:-"64"}
HOST_STREAMS=${HOST_STREAMS:-64}
DETECTOR_BATCH=${DETECTOR_BATCH:-64}

mkdir -p "$OUT"
exec > >(tee -a "$OUT/session.log") 2>&1
tee_pid=$!
start=$SECONDS
left() { echo $((BUDGET_S - (SECONDS - start))); }

# step NAME LIMIT_S COMMAND...: run it under `timeout`, never past HARD_S; log its status and duration.
step() {
  local name=$1 limit=$2 rest
  shift 2
  rest=$((HARD_S - (SECONDS - start) - 3))
  ((limit > rest)) && limit=$rest
  if ((limit < 20)); then
    echo "== $name: skipped, only $(left) s of the budget left"
    return
  fi
  echo "== $name: start at $((SECONDS - start)) s, limit $limit s: $*"
  local t=$SECONDS
  timeout -k 10 "$limit" "$@"
  echo "== $name: exit $? after $((SECONDS - t)) s"
}

if [ "${SETUP:-1}" = 1 ] && [ -f .device/setup.sh ]; then
  echo "== setup: installing the carried wheels"
  # shellcheck disable=SC1091
  source .device/setup.sh || { echo "== setup failed"; exit 1; }
  echo "== setup: done at $((SECONDS - start)) s"
fi
nvidia-smi --query-gpu=name,driver_version,memory.total,utilization.gpu --format=csv 2>/dev/null || echo "no nvidia-smi"
echo "cpus: $(nproc); /dev/shm: $(df -h /dev/shm | awk 'NR==2 {print $4}') free"
$PYTHON -c "import torch, cv2, ultralytics; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), \
'opencv', cv2.__version__, 'ultralytics', ultralytics.__version__)"

# 1. Has the CUDA path (pinned frames, letterbox and NMS on the GPU, fp16) the detections of predict there?
step cuda-parity 120 $PYTHON -m pytest -q -p no:cacheprovider tests/detector/test_detector.py -k cuda

# 2. Issue 4's figures.
step detector 120 $PYTHON bench/detector_bench.py --device "$DEVICE" --batch "$DETECTOR_BATCH" --repeats 3 --out "$OUT/detector.json"

# 3. Issue 8, file mode (one --streams per count), decoding in threads (the default), then in a process per
#    stream with one FFmpeg thread each, in case one process's decoding is what tops out.
step e2e-file 150 $PYTHON -m roadwatch bench --device "$DEVICE" $(printf -- '--streams %s ' $FILE_STREAMS) \
  --frames "$FILE_FRAMES" --live-streams 0 --out "$OUT/e2e_file.json"
step e2e-file-process 120 $PYTHON -m roadwatch bench --device "$DEVICE" $(printf -- '--streams %s ' $PROCESS_STREAMS) \
  --frames "$FILE_FRAMES" --live-streams 0 --capture process --decode-threads 1 --out "$OUT/e2e_file_process.json"

# 4. Issue 8, live mode: LIVE_S seconds, or what the budget leaves (about 45 s of imports, model loading,
#    teardown and reading millions of events back come on top of the live seconds; no baseline here).
live_s=$(($(left) - 45))
((live_s > LIVE_S)) && live_s=$LIVE_S
if ((live_s >= 30 || (live_s == LIVE_S && live_s > 0))); then
  step e2e-live $((live_s + 120)) $PYTHON -m roadwatch bench --device "$DEVICE" --streams 0 \
    $(printf -- '--live-streams %s ' $LIVE_STREAMS) --live-seconds "$live_s" --out "$OUT/e2e_live.json"
else
  echo "== e2e-live: skipped, only $(left) s of the budget left"
fi

# 5. With what time is left: capture alone (threads against processes) and the tracking thread alone, the two
#    ceilings that say which side stops the end-to-end figures.
step streams 40 $PYTHON bench/streams_bench.py --streams $STREAMS --capture thread process --out "$OUT/streams.json"
step host 40 $PYTHON bench/host_bench.py --streams "$HOST_STREAMS" --frames 60 --out "$OUT/host.json"

echo "== session done at $((SECONDS - start)) s of $BUDGET_S; files in $OUT:"
ls -l "$OUT"
exec >&- 2>&-
wait "$tee_pid"  # session.log complete before the device tool collects $OUT
