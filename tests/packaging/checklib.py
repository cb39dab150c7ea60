"""Tiny helpers shared by the packaging tests: named checks, a summary line, ctest skip."""
import os
import sys

SKIP = 77  # ctest SKIP_RETURN_CODE


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, what, cond, detail=""):
        if cond:
            self.passed += 1
            print(f"ok:   {what}")
        else:
            self.failed += 1
            print(f"FAIL: {what}" + (f" ({detail})" if detail else ""))
        return cond

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def skip(why):
    """A dependency or privilege this check lacks: a reported skip, or a failure under CI=true
    (where tools/install-deps.sh test installed everything and tests run as root)."""
    if os.environ.get("CI") == "true":
        print(f"FAIL: CI=true, cannot run: {why}")
        sys.exit(1)
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def dig(obj, path):
    """obj['a']['b'] for path ['a', 'b']; None when any step is missing."""
    for key in path:
        if not isinstance(obj, dict) or key not in obj:
            return None
        obj = obj[key]
    return obj
