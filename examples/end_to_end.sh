#!/usr/bin/env bash
# The whole loop, end to end, on one CPU in a few minutes:
#
#   pilots.csv --budgetlaw fit--> laws.json --budgetlaw allocate--> plan.json --tuning mix-->
#   mix.jsonl --tuning train--> run/final --tuning eval--> results.csv --tuning pilots-->
#   pilots.csv (one more point per language) --budgetlaw fit--> laws.json
#
# for English -> Chinese and English -> Arabic, with REAL human translations (the gettext
# catalogs under /usr/share/locale) and a TINY random Llama built here, so the scores it reaches
# are near zero: this shows the plumbing, not a result. Run it from anywhere:
#
#   bash examples/end_to_end.sh [WORK_DIR]          # default WORK_DIR: e2e_out/
#
# Every step below says, under "Real run:", what to change to do it for real: your model, your
# pilot runs, FLORES-200, a COMET checkpoint, 8 GPUs. Commands and file formats: docs/cli.md,
# docs/data.md, docs/training.md, docs/evaluation.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="$(realpath -m "${1:-e2e_out}")"
PY="${PYTHON:-$ROOT/.venv/bin/python}"     # the project's virtualenv (bash scripts/setup.sh all)
LOCALE=/usr/share/locale                   # gettext catalogs: msgid English, msgstr translation
BUDGET=1500                                # pairs to spend across zh and ar
SEED=1

if [ -e "$WORK" ]; then
    echo "$WORK exists; remove it or give another directory" >&2
    exit 1
fi
mkdir -p "$WORK"
cd "$WORK"
export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
budgetlaw() { "$PY" -m budgetlaw "$@"; }
tuning() { "$PY" -m tuning "$@"; }
step() { printf '\n=== %s\n' "$*"; }

# ---------------------------------------------------------------------------------------------
step "0. inputs: a tiny model, pilot scores, instructions, a FLORES-style evaluation set"

# A 2-layer Llama and a byte-level BPE tokenizer trained on the spot (the test suite's builders).
# Real run: skip this and set MODEL to your Hugging Face model directory (config.json,
# safetensors, tokenizer), e.g. MODEL=/models/Llama-2-7b-hf. Nothing is fetched from a hub.
"$PY" - "$ROOT/tests" "$WORK/tiny-llama" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from _builders import build_tiny_llama, build_tokenizer  # plain functions, no pytest needed
tokenizer = build_tokenizer()
build_tiny_llama(tokenizer).save_pretrained(sys.argv[2])
tokenizer.save_pretrained(sys.argv[2])
EOF
MODEL="$WORK/tiny-llama"

# Pilot scores. These are SYNTHETIC (drawn from two made-up laws, source=synthetic) so that the
# example has something to fit. Real run: make pilots.csv from real pilot runs, i.e. steps 3-6
# below with a hand-written plan per pilot size, appending each run's scores:
#   for n in 10000 30000 100000; do
#     echo "{\"sizes\": {\"zh\": $n, \"ar\": $n}}" > pilot-$n.json
#     tuning mix pilot-$n.json -o pilot-$n/mix.jsonl ...same --parallel/--instructions/--heldout...
#     torchrun ... -m tuning train train.yaml data=pilot-$n/mix.jsonl output_dir=pilot-$n/run
#     tuning eval --model pilot-$n/run/final ... -o pilot-$n/results.csv
#     tuning pilots --results pilot-$n/results.csv --manifest pilot-$n/mix.manifest.json \
#         --metric comet -o pilots.csv --append
#   done
"$PY" - <<'EOF'
from budgetlaw import PowerLaw
from budgetlaw.synthetic import generate_pilots
laws = {"zh": PowerLaw.from_identifiable(K=95.0, c=0.12), "ar": PowerLaw.from_identifiable(K=110.0, c=0.16)}
generate_pilots(laws, sizes=(250, 500, 1000, 2000), n_seeds=2, metric="chrf").to_csv("pilots.csv", index=False)
EOF

# English instructions (required) and a few Chinese ones. Real run: the 52k Stanford Alpaca
# instructions (alpaca_data.json) and their translations, one file per language.
cat > alpaca_en.json <<'EOF'
[{"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat well, exercise and sleep enough."},
 {"instruction": "What is the capital of France?", "input": "", "output": "Paris."},
 {"instruction": "Rewrite the sentence in the passive voice.", "input": "The cat chased the mouse.", "output": "The mouse was chased by the cat."},
 {"instruction": "Name three primary colours.", "input": "", "output": "Red, yellow and blue."}]
EOF
cat > alpaca_zh.jsonl <<'EOF'
{"instruction": "法国的首都是哪里？", "input": "", "output": "巴黎。"}
{"instruction": "说出三种原色。", "input": "", "output": "红色、黄色和蓝色。"}
EOF

# An evaluation set in the FLORES-200 layout (flores/dev/eng_Latn.dev, zho_Hans.dev, ...), made
# of catalog messages that exist in English, Chinese and Arabic. They are also in the training
# catalogs, so `--heldout` below must keep them out of the mixture (the manifest counts the hits).
# Real run: the real FLORES-200 folder, e.g. FLORES=/data/flores200_dataset (never train on it).
"$PY" - "$LOCALE" <<'EOF'
import random, re, sys
from pathlib import Path
import polib
locale = Path(sys.argv[1])

def catalog(lang):
    pairs = {}
    for mo in sorted((locale / lang / "LC_MESSAGES").glob("*.mo")):
        for e in polib.mofile(str(mo)):
            text = e.msgid
            # one sentence per line, no accelerator or placeholder to strip, at least 4 words
            if (e.msgstr and not e.msgid_plural and "\n" not in text + e.msgstr
                    and not re.search(r"[_&%{}<>\\]", text + e.msgstr) and len(text.split()) >= 4):
                pairs.setdefault(text, e.msgstr)
    return pairs

zh, ar = catalog("zh_CN"), catalog("ar")
shared = sorted(set(zh) & set(ar))
random.Random(0).shuffle(shared)
splits = {"dev": shared[:20], "devtest": shared[20:60]}
for split, english in splits.items():
    folder = Path("flores") / split
    folder.mkdir(parents=True)
    for code, texts in (("eng_Latn", english), ("zho_Hans", [zh[t] for t in english]),
                        ("arb_Arab", [ar[t] for t in english])):
        (folder / f"{code}.{split}").write_text("\n".join(texts) + "\n", encoding="utf-8")
print(f"flores/: {len(splits['dev'])} dev and {len(splits['devtest'])} devtest sentences "
      f"from {len(shared)} messages translated in both zh_CN and ar")
EOF
FLORES="$WORK/flores"

# ---------------------------------------------------------------------------------------------
step "1. budgetlaw fit: one law per language from the pilot scores"
# Real run: the default --n-boot 1000 (bootstrap intervals); --metric comet.
budgetlaw fit pilots.csv -o laws.json --n-boot 200 --metric chrf

step "2. budgetlaw allocate: spend $BUDGET pairs where the laws are steepest"
# Real run: --budget 1.2M, and --languages LANGS.csv with the pairs you have per language
# (`available`), floors, costs (e.g. tokens per pair from `tuning tokens`) and weights;
# --max-epochs lets a scarce language repeat its pairs.
budgetlaw allocate laws.json --budget "$BUDGET" -o plan.json
# The laws drawn with the pilots, the plan against the equal split, and the budget frontier.
# Real run: with --languages LANGS.csv, the default --baselines adds proportional, temperature
# and UniMax splits (they need the available pairs per language).
budgetlaw report laws.json plan.json --baselines uniform -o report

step "3. tuning mix: draw the planned pairs from the catalogs, add instructions, drop held-out text"
# zh reads every zh_CN (and zh_SG, zh_Hans) catalog under $LOCALE, ar every ar catalog.
# Real run: --parallel LANG=PATH for your parallel corpora (line-aligned files, TSV, ...;
# docs/data.md), repeatable; the full Alpaca files; --heldout for every evaluation set you use.
tuning mix plan.json -o mix.jsonl \
    --parallel zh="$LOCALE" --parallel ar="$LOCALE" \
    --instructions en=alpaca_en.json --instructions zh=alpaca_zh.jsonl \
    --heldout zh="$FLORES" --heldout ar="$FLORES" --seed "$SEED"

step "4. tuning train: full-parameter tuning (FSDP2) on the mixture, final model in run/final"
# Real run: the Alpaca recipe defaults (3 epochs, lr 2e-5, 128 sequences per update, seq_len
# 512: drop max_steps and lr below) on 8 GPUs of one machine:
#   torchrun --nproc_per_node 8 -m tuning train train.yaml model=$MODEL batch_size=4
# (several machines: docs/training.md; add save_every=500 and resume=true for pre-emptible jobs).
cat > train.yaml <<EOF
model: $MODEL
data: $WORK/mix.jsonl
output_dir: $WORK/run
max_steps: 30          # a few steps for the example; real run: delete (epochs: 3)
seq_len: 512
batch_size: 4
grad_accum: 1          # real run: delete (derived from global_batch_size 128)
lr: 1.0e-3             # a tiny random model needs a large lr; real run: 2e-5
warmup_ratio: 0.1
seed: $SEED
EOF
"$PY" -m tuning train train.yaml

step "5. tuning eval: translate the FLORES-style devtest from English into Chinese and Arabic"
# Real run: --comet-model /path/to/wmt22-comet-da (docs/evaluation.md says how to get it onto an
# offline machine; COMET then adds a `comet` row per task) and the default --max-new-tokens 256.
tuning eval --model run/final \
    --task flores:en-zh --data "$FLORES" --task flores:en-ar --data "$FLORES" \
    --max-new-tokens 32 --batch-size 16 -o results.csv
cut -d, -f1-5 results.csv

step "6. tuning pilots: this run becomes one more pilot point per language"
# size = the translation pairs of each language in the mixture (from its manifest).
# Real run: --metric comet.
tuning pilots --results results.csv --manifest mix.manifest.json --metric chrf \
    -o pilots.csv --append
tail -n 2 pilots.csv

step "7. budgetlaw fit again, on the grown pilots file"
# Here the tiny model's real point (chrF near 0) sits far below the synthetic pilots, so expect
# poor R^2 and a flat_data flag: the fit says, rightly, that these points do not make one law.
# Real run: all points are real pilot runs, and the new laws give the next, better plan (step 2).
budgetlaw fit pilots.csv -o laws.json --n-boot 200 --metric chrf

printf '\ndone: everything is in %s\n' "$WORK"
