"""``python -m ops.exchange --config F --port P --tls --cert-path P --seed N --account K:S:P
--profile current|legacy --switch NAME=VALUE``."""

from __future__ import annotations

import argparse
import sys

from engine.errors import ConfigError
from ops.config import load_config
from ops.exchange.profile import PROFILES, describe
from ops.exchange.server import main


def _cli(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m ops.exchange",
        description="local OKX v5 exchange",
        epilog="venue switches (--switch NAME=VALUE):\n" + describe(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--config", default=None, help="okxmm YAML config")
    p.add_argument("--port", type=int, default=None)
    p.add_argument("--tls", action="store_true", help="serve https/wss with a self-signed cert")
    p.add_argument("--cert-path", default=None, help="where to write the certificate PEM")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--account", action="append", default=[], metavar="KEY:SECRET:PASSPHRASE")
    p.add_argument("--profile", choices=list(PROFILES), default=None, help="venue to imitate")
    p.add_argument("--switch", action="append", default=[], metavar="NAME=VALUE")
    args = p.parse_args(argv)
    try:
        cfg = load_config(args.config)
        return main(
            cfg,
            port=args.port,
            tls=args.tls,
            cert_path=args.cert_path,
            seed=args.seed,
            accounts=args.account,
            profile=args.profile,
            switches=args.switch,
        )
    except ConfigError as exc:
        sys.stderr.write(f"config error: {exc}\n")
        return 2
    except ValueError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2


if __name__ == "__main__":
    sys.exit(_cli())
