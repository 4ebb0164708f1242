# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
SHARED ?= ../shared

# Bundled defaults from ../shared when it is there; otherwise roadwatch falls back on its own defaults.
DEFAULT_SOURCE := $(wildcard $(SHARED)/videos/fixedcam_citystreet_cars_bus_640x360.mp4)
DEFAULT_MODEL  := $(wildcard $(SHARED)/models/yolov8n_coco.pt)
RUN_ARGS ?= --config configs/default.yaml $(if $(DEFAULT_SOURCE),--source $(DEFAULT_SOURCE)) \
            $(if $(DEFAULT_MODEL),--model $(DEFAULT_MODEL)) --output runs/default

.PHONY: run test lint test-deps venv clean bench bench-streams bench-tracking bench-events bench-detector bench-host \
	bench-schedule bench-capacity bench-counts bench-http bench-clips bench-plates

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[test,lint,ocr,onnx,openvino]'
	touch $@

run: $(STAMP)
	$(BIN)/roadwatch run $(RUN_ARGS)

test: $(STAMP) test-deps
	$(BIN)/python -m pytest -ra --durations=15 tests

# ruff (pyflakes, pycodestyle, import order, pyupgrade, a bugbear subset, the banned top-level stage names);
# inside a stage package its own modules are imported relatively, never by the old top-level name.
lint: $(STAMP)
	$(BIN)/ruff check .
	@! grep -rnE '^\s*(from|import) (streams|detector|trackers)\b' streams detector trackers \
		|| { echo "lint: import a stage package's own modules relatively"; exit 1; }

test-deps:
	@bash tests/support/install_test_packages.sh

bench-streams: $(STAMP)
	$(BIN)/python bench/streams_bench.py

bench-http: $(STAMP)
	$(BIN)/python bench/http_bench.py

# Plates end to end on 108 labelled European photos: found, exact text, CER, time; the stage as it was, same run.
bench-plates: $(STAMP)
	$(BIN)/python bench/plates_bench.py

# Event clips: PyAV against OpenCV decoding, the pipeline on two RTSP cameras with clips off and on, ring memory.
bench-clips: $(STAMP) test-deps
	$(BIN)/python bench/clips_bench.py

bench-events: $(STAMP)
	$(BIN)/python bench/events_bench.py

bench-detector: $(STAMP)
	$(BIN)/python bench/detector_bench.py

# Per-frame work after detection (tracking, events) on replayed detections, against Ultralytics' tracker.
bench-host: $(STAMP)
	$(BIN)/python bench/host_bench.py

# End to end, file and live mode, against Ultralytics' model.track (which needs `lap`, in the bench extra).
# On a CPU a short variant (BENCH_ARGS to change it); on a GPU the full one (1-64 streams, 5 min live).
bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	$(BIN)/roadwatch bench $(BENCH_ARGS)

# supervision dropped ByteTrack after 0.30; its last release with it runs in a child process from here.
SV_PEER := bench/.peers/supervision-0.30.9
# BoxMOT without its dependencies (they would move this venv's pins), beside the two it needs that we lack
BOXMOT_PEER := bench/.peers/boxmot-25.0.0
BOXMOT_PINS := boxmot==25.0.0 filterpy==1.4.5 lapx==0.11.1

# Detection every 1st, 2nd, 3rd, 6th frame (the frames between predicted) on MOT17-02/04 and KITTI, scored by TrackEval.
bench-schedule: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	test -d $(BOXMOT_PEER) || $(BIN)/python -m pip install --quiet --no-deps --target $(BOXMOT_PEER) $(BOXMOT_PINS)
	$(BIN)/python bench/schedule_bench.py

# How many live 720p30 cameras this machine holds: every frame, detect_fps 5, motion-gated.
bench-capacity: $(STAMP)
	$(BIN)/roadwatch capacity $(CAPACITY_ARGS)

# Line counts per class on the fixed-camera clips: every frame, detect_fps 5, motion-gated.
bench-counts: $(STAMP)
	$(BIN)/python bench/counts_bench.py

bench-tracking: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[bench]'
	test -d $(SV_PEER) || $(BIN)/python -m pip install --quiet --no-deps --target $(SV_PEER) supervision==0.30.9
	test -d $(BOXMOT_PEER) || $(BIN)/python -m pip install --quiet --no-deps --target $(BOXMOT_PEER) $(BOXMOT_PINS)
	$(BIN)/python bench/tracking_bench.py

clean:
	rm -rf $(VENV) runs .pytest_cache
