"""The baseline of ``train_throughput.py --whole-process``: a Hugging Face ``Trainer`` job as a
user would write it, run as one fresh process from start to exit.

    python benchmarks/hf_trainer_job.py MODEL_DIR MIXTURE.jsonl OUTPUT_DIR [--seq-len 512 --batch 8]

It loads the tokenizer and the model from the directory, tokenises the mixture, trains one
epoch with ``Trainer(...).train()`` (right-padded random batches from ``DataCollatorForSeq2Seq``,
labels padded with -100, cosine schedule with 3% warmup, lr 2e-4, no checkpoints, no logging
integrations) and saves the model and tokenizer to ``OUTPUT_DIR/final``: the same steps as
``tuning train`` with the benchmark's config. The examples are tokenised by
``tuning.data.tokenize`` (the Alpaca prompt masked, EOS appended), so both sides train on the
same token ids; a user's own tokenising function would only add to this side's time.

Prints one JSON line: the Trainer's own ``train_runtime`` (the loop), the steps and the loss.
"""

from __future__ import annotations

import argparse
import json


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model_dir")
    p.add_argument("data")
    p.add_argument("output_dir")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--batch", type=int, default=8)
    args = p.parse_args()

    import torch
    from transformers import (AutoModelForCausalLM, AutoTokenizer, DataCollatorForSeq2Seq, Trainer,
                              TrainingArguments)

    from tuning.data.mixture import read_mixture
    from tuning.data.tokenize import tokenize_records

    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token  # the usual fix; padding carries no loss
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, attn_implementation="sdpa", dtype=torch.float32)
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    examples, _ = tokenize_records(read_mixture(args.data), tokenizer, args.seq_len, progress=False)
    dataset = [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]

    targs = TrainingArguments(
        output_dir=args.output_dir, per_device_train_batch_size=args.batch, gradient_accumulation_steps=1,
        num_train_epochs=1, learning_rate=2e-4, lr_scheduler_type="cosine", warmup_ratio=0.03,
        max_grad_norm=1.0, weight_decay=0.0, save_strategy="no", report_to=[], use_cpu=True,
        dataloader_pin_memory=False, seed=0,
    )
    trainer = Trainer(model=model, args=targs, train_dataset=dataset,
                      data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100))
    result = trainer.train()
    trainer.save_model(f"{args.output_dir}/final")
    tokenizer.save_pretrained(f"{args.output_dir}/final")
    print(json.dumps({"loop_s": result.metrics["train_runtime"], "steps": result.global_step,
                      "loss": result.training_loss}))


if __name__ == "__main__":
    main()
