"""Full-parameter instruction tuning with FSDP2: config, data packing, model wrapping, the loop.

``train(config)`` runs one training job (one process, or one rank of a torchrun launch);
``TrainConfig`` / ``load_config`` describe and validate the job. Torch is imported by the
submodules, so importing this package for its config stays cheap.
"""

from tuning.train.config import TrainConfig, load_config


def train(config: TrainConfig):
    """Run the training job described by ``config``; see tuning.train.trainer.train."""
    from tuning.train.trainer import train as _train

    return _train(config)


__all__ = ["TrainConfig", "load_config", "train"]
