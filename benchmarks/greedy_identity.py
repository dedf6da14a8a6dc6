"""Do the greedy paths give the same outputs? Today's default against the loop before drafts.

For each model directory and each language's committed held-out set (chat-template prompts as
benchmarks/eval_speed.py builds them, the study's cap per language), the first --items prompts
decoded in batches of --batch by ``torch-before`` (tuning.generation.greedy before the preallocated cache
and drafts: benchmarks/eval_speed.py's named baseline) and by the paths of --paths (``torch``:
today's default, ``torch-kK``: K draft tokens, ``torch-k0``: no drafts); prints, per model and
language, how many outputs differ from ``torch-before`` and how many forward passes each path
ran. Untimed (the count is what matters here), so the background job is not paused.

    .venv/bin/python benchmarks/greedy_identity.py --model MODEL_DIR --items 50 --json out.json
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_speed import HELDOUT, baseline_greedy_batch, cap_for, loop_generate  # noqa: E402


def main(argv=None) -> int:
    from tuning.evaluation.tasks import load_task
    from tuning.generation import load_model
    from tuning.generation.greedy import DRAFT_TOKENS, greedy_batch

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", action="append", required=True)
    p.add_argument("--languages", default="ar,el,hi,tr,vi,zh")
    p.add_argument("--items", type=int, default=50)
    p.add_argument("--skip", type=int, default=0, help="start at this item")
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--paths", default="torch")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    result, lines = {}, []
    for model_dir in args.model:
        model, tok = load_model(model_dir, device="cpu", dtype="float32")
        passes = []
        hook = model.model.register_forward_pre_hook(lambda m, a, kw: passes.append(1), with_kwargs=True)
        for lang in args.languages.split(","):
            task = load_task(f"jsonl:heldout-{lang}", HELDOUT / f"{lang}.jsonl", tokenizer=tok, chat_template=True)
            cap = cap_for(tok, [it.reference for it in task.items])
            prompts = [it.prompt for it in task.items[args.skip:args.skip + args.items]]
            texts, counts = {}, {}
            for label in ["torch-before"] + args.paths.split(","):
                k = DRAFT_TOKENS if label == "torch" else int(label[len("torch-k"):]) if label.startswith("torch-k") else None
                loop = baseline_greedy_batch if label == "torch-before" else functools.partial(greedy_batch, draft_tokens=k)
                passes.clear()
                texts[label] = loop_generate(model, tok, prompts, batch_size=args.batch, max_new_tokens=cap, greedy=loop)
                counts[label] = len(passes)
            at_cap = sum(len(tok(x, add_special_tokens=False)["input_ids"]) >= cap for x in texts["torch-before"])
            differ = {b: [i + args.skip for i, (x, y) in enumerate(zip(texts["torch-before"], texts[b])) if x != y]
                      for b in texts if b != "torch-before"}
            result.setdefault(model_dir, {})[lang] = {"items": len(prompts), "cap": cap, "at_cap": at_cap,
                                                      "passes": counts, "differ_items": differ}
            line = (f"| {Path(model_dir).name} | {lang} | {len(prompts)} | {cap} | {at_cap} | "
                    + "; ".join(f"{b}: {len(d)} differ" for b, d in differ.items()) + " | "
                    + ", ".join(f"{b} {n}" for b, n in counts.items()) + " |")
            lines.append(line)
            print(line, flush=True)
        hook.remove()
        del model
    print("| model | language | items | cap | at cap | outputs differing from torch-before | forward passes |")
    print("|---|---|---:|---:|---:|---|---|")
    print("\n".join(lines))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
