#!/usr/bin/env bash
# Run stages of moviefactory-mini on the lent GPU machine (how GPU calls are made: CONTRIBUTING.md; this folder: tools/dev/README.md):
#   bash tools/dev/gpu_stage.sh INIT_DIR "STAGE:MINUTES[:BATCH[:LR]] ..."
# Needs carried: .whl (diffusers + fastcore wheels), .carry/minilm8 (the trimmed text encoder from
# tools/dev/trim_text_encoder.py, packed to int8 by tools/dev/pack_text_encoder.py to fit the 64 MiB a call may carry).
# Writes the new weights, logs and summaries into $OUT as a tar split in 15 MB parts (vae/ and unet/ only when a
# stage trained them). EVAL_N=96 also scores the result (after the weights are packed, so a call that runs out of time keeps them) on held-out captions (tools/eval_mini.py) into $OUT/eval
# (EVAL_ROWS="stage 2,stage 3" for only those rows; SAMPLERS=dpm:6:0.5,... adds sampler rows). ZERO_SNR=1 trains with the zero-terminal-SNR schedule.
# SEED=N draws other toy clips than seed 0 (each call otherwise starts the same clip sequence again); CAMERA_WEIGHTS=3,1,1,1,1
# skews the camera moves of the toy clips (static, pan left, pan right, zoom in, zoom out); WATERMARK_WEIGHT=2 weighs the
# watermark's corner more in the loss. GUIDANCE=2 scores at another guidance scale than 7.5. TEMPORAL_RESBLOCK=videoldm
# makes stage temporal start with fresh Video LDM temporal ResBlocks (the mini's so far are ModelScope's).
# Stage "guidance:MINUTES" distils classifier-free guidance into the adapters (guided/adapters.safetensors); score it
# with tools/eval_mini.py --guided --guidance 1 --rows none --samplers dpm:6:1.
set -uo pipefail
init=$1; stages=$2
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MOVIEFACTORY_PROGRESS=0
te=/tmp/minilm; python3 tools/dev/pack_text_encoder.py unpack .carry/minilm8 $te || exit 1
nvidia-smi --query-gpu=name,memory.total,clocks.sm --format=csv
work=/tmp/mini; mkdir -p $work
[ -d "$init" ] && cp -r "$init"/. $work/
for spec in $stages; do
  IFS=: read -r stage minutes batch lr <<<"$spec"
  [ -d $work/run-$stage ] && mv $work/run-$stage $work/run-$stage-$(date +%H%M%S)   # keep earlier calls' curves
  echo "=== stage $stage for $minutes min (batch ${batch:-64}, lr ${lr:-2e-4})"
  python3 -m moviefactory.cli train "$stage" $work --init-dir $work --text-encoder $te \
      --minutes "$minutes" --max-steps 200000 --batch-size "${batch:-64}" --lr "${lr:-2e-4}" \
      --num-workers 14 --checkpoint-every 100000 --warmup-steps "${WARMUP:-50}" ${ZERO_SNR:+--zero-snr} \
      --seed "${SEED:-0}" ${CAMERA_WEIGHTS:+--camera-weights "$CAMERA_WEIGHTS"} \
      --watermark-weight "${WATERMARK_WEIGHT:-0}" \
      $([ "$stage" = temporal ] && [ -n "${TEMPORAL_RESBLOCK:-}" ] && echo --temporal-resblock "$TEMPORAL_RESBLOCK") \
      2>&1 | grep -v "Warning\|warn(" | tail -5
done
rm -f $work/run-*/checkpoint*
python3 tools/sample_mini.py $work $OUT/samples.png --text-encoder $te 2>&1 | tail -1
skip=(); [[ $stages == *vae* ]] || skip+=(--exclude=./vae); [[ $stages == *base* ]] || skip+=(--exclude=./unet)
(cd $work && tar cf - "${skip[@]}" .) | split -b 15M - "$OUT/mini.tar.part-"
if [ -n "${EVAL_N:-}" ]; then
  echo "=== evaluation, $EVAL_N held-out clips per row"
  python3 tools/eval_mini.py $work $OUT/eval --n "$EVAL_N" --steps 25 --batch 48 --text-encoder $te ${EVAL_ROWS:+--rows "$EVAL_ROWS"} ${SAMPLERS:+--samplers "$SAMPLERS"} ${GUIDANCE:+--guidance "$GUIDANCE"} 2>&1 | grep -v "Warning\|warn(\|biased value" | tail -20
fi
ls -la $OUT; du -sh $work/*
