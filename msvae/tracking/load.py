"""Load a registered model (`models:/<name>@<alias>`, `models:/<name>/<version>`, a logged
model's `models:/<id>`, `runs:/...`) as a torch module, or say in one line which part of
the URI names nothing."""

from __future__ import annotations

import re

from msvae.config import Config
from msvae.errors import MsvaeError, one_line

_MODELS_URI = re.compile(r"models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>[^/@]+))?")
_FORMS = "models:/NAME@ALIAS, models:/NAME/VERSION or models:/MODEL_ID"
_LISTED = 10  # registered names, aliases or versions an error line lists at most


class ModelLoadError(MsvaeError):
    """A model URI that is malformed, names no registered model, alias or version, or does
    not load as an msvae model."""


def _listing(items: list[str]) -> str:
    shown = ", ".join(items[:_LISTED]) or "none"
    return shown + (f", ... ({len(items)} in all)" if len(items) > _LISTED else "")


def check_model_uri(uri: str) -> None:
    """ModelLoadError naming `uri` and what is wrong when a `models:/` URI is malformed, or
    names a registered model, alias, version or logged-model ID that does not exist
    (listing what does); other URIs pass (their errors come at load). Needs mlflow pointed
    at the tracking server (tracking.connect)."""
    if not uri.startswith("models:/"):
        return
    match = _MODELS_URI.fullmatch(uri)
    if not match:
        raise ModelLoadError(f"{uri}: expected {_FORMS}")
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    name, alias, version = match["name"], match["alias"], match["version"]
    if alias is None and version is None:  # MLflow 3's logged-model form, models:/m-...
        try:
            client.get_logged_model(name)
        except MlflowException:
            raise ModelLoadError(f"{uri}: no logged model with ID '{name}' (expected "
                                 f"{_FORMS})") from None
        return
    try:
        model = client.get_registered_model(name)
    except MlflowException:
        names = sorted(m.name for m in client.search_registered_models(max_results=100))
        raise ModelLoadError(f"{uri}: no registered model '{name}' "
                             f"(registered: {_listing(names)})") from None
    if alias is not None and alias not in model.aliases:
        aliases = [f"{a} -> version {v}" for a, v in sorted(model.aliases.items())]
        raise ModelLoadError(f"{uri}: model '{name}' has no alias '{alias}' "
                             f"(aliases: {_listing(aliases)})")
    if version is None:
        return
    versions = sorted((int(v.version) for v in client.search_model_versions(f"name = '{name}'")),
                      reverse=True)
    if (version == "latest" and not versions) or (version.isdigit()
                                                  and int(version) not in versions):
        raise ModelLoadError(f"{uri}: model '{name}' has no version {version} "
                             f"(versions: {_listing([str(v) for v in versions])})")


def load_registered(uri: str):
    """(torch model in eval mode, the Config it was trained with) for an MLflow model URI;
    ModelLoadError in one line when the URI names nothing or no msvae model."""
    import mlflow.pyfunc
    from mlflow.exceptions import MlflowException

    from msvae.tracking.pyfunc import MsvaePyfunc

    check_model_uri(uri)
    try:
        inner = mlflow.pyfunc.load_model(uri).unwrap_python_model()
    except (MlflowException, OSError) as exc:
        raise ModelLoadError(f"{uri}: does not load ({one_line(exc)})") from None
    if not isinstance(inner, MsvaePyfunc):
        raise ModelLoadError(f"{uri}: not an msvae model ({type(inner).__name__})")
    return inner.model, inner.cfg


def with_model_settings(cfg: Config, trained: Config) -> Config:
    """The current config (storage, services, tracking) with the model's data, model and
    objective sections, so features match what the model was trained on."""
    from msvae.config import override

    sections = trained.to_dict()
    return override(cfg, {f"{section}.{key}": value for section in ("data", "model", "objective")
                          for key, value in sections[section].items()})
