#!/usr/bin/env bash
# One call of a lent GPU machine (the device tool runs it in the repository root): start the
# planned training runs that are not running yet, wait, then put each run's snapshots in $OUT.
# Call it again within the lease to wait more and collect newer snapshots. Everything stays
# resumable: a run that was carried back in as .carry/state/NAME/last.pt goes on from there.
#
#   bash scripts/gpu_lease.sh WAIT_SECONDS RUN [RUN ...]      RUN: predictor-deeper | predictor-deepfilter | vocoder-gan | hybrid-wider
#
# What must travel with the working tree (docs/TRAINING.md, "Continuing on a lent GPU machine";
# 64 MiB in all, tracked files included): .whl/ (the wheels the machine lacks), the packed data
# (.carry/data from `scripts/pack_data.py`, or .carry/speech from `--speech-only` for vocoder-gan)
# and .carry/state/NAME/last.pt to resume. For vocoder-gan, untrack the checkpoints it does not
# read (all but ssl-small.pt and vocoder-small.pt) for the call.
#
# Per run, $OUT gets NAME.model.pt (the weights; gapse eval --checkpoint ROLE=PATH scores them
# here), NAME.log.csv, NAME.tail.txt (the last lines of its output) and NAME.last.pt.partNN: the
# slim train state (train/portable.py) split below the per-file limit; here
#   cat FILES_AT/NAME.last.pt.part* > .carry/state/NAME/last.pt
# carries it into the next lease. PY, GPU_ROOT and OUT can be set for a dry run on a CPU.
set -euo pipefail

WAIT=${1:?usage: gpu_lease.sh WAIT_SECONDS RUN [RUN ...]}
shift
[ $# -gt 0 ] || { echo "gpu_lease.sh: name at least one run (predictor-deeper, predictor-deepfilter, vocoder-gan, hybrid-wider)" >&2; exit 2; }
PY=${PY:-python3}
ROOT=${GPU_ROOT:-/tmp/gpu}
OUT=${OUT:?OUT must name the folder that comes back}
STEPS_SCALE=${STEPS_SCALE:-1}  # a dry run shrinks every run's length
mkdir -p "$ROOT" "$OUT"

if [ -d .whl ] && [ ! -d /tmp/site ]; then
  pip install --quiet --no-index --no-deps --target /tmp/site .whl/*.whl
fi
export PYTHONPATH=/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}
COMMON=(--set trainer.val_every=0 --set trainer.amp=false --set trainer.progress=false)

# NAME -> the training command's arguments (after `train`); data folders as packed for the lease
args_of() {
  case $1 in
    predictor-deeper)  # issue #3: predictor-small grown to 3 blocks, every block training
      echo predictor --config configs/predictor/small-deeper.yaml --data "${DATA:-.carry/data}" \
        --steps $((30000 / STEPS_SCALE)) --set "trainer.freeze=[]" --set data.batch_size=16 \
        --set trainer.num_workers=6 ;;
    predictor-deepfilter)  # issue #3: predictor-small's mask widened to a 7-tap deep filter, every block training
      echo predictor --config configs/predictor/small-deepfilter.yaml --data "${DATA:-.carry/data}" \
        --steps $((30000 / STEPS_SCALE)) --set "trainer.freeze=[]" --set data.batch_size=16 \
        --set trainer.num_workers=6 ;;
    vocoder-gan)  # issue #4: the vocoder's adversarial stage from the shipped file, run long
      echo vocoder --config configs/vocoder/small.yaml --data "${SPEECH:-.carry/speech}" \
        --steps $((200000 / STEPS_SCALE)) --set trainer.init=vocoder-small \
        --set loss.gan_start_step=$((2000 / STEPS_SCALE)) --set loss.disc_warmup_steps=$((2000 / STEPS_SCALE)) \
        --set optim.lr=2e-4 --set optim.warmup_steps=100 --set discriminator.channels=32 \
        --set discriminator.max_channels=256 --set data.batch_size=16 --set trainer.num_workers=4 \
        --set trainer.ckpt_every=500 ;;
    hybrid-wider)  # issue #5: hybrid-small's LM kept and frozen, the wider DPRNN mask trained on it
      echo hybrid --config configs/hybrid/small-wider.yaml --data "${DATA:-.carry/data}" \
        --steps $((20000 / STEPS_SCALE)) --set data.batch_size=16 --set trainer.num_workers=4 ;;
    *) echo "gpu_lease.sh: unknown run $1" >&2; return 2 ;;
  esac
}

for name in "$@"; do
  args=$(args_of "$name")
  dir=$ROOT/$name
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
    echo "$name: running (pid $(cat "$dir/pid"))"
    continue
  fi
  mkdir -p "$dir"
  if [ ! -f "$dir/last.pt" ] && [ -f ".carry/state/$name/last.pt" ]; then
    cp ".carry/state/$name/last.pt" "$dir/last.pt"
    echo "$name: resuming from the carried .carry/state/$name/last.pt"
  fi
  # shellcheck disable=SC2086  # $args is a word list made above
  setsid nohup "$PY" -m gapse_core.cli train $args --out "$dir" "${COMMON[@]}" >>"$dir/stdout.txt" 2>&1 &
  echo $! >"$dir/pid"
  echo "$name: started (pid $!)"
done

sleep "$WAIT"

for name in "$@"; do
  dir=$ROOT/$name
  tail -n 5 "$dir/stdout.txt" >"$OUT/$name.tail.txt" 2>/dev/null || true
  [ -f "$dir/log.csv" ] && cp "$dir/log.csv" "$OUT/$name.log.csv"
  [ -f "$dir/model.pt" ] && cp "$dir/model.pt" "$OUT/$name.model.pt"
  if [ -f "$dir/last.pt" ]; then
    "$PY" -m gapse_core.train.portable "$dir/last.pt" "$ROOT/$name.slim.pt"
    rm -f "$OUT/$name.last.pt.part"*
    split -b 15M -d "$ROOT/$name.slim.pt" "$OUT/$name.last.pt.part"
  fi
  echo "$name: $(tail -n 1 "$dir/log.csv" 2>/dev/null | cut -d, -f1-8)"
done
if command -v nvidia-smi >/dev/null; then nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1 || true; fi
