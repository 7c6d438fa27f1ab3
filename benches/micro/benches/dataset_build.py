"""The DSPy telemetry design's aggregator, written the way the design writes
it, for `cargo xtask bench dataset` to run beside `telemetry dataset build`
on the same log: `json.loads` per line, the quality thresholds, SHA-256 of
`json.dumps(input, sort_keys=True)` per signature, examples and provenance
written as JSON Lines under `<output-dir>/<signature>/v1/`.

Usage: python3 dataset_build.py LOG OUTPUT_DIR; prints one JSON object of
counts and seconds.
"""

import hashlib
import json
import os
import sys
import time
from datetime import datetime, timezone

REQUIRED = ("module_name", "module_version", "signature", "input", "output",
            "timestamp_ms", "success")


def compute_hash(input_dict):
    input_str = json.dumps(input_dict, sort_keys=True)
    return hashlib.sha256(input_str.encode()).hexdigest()


def main():
    log_file, output_dir = sys.argv[1], sys.argv[2]
    min_quality_score, max_latency_ms, max_cost_usd = 0.70, 5000, 0.10
    started = time.perf_counter()
    counts = {"read": 0, "malformed": 0, "failed": 0, "latency": 0, "cost": 0,
              "quality": 0, "duplicates": 0, "written": 0}
    seen = {}
    outputs = {}
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(log_file, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if not line:
                continue
            try:
                log = json.loads(line)
                for field in REQUIRED:
                    log[field]
            except (json.JSONDecodeError, KeyError, TypeError):
                counts["malformed"] += 1
                continue
            counts["read"] += 1
            if not log["success"]:
                counts["failed"] += 1
                continue
            latency = log.get("latency_ms")
            if latency is not None and latency > max_latency_ms:
                counts["latency"] += 1
                continue
            cost = log.get("cost_usd")
            if cost is not None and cost > max_cost_usd:
                counts["cost"] += 1
                continue
            quality = log.get("quality_score")
            if quality is not None and quality < min_quality_score:
                counts["quality"] += 1
                continue
            signature = log["signature"]
            digest = compute_hash(log["input"])
            hashes = seen.setdefault(signature, set())
            if digest in hashes:
                counts["duplicates"] += 1
                continue
            hashes.add(digest)
            if signature not in outputs:
                directory = os.path.join(output_dir, signature, "v1")
                os.makedirs(directory, exist_ok=True)
                outputs[signature] = (
                    open(os.path.join(directory, "examples.jsonl"), "w", encoding="utf-8"),
                    open(os.path.join(directory, "provenance.jsonl"), "w", encoding="utf-8"),
                )
            examples, provenance = outputs[signature]
            examples.write(json.dumps({"example_id": digest, "input": log["input"],
                                       "output": log["output"]}) + "\n")
            provenance.write(json.dumps({
                "example_id": digest,
                "source": "telemetry",
                "timestamp": now,
                "metadata": {
                    "original_timestamp_ms": log["timestamp_ms"],
                    "latency_ms": latency,
                    "cost_usd": cost,
                    "model": log.get("model"),
                },
            }) + "\n")
            counts["written"] += 1
    for examples, provenance in outputs.values():
        examples.close()
        provenance.close()
    counts["seconds"] = time.perf_counter() - started
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
