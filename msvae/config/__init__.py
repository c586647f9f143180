"""Typed configuration read by every stage: YAML files plus dotted `--set` overrides.

The sections are dataclasses (msvae.config.sections); reading, coercing and checking them
is msvae.config.loading. Loading fails with one `ConfigError` line naming the bad key.
Secrets never live here: they come from the environment (see `msvae.storage`).
"""

from msvae.config.loading import ConfigError, from_dict, load, override
from msvae.config.sections import (
    MODEL_KINDS,
    SOURCE_KINDS,
    CompareConfig,
    Config,
    CorpusConfig,
    DataConfig,
    ModelConfig,
    ObjectiveConfig,
    PriorConfig,
    ServicesConfig,
    StorageConfig,
    TrackingConfig,
    TrainConfig,
    TuneConfig,
    dataset_model_name,
)

__all__ = ["MODEL_KINDS", "SOURCE_KINDS", "CompareConfig", "Config", "ConfigError",
           "CorpusConfig", "DataConfig", "ModelConfig", "ObjectiveConfig", "PriorConfig",
           "ServicesConfig", "StorageConfig", "TrackingConfig", "TrainConfig", "TuneConfig",
           "dataset_model_name", "from_dict", "load", "override"]
