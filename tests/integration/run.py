#!/usr/bin/python3
"""Runs the integration tests (tests/integration/test_*.py) and prints one
TAP line per test ("ok N - name" / "not ok N - name" with the failure
below it as comments), then "N passed, N failed".

    run.py [-k SUBSTRING]
"""

import argparse
import os
import sys
import time
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.n = 0
        self.ok = 0
        self.bad = 0
        self.t0 = 0.0

    def startTest(self, test):
        super().startTest(test)
        self.t0 = time.monotonic()

    def _line(self, test, good, detail=None):
        self.n += 1
        name = f"{test.__class__.__name__}.{test._testMethodName}"
        took = time.monotonic() - self.t0
        print(f"{'ok' if good else 'not ok'} {self.n} - {name} ({took:.1f} s)", flush=True)
        if detail:
            for line in detail.rstrip().splitlines():
                print(f"#   {line}", flush=True)
        if good:
            self.ok += 1
        else:
            self.bad += 1

    def addSuccess(self, test):
        self._line(test, True)

    def addFailure(self, test, err):
        self._line(test, False, "".join(traceback.format_exception(*err)))

    def addError(self, test, err):
        if not hasattr(test, "_testMethodName"):  # setUpClass / tearDownClass
            self.n += 1
            self.bad += 1
            print(f"not ok {self.n} - {test}", flush=True)
            for line in "".join(traceback.format_exception(*err)).splitlines():
                print(f"#   {line}", flush=True)
            return
        self._line(test, False, "".join(traceback.format_exception(*err)))

    def addSkip(self, test, reason):
        # A skipped test would hide a failure: count it as one.
        self._line(test, False, f"skipped: {reason}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", dest="filter", default=None)
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    suite = unittest.defaultTestLoader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    if args.filter:
        def keep(s):
            out = unittest.TestSuite()
            for t in s:
                if isinstance(t, unittest.TestSuite):
                    out.addTests(keep(t))
                elif args.filter in t.id():
                    out.addTest(t)
            return out
        suite = keep(suite)
    result = TapResult()
    suite.run(result)
    print(f"# integration: {result.ok} passed, {result.bad} failed")
    sys.exit(0 if result.bad == 0 else 1)


if __name__ == "__main__":
    main()
