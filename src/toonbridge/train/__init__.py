"""Training: one generic loop (:func:`train`), typed YAML configs, safetensors checkpoints, per-method steps."""

from toonbridge.train.config import ConfigError, TrainConfig, config_from_dict, load_config
from toonbridge.train.loop import TrainingDiverged, TrainResult, train
from toonbridge.train.method import TrainingMethod, build_method, register_method

__all__ = ["ConfigError", "TrainConfig", "config_from_dict", "TrainResult", "TrainingDiverged", "TrainingMethod", "build_method",
           "load_config", "register_method", "train"]
