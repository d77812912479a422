#!/usr/bin/env bash
# On the lent GPU machine: train the no-adapter ablation (temporal layers on the bare base) and score
# moviefactory-mini after each stage on held-out toy captions (tools/eval_mini.py).
#   bash tools/dev/gpu_eval.sh ABLATION_MINUTES N_CLIPS   (SAMPLERS=ddim:10:1,dpm:6:0.5 adds sampler rows; ZERO_SNR=1 for the ablation)
# Needs carried: .whl (diffusers + fastcore wheels), .carry/minilm8 (tools/dev/pack_text_encoder.py). Results in $OUT.
set -uo pipefail
minutes=${1:-3.5}; n=${2:-96}
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 MOVIEFACTORY_PROGRESS=0
te=/tmp/minilm; python3 tools/dev/pack_text_encoder.py unpack .carry/minilm8 $te || exit 1
abl=/tmp/ablation; mkdir -p $abl && cp -r moviefactory/assets/mini/vae moviefactory/assets/mini/unet moviefactory/assets/mini/scheduler $abl/
echo "=== ablation: temporal layers on the bare base for $minutes min"
python3 -m moviefactory.cli train temporal $abl --init-dir $abl --text-encoder $te --minutes "$minutes" --max-steps 200000 \
    --batch-size 16 --lr 1.5e-4 --num-workers 14 --checkpoint-every 100000 --warmup-steps 40 ${ZERO_SNR:+--zero-snr} 2>&1 | grep -v "Warning\|warn(" | tail -3
cp $abl/summary-temporal.json $OUT/ablation-summary.json; cp $abl/run-temporal/losses.jsonl $OUT/ablation-losses.jsonl
echo "=== evaluation, $n held-out clips per row"
python3 tools/eval_mini.py moviefactory/assets/mini $OUT --n "$n" --steps 25 --batch 48 --text-encoder $te --ablation $abl ${SAMPLERS:+--samplers "$SAMPLERS"} 2>&1 | grep -v "Warning\|warn(\|biased value"
ls -la $OUT
