"""A job's private local Ray cluster listens on loopback only."""

from __future__ import annotations

import os
import sys

# Ray's single-node switch: off, Ray takes 127.0.0.1 as the node's address, and its GCS, raylet,
# agents and workers listen there instead of on every interface (gRPC's 0.0.0.0, Ray 2.60).
# Ray reads it once, when ray is imported (ray_constants.ENABLE_RAY_CLUSTER).
SINGLE_NODE_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def keep_private_cluster_on_loopback(address: str | None) -> bool:
    """Call before Ray is imported. When the job will start its own cluster (no ``address``, no
    RAY_ADDRESS), nobody else is meant to join it, so it is made single-node: every server on
    127.0.0.1. Joining a cluster (ray start, ray job submit, KubeRay) changes nothing. A value the
    user set is kept. Returns whether the cluster will listen on loopback only."""
    if not address and not os.environ.get("RAY_ADDRESS") and "ray" not in sys.modules:
        os.environ.setdefault(SINGLE_NODE_SWITCH, "0")
    return os.environ.get(SINGLE_NODE_SWITCH) == "0"
