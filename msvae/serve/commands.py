"""`msvae serve`: a registered model behind MLflow's scoring server (POST /invocations).

The request is MLflow's tensor input, `{"inputs": {"x": [...], "mask": [...]}}` with the
shapes of the model's signature, and optionally `"params": {"seed": N, "mode": ...}`; the
answer is `{"predictions": {"audio": [windows][sources][samples], "sample_rate": Hz}}`.
"""

from __future__ import annotations


def _serve(args, cfg) -> int:
    from msvae.serve.server import serve

    return serve(cfg, args.model, args.host, args.port, args.workers)


def register(sub, common) -> None:
    p = sub.add_parser("serve", parents=[common], help="serve a registered model over HTTP "
                       "(MLflow's scoring server)", description=__doc__)
    p.add_argument("--model", required=True, help="MLflow model URI, e.g. models:/msvae@champion")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on "
                   "(default 127.0.0.1; 0.0.0.0 for every interface)")
    p.add_argument("--port", type=int, default=5001, help="port (default 5001; 0 picks a free one)")
    p.add_argument("--workers", type=int, default=1, help="server processes, each with its "
                   "own copy of the model (default 1)")
    p.set_defaults(func=_serve)
