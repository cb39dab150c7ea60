#!/usr/bin/env python3
"""Validate ksight JSON lines against docs/schema: the envelope for every
record, plus docs/schema/<event.type>.schema.json for its type. A record of a
type without a schema file is an error: every type must be documented.

usage: validate.py [--schema-dir DIR] FILE...   (exit 0 = all valid)
"""
import argparse
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    # A missing validator is a failure, never a skip: tools/install-deps.sh test installs it.
    print("validate.py: python3-jsonschema is not installed (tools/install-deps.sh test)",
          file=sys.stderr)
    sys.exit(2)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--schema-dir", default=os.path.join(here, "..", "..", "docs", "schema"))
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    def load(name):
        with open(os.path.join(args.schema_dir, name)) as f:
            return json.load(f)

    envelope = load("envelope.schema.json")
    validators = {}
    errors = 0
    counts = {}
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                where = f"{path}:{lineno}"
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    print(f"{where}: not JSON: {e}")
                    errors += 1
                    continue
                for err in jsonschema.Draft202012Validator(envelope).iter_errors(rec):
                    print(f"{where}: envelope: {err.json_path}: {err.message}")
                    errors += 1
                etype = rec.get("event", {}).get("type", "")
                if etype not in validators:
                    name = f"{etype}.schema.json"
                    if not os.path.exists(os.path.join(args.schema_dir, name)):
                        validators[etype] = None
                    else:
                        validators[etype] = jsonschema.Draft202012Validator(load(name))
                v = validators[etype]
                if v is None:
                    print(f"{where}: event type '{etype}' has no schema ({etype}.schema.json)")
                    errors += 1
                    continue
                for err in v.iter_errors(rec):
                    print(f"{where}: {etype}: {err.json_path}: {err.message}")
                    errors += 1
                counts[etype] = counts.get(etype, 0) + 1
    summary = ", ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(f"validated {sum(counts.values())} records ({summary}); {errors} error(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
