"""Reading chunked `krelu ... --encrypted --json` reports (one owner for
scripts/onnx_encrypted_summary.py and scripts/sst2_encrypted_summary.py)."""
import json


def load(paths, count_key):
    """Yield (report, number of inputs) for every finished chunk; an
    interrupted chunk (no or partial JSON) is reported and skipped."""
    for path in paths:
        try:
            r = json.load(open(path))
        except (OSError, ValueError):
            print(f"skipping {path}: no report (run interrupted?)")
            continue
        r["_path"] = path
        yield r, r[count_key]


def count(r, rate_key, k):
    """The number of inputs behind a rate (agreement, accuracy) of a chunk of k."""
    return round(r[rate_key] * k)
