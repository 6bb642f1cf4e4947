"""A job's private local Ray cluster listens on loopback only."""

from __future__ import annotations

import logging
import os
import sys

log = logging.getLogger(__name__)

# Ray's single-node switch: off, Ray takes 127.0.0.1 as the node's address, and its GCS, raylet,
# agents and workers listen there instead of on every interface (gRPC's 0.0.0.0, Ray 2.60).
# Ray reads it once, when ray is imported (ray_constants.ENABLE_RAY_CLUSTER).
SINGLE_NODE_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def cluster_address(address: str | None) -> str:
    """The address a job connects to: ``address``, else its Ray job's cluster (RAY_ADDRESS), else
    "local", a private local cluster."""
    return address or os.environ.get("RAY_ADDRESS") or "local"


def keep_private_cluster_on_loopback(address: str | None) -> bool:
    """Call before Ray is imported. When the job will start its own cluster (``cluster_address``
    is "local"), nobody else is meant to join it, so it is made single-node: every server on
    127.0.0.1. Joining a cluster (ray start, ray job submit, KubeRay) changes nothing, and a value
    the user set is kept. The switch stays set in this
    process's environment (so a later `ray start` from it would be single-node too). Returns
    whether the cluster will listen on loopback only."""
    if cluster_address(address) == "local":
        if "ray" not in sys.modules:
            os.environ.setdefault(SINGLE_NODE_SWITCH, "0")
        elif os.environ.get(SINGLE_NODE_SWITCH) != "0":
            log.warning("Ray was imported before the job started its private cluster, whose servers may "
                        "then listen on every interface; set %s=0 before importing Ray to keep them on "
                        "127.0.0.1", SINGLE_NODE_SWITCH)
    return os.environ.get(SINGLE_NODE_SWITCH) == "0"
