"""The typed configuration: one dataclass per section, whose fields' `metadata` may carry
`choices`, `min` and `max` (checked by msvae.config.loading). Secrets never live here:
they come from the environment (see `msvae.storage`)."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCE_KINDS = ("mix", "instrument", "vocal", "ambience")  # a source is `kind` or `kind:name`
MODEL_KINDS = ("vae", "single", "msvae")  # the baseline, the improved model on the mix, ours


def _f(default: Any, *, choices=None, min=None, max=None, doc: str = ""):  # noqa: A002
    """A dataclass field with validation metadata."""
    meta = {"choices": choices, "min": min, "max": max, "doc": doc}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class StorageConfig:
    """Where data, checkpoints and artifacts live: `s3://bucket/prefix` or a local path."""

    root: str = _f("s3://msvae", doc="base URI every stage writes under")
    endpoint_url: str | None = _f(None, doc="S3 endpoint; None: AWS, or the embedded server")
    region: str = _f("us-east-1")
    retries: int = _f(5, min=0, max=50, doc="retries per storage request on transient errors "
                      "(botocore's standard mode, pyarrow's: the one retry layer)")


@dataclass
class ServicesConfig:
    """The embedded services that `msvae services up` starts on loopback."""

    host: str = _f("127.0.0.1")
    state_dir: str = _f(".msvae", doc="state file, S3 data and MLflow db live here")
    s3_port: int = _f(0, min=0, max=65535, doc="0: pick a free port")
    mlflow_port: int = _f(0, min=0, max=65535, doc="0: pick a free port")
    start_timeout_s: float = _f(90.0, min=1.0, max=1800.0)


@dataclass
class CorpusConfig:
    """The built demo corpus."""

    pieces: int = _f(32, min=1, max=10000)
    seed: int = _f(0)
    min_seconds: float = _f(20.0, min=1.0, max=600.0, doc="piece length floor, s")
    max_seconds: float = _f(30.0, min=1.0, max=600.0, doc="piece length cap, s")
    mix_only_pieces: int = _f(2, min=0, max=1000, doc="real recorded mixes without stems")
    valid_share: float = _f(0.1, min=0.0, max=0.5, doc="expected share of pieces in valid")
    test_share: float = _f(0.1, min=0.0, max=0.5, doc="expected share of pieces in test")
    workers: int = _f(2, min=1, max=256, doc="render processes")
    cache_dir: str = _f("~/.cache/msvae", doc="local render cache; MSVAE_CACHE_DIR overrides")
    render_timeout_s: float = _f(120.0, min=1.0, max=3600.0,
                                 doc="wall-clock bound on one FluidSynth/Festival call, s")
    render_max_mb: int = _f(200, min=1, max=100_000,
                            doc="output size bound on one FluidSynth/Festival call, MB")


@dataclass
class DataConfig:
    """Ingestion: decode, resample, loudness, align, window, features."""

    sources: list[str] = _f(["mix", "instrument", "vocal", "ambience"],
                            doc="slot order of the [sources, mels, frames] rows")
    reference: str = _f("mix", doc="alignment reference source kind")
    sample_rate: int = _f(16000, min=4000, max=96000, doc="Hz")
    channels: str = _f("mono", choices=["mono", "stereo"])
    target_lufs: float = _f(-23.0, min=-70.0, max=0.0, doc="LUFS, ITU-R BS.1770")
    gate_lufs: float = _f(-60.0, min=-120.0, max=0.0, doc="below this a source is left as is")
    max_offset_s: float = _f(1.0, min=0.0, max=30.0, doc="largest offset searched, s")
    balance_stems: bool = _f(True, doc="scale stems so their powers sum to the mix's "
                             "(pieces with a mix reference)")
    window_s: float = _f(2.048, min=0.1, max=60.0, doc="window length, s")
    hop_s: float = _f(1.024, min=0.05, max=60.0, doc="window hop, s")
    silence_db: float = _f(-50.0, min=-150.0, max=0.0, doc="window RMS floor, dBFS")
    dedup_similarity: float = _f(0.995, min=0.0, max=1.0,
                                 doc="cosine over which a window is a duplicate")
    n_fft: int = _f(1024, min=64, max=16384)
    hop_length: int = _f(256, min=16, max=8192, doc="mel hop, samples")
    n_mels: int = _f(64, min=8, max=512)
    f_min: float = _f(0.0, min=0.0, max=48000.0, doc="Hz")
    f_max: float | None = _f(None, doc="Hz; None: Nyquist")
    read_cpus: float = _f(0.25, min=0.01, max=64.0, doc="CPUs per Ray Data task")
    pieces_per_task: int = _f(2, min=1, max=4096,
                              doc="pieces per Ray Data task: more amortise each task's "
                                  "scheduling cost (~0.1-0.2 s), fewer balance better")


@dataclass
class ModelConfig:
    """Which model and its size; `kind` picks one of the three."""

    kind: str = _f("msvae", choices=list(MODEL_KINDS))
    channels: int = _f(64, min=4, max=2048)
    levels: int = _f(2, min=1, max=8, doc="latent levels (time scales)")
    latent_dim: int = _f(16, min=1, max=1024, doc="channels per latent level")
    attention_depth: int = _f(2, min=0, max=32, doc="temporal self-attention blocks; 0: none")
    heads: int = _f(4, min=1, max=64)
    dropout: float = _f(0.0, min=0.0, max=0.9)
    source_dropout: float = _f(0.25, min=0.0, max=0.9,
                               doc="msvae training: chance an input source is hidden from the "
                               "encoder yet still reconstructed, so it learns to fill stems")
    mix_only_rows: float = _f(0.0, min=0.0, max=1.0,
                              doc="msvae training: share of rows whose stems are all hidden "
                              "from the encoder, so it learns the headline case (only the mix "
                              "at test time)")
    stems_only_rows: float = _f(0.0, min=0.0, max=1.0,
                                doc="msvae training: share of rows whose mix is hidden from the "
                                "encoder (still reconstructed), so it learns the fill-in case: "
                                "the mix from the stems alone")
    mix_head: str = _f("own", choices=["own", "power_sum"],
                       doc="msvae: the mix slot from a head of its own, or the power sum of "
                       "the stems' heads plus a small residual (a mix is its stems' sum)")


@dataclass
class PriorConfig:
    """What prior samples come from (ladder models): the ladder's own top-down prior, or a
    causal transformer over its latents fitted after it (msvae.model.latent_prior,
    msvae.train.prior_fit)."""

    kind: str = _f("ladder", choices=["ladder", "transformer"])
    width: int = _f(96, min=8, max=4096, doc="transformer width")
    layers: int = _f(2, min=1, max=48)
    temperature: float = _f(0.8, min=0.0, max=2.0, doc="sampling noise scale; 1: the model's")
    steps: int = _f(2000, min=0, max=10_000_000, doc="fitting steps after the VAE")
    lr: float = _f(3e-3, min=0.0, max=10.0)
    batch_size: int = _f(32, min=1, max=65536)
    windows: int = _f(4000, min=1, max=10_000_000,
                      doc="training windows read for the fit (their posterior means)")
    conditioned: float = _f(0.75, min=0.0, max=1.0,
                            doc="share of fitting rows conditioned on some of their stems; "
                                "0: fill-ins come from the encoder's posterior, not the prior")
    arrange_temperature: float = _f(0.6, min=0.0, max=2.0,
                                    doc="sampling noise scale of fill-ins drawn by the prior")


@dataclass
class ObjectiveConfig:
    """The reshaped ELBO: beta schedule, free bits, KL balancing."""

    beta_schedule: str = _f("linear", choices=["constant", "linear", "sigmoid", "cyclical"])
    beta_max: float = _f(1.0, min=0.0, max=100.0)
    warmup_steps: int = _f(1000, min=0, max=10_000_000)
    cycles: int = _f(4, min=1, max=1000, doc="cyclical: M")
    ratio: float = _f(0.5, min=0.0, max=1.0, doc="cyclical: R, share of a cycle spent rising")
    free_bits: float = _f(0.0, min=0.0, max=100.0, doc="nats per latent group")
    kl_balance: bool = _f(False)
    sigma_db: float = _f(5.0, min=0.01, max=100.0,
                         doc="decoder noise std of the Gaussian likelihood, dB")
    mix_weight: float = _f(1.0, min=0.0, max=1000.0,
                           doc="likelihood weight of the mix slot against a stem's 1 (msvae)")


@dataclass
class TrainConfig:
    """Distributed training on Ray Train."""

    workers: int = _f(2, min=1, max=4096)
    use_gpu: bool = _f(False)
    cpus_per_worker: float = _f(0.5, min=0.01, max=256.0)
    batch_size: int = _f(16, min=1, max=65536, doc="per worker")
    lr: float = _f(3e-4, min=0.0, max=10.0)
    steps: int = _f(200, min=1, max=100_000_000)
    grad_clip: float = _f(1.0, min=0.0, max=1e6)
    shuffle_windows: int = _f(512, min=1, max=10_000_000,
                              doc="each worker's local shuffle buffer, windows (about 130 KB "
                              "each at 4 sources x 64 mels x 128 frames)")
    cache_split: str = _f("auto", choices=["auto", "memory", "stream"],
                          doc="after the first epoch, serve each worker's splits from memory: "
                          "auto when they fit in 1 GiB per worker, memory always, stream never")
    checkpoint_every: int = _f(50, min=1, max=100_000_000)
    log_every: int = _f(10, min=1, max=100_000_000,
                        doc="steps between training-metric logs (each read syncs a GPU)")
    eval_every: int = _f(50, min=1, max=100_000_000)
    max_failures: int = _f(1, min=0, max=100)
    seed: int = _f(0)
    remix_share: float = _f(0.0, min=0.0, max=1.0,
                            doc="share of each batch's rows replaced by remixes: every stem "
                            "from another row at a random gain, the mix their power sum "
                            "(multi-source data for any model, even one that reads the mix)")
    remix_gain_db: float = _f(6.0, min=0.0, max=40.0,
                              doc="remixed stems' gains, uniform within +- this, dB")
    dataset: str | None = _f(None, doc="manifest or prepared-shards URI; None: the demo corpus")


@dataclass
class TuneConfig:
    """Ray Tune sweeps."""

    num_samples: int = _f(8, min=1, max=100000)
    search: str = _f("random", choices=["random", "optuna"],
                     doc="random: Tune's sampler; optuna: TPE, conditional keys honoured")
    metric: str = _f("valid/temporal_fidelity",
                     doc="what ASHA and the best trial optimise; the champion rule's figure")
    mode: str = _f("max", choices=["min", "max"])
    grace_period: int = _f(1, min=1, max=100000, doc="ASHA, in reports")
    reduction_factor: int = _f(2, min=2, max=100)
    trial_cpus: float = _f(0.5, min=0.01, max=256.0)


@dataclass
class CompareConfig:
    """`msvae compare`: the paper's comparison at one shared budget."""

    models: list[str] = _f(["vae", "single", "msvae"],
                           doc="model kinds, the last is ours; `single+remixes`: single "
                           "trained with compare.remix_share (the data without the model)")
    seeds: list[int] = _f([0, 1, 2], doc="one training run per model and seed")
    lrs: list[float] = _f([], doc="learning rates tried per model at the first seed, the best "
                          "on validation kept for all seeds; empty: train.lr")
    remix_share: float = _f(0.5, min=0.0, max=1.0,
                            doc="train.remix_share of the `+remixes` variants")


@dataclass
class TrackingConfig:
    """MLflow tracking and registry."""

    uri: str | None = _f(None, doc="tracking URI; None: the embedded server")
    experiment: str = _f("msvae")
    model_name: str | None = _f(None, doc="registered model name; None: `msvae` for the demo "
                                "corpus, else named after train.dataset (dataset_model_name)")
    champion_min_score: float = _f(0.1, min=-1.0, max=1.0,
                                   doc="the least validation temporal fidelity (the time-mean "
                                   "floor scores 0) with which a version becomes champion")


def dataset_model_name(dataset: str | None) -> str:
    """tracking.model_name when unset: `msvae` for the demo corpus (train.dataset unset),
    else the dataset's folder (the shards' or manifest's folder, the one holding a manifest
    file), so other data never lands in the demo's name: s3://b/my-stems/manifest.csv ->
    my-stems."""
    if not dataset:
        return "msvae"
    parts = [p for p in dataset.split("?")[0].replace("\\", "/").split("/") if p]
    if len(parts) > 1 and Path(parts[-1]).suffix:  # a manifest file: its folder
        parts.pop()
    return re.sub(r"[^A-Za-z0-9._-]+", "-", parts[-1]).strip("-.") or "dataset"


@dataclass
class Config:
    """The whole configuration."""

    storage: StorageConfig = field(default_factory=StorageConfig)
    services: ServicesConfig = field(default_factory=ServicesConfig)
    corpus: CorpusConfig = field(default_factory=CorpusConfig)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    prior: PriorConfig = field(default_factory=PriorConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    compare: CompareConfig = field(default_factory=CompareConfig)
    tracking: TrackingConfig = field(default_factory=TrackingConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def flat(self) -> dict[str, Any]:
        """Dotted key -> value, e.g. {'train.lr': 3e-4}; for MLflow params."""
        return {f"{s}.{k}": v for s, sec in self.to_dict().items() for k, v in sec.items()}
