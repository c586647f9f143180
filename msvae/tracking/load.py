"""Load a registered model (`models:/<name>@<alias>`, `runs:/...`) as a torch module."""

from __future__ import annotations

from msvae.config import Config


def load_registered(uri: str):
    """(torch model in eval mode, the Config it was trained with) for an MLflow model URI."""
    import mlflow.pyfunc

    inner = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    return inner.model, inner.cfg


def with_model_settings(cfg: Config, trained: Config) -> Config:
    """The current config (storage, services, tracking) with the model's data, model and
    objective sections, so features match what the model was trained on."""
    from msvae.config import override

    sections = trained.to_dict()
    return override(cfg, {f"{section}.{key}": value for section in ("data", "model", "objective")
                          for key, value in sections[section].items()})
