"""Evaluation: tasks (FLORES, XQuAD/MLQA, JSONL), results.csv, pilots, layer alignment.

    from tuning.evaluation.tasks import load_task, score_task
    task = load_task("flores:en-zh", "flores200_dataset")
    rows = score_task(task, tuning.generate("out/final", task.prompts),
                      comet_model="models/wmt22-comet-da")  # a local COMET directory (or "Unbabel/wmt22-comet-da")
    from tuning.evaluation.results import write_results
    write_results(rows, "results.csv")
"""
