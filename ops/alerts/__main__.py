"""``python -m ops.alerts --config F``: the alerts actor in the foreground."""

from __future__ import annotations

import argparse

from engine.actor import exit_with
from ops.alerts.actor import main
from ops.config import load_config

if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m ops.alerts", description=__doc__)
    parser.add_argument("--config", default=None, help="okxmm YAML config file")
    args = parser.parse_args()
    exit_with(main(load_config(args.config)))
