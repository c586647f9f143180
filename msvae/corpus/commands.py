"""`msvae corpus build|upload|import|stats`: make, upload, adopt and inspect multi-source
corpora."""

from __future__ import annotations

from msvae.console import add_json_flag, print_json


def _build(args, cfg) -> int:
    from msvae.corpus.build import build
    from msvae.manifest import default_corpus

    out = args.out or default_corpus(cfg)
    pieces = args.pieces if args.pieces is not None else cfg.corpus.pieces
    seed = args.seed if args.seed is not None else cfg.corpus.seed
    result = build(cfg, out, pieces, seed)
    state = "already built" if result.cached else f"built in {result.seconds:.1f} s"
    print(f"corpus {result.key} {state}: {result.manifest}")
    return 0


def _upload(args, cfg) -> int:
    from msvae.corpus.upload import upload_folder

    done = upload_folder(cfg, args.folder, args.dest)
    print(done.describe())
    print(f"next: msvae corpus import {args.dest} --out "
          f"{args.dest.rstrip('/')}/manifest.csv")
    return 0


def _import(args, cfg) -> int:
    from msvae.corpus.importer import import_folder
    from msvae.manifest import ManifestError, save_manifest

    seed = args.seed if args.seed is not None else cfg.corpus.seed
    df = import_folder(cfg, args.source, seed)
    if df.empty:
        raise ManifestError(f"{args.source}: no files laid out as "
                            "<piece>/<source>[_<name>].<ext>")
    save_manifest(cfg, df, args.out)
    print(f"{len(df)} files of {df['piece'].nunique()} pieces -> {args.out}")
    return 0


def _stats(args, cfg) -> int:
    from msvae.corpus.stats import summarise, table
    from msvae.manifest import load_manifest, manifest_uri

    uri = manifest_uri(args.manifest)
    stats = {"manifest": uri, **summarise(cfg, load_manifest(cfg, uri))}
    if args.json:
        print_json(stats)
    else:
        print(table(stats))
    return 0


def register(sub, common) -> None:
    p = sub.add_parser("corpus", help="build, import or inspect a multi-source corpus",
                       description=__doc__)
    csub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    b = csub.add_parser(
        "build", parents=[common], help="render the demo corpus from real material and "
        "upload it with its manifest", description="Render multi-part scores (FluidSynth, "
        "Festival), add real ambience and recorded mixes, make the files heterogeneous, "
        "and upload them with manifest.csv. Deterministic and cached per seed.")
    b.add_argument("--out", metavar="URI", help="destination folder or s3:// prefix "
                   "(default: <storage.root>/corpus)")
    b.add_argument("--pieces", type=int, metavar="N", help="pieces (default: corpus.pieces)")
    b.add_argument("--seed", type=int, metavar="S", help="seed (default: corpus.seed)")
    b.set_defaults(func=_build)
    u = csub.add_parser(
        "upload", parents=[common], help="copy a local folder (your stems) to storage",
        description="Copy every file under a local folder to an s3:// prefix (the embedded "
        "server, MinIO or AWS, per storage.endpoint_url) or another folder, keeping its "
        "layout. A file that cannot be read is named in one line; the others go on.")
    u.add_argument("folder", metavar="DIR", help="local folder, e.g. ~/my-stems")
    u.add_argument("dest", metavar="URI", help="destination, e.g. s3://msvae/my-stems")
    u.set_defaults(func=_upload)
    i = csub.add_parser(
        "import", parents=[common], help="make a manifest of your own stems",
        description="Files laid out as <piece>/<source>[_<name>].<ext> become manifest "
        "rows; splits follow a seeded hash of the piece id.")
    i.add_argument("source", metavar="DIR_OR_URI", help="folder or s3:// prefix of pieces")
    i.add_argument("--out", required=True, metavar="MANIFEST",
                   help="manifest to write (.csv, .jsonl or .parquet)")
    i.add_argument("--seed", type=int, metavar="S", help="split seed (default: corpus.seed)")
    i.set_defaults(func=_import)
    s = csub.add_parser("stats", parents=[common], help="summarise a manifest's audio",
                        description="Pieces, sources per kind, hours, formats, sample rates "
                        "and channels of a manifest (or a corpus folder).")
    s.add_argument("manifest", metavar="MANIFEST", help="manifest file or corpus folder")
    add_json_flag(s, "the statistics")
    s.set_defaults(func=_stats)
