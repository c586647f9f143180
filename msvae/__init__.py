"""msvae: multi-source music VAEs at cluster scale with Ray and MLflow.

The packages follow the data flow; each stage with a command has its `commands.py`:

    config, errors, console   the typed config every stage reads, the one error base
                              class (caught once in `cli`), JSON output for `--json`
    storage, audio            object storage (s3:// or paths); audio arrays in and out
    services/                 the embedded S3 and MLflow servers on loopback
    corpus/                   making corpora: render scores, sing, add ambience, import
    manifest                  the seam: one row per source file; all later stages read it
    data/                     ingestion on Ray Data: decode, resample, loudness, align,
                              drop silence and duplicates, window, log-mel features
    model/                    vae, single and msvae behind one interface; the objective
    train/                    one training step, the Ray Train worker loop and driver
    sweep/                    Ray Tune searches whose trials are training runs
    tracking/                 MLflow: run lifecycle, metrics, the registered pyfunc model
    evaluate/                 the indicators, scoring a model, figures
    generate/                 fill in or sample with a model, mel to audio, listening files
    compare/                  the paper's comparison over models and seeds
    demo/                     every stage in turn on the embedded services
    cluster/                  checks of the `ray up` and KubeRay files in cluster/
"""
