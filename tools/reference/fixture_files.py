"""What the fixture generators (export_models.py, make_checkpoints.py,
checkpoint_roundtrip.py) share: the digest that says whether an existing fixture set is
still current, and writing its manifest.

A set is current when the scripts that define it and the torch version are unchanged;
the manifest is written last and atomically, so its presence means the set is complete.
"""

from __future__ import annotations

import hashlib
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def sources_digest(*script_names: str) -> str:
    """sha256 over the named scripts (beside this file), in order, and torch's version."""
    import torch  # the callers need torch anyway; imported here so this module does not

    h = hashlib.sha256()
    for name in script_names:
        with open(os.path.join(HERE, name), "rb") as f:
            h.update(f.read())
    h.update(torch.__version__.encode())
    return h.hexdigest()


def write_manifest(path: str, manifest: dict) -> None:
    """JSON to a temporary beside `path`, then renamed over it."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(manifest, f, indent=1)
    os.replace(tmp, path)
