"""make run's script: the whole system on embedded defaults comes up
(private Redis, simulated sites, this host's snmpd, collector, gateway),
serves the page and rates, stops everything on Ctrl-C leaving nothing
behind, and runs a second time."""

import json
import os
import re
import signal
import subprocess
import time
import unittest
import urllib.request

import redis

from harness import SLOW, TOP, wait_for


def run_once(test):
    p = subprocess.Popen([os.path.join(TOP, "scripts", "run.sh")], cwd=TOP,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         start_new_session=True)
    out = []
    try:
        end = time.monotonic() + 60 * SLOW
        while time.monotonic() < end:
            line = p.stdout.readline()
            if not line:
                break
            out.append(line)
            if "Ctrl-C stops everything" in line:
                break
        text = "".join(out)
        m = re.search(r"files in (/tmp/ifmon-run\.\w+)", text)
        test.assertIsNotNone(m, text)
        run_dir = m.group(1)
        url = re.search(r"Open (http://\S+/) in a browser", text).group(1)
        port = int(re.search(r"redis-cli -p (\d+) psubscribe", text).group(1))
        r = redis.Redis(port=port, decode_responses=True)
        def inventory():
            raw = r.get("ifmon:inventory")
            if not raw:
                return None
            sites = {s["name"]: s for s in json.loads(raw)["sites"]}
            ifaces = sum(len(d["interfaces"]) for s in sites.values() for d in s["devices"])
            return sites if ifaces >= 288 else None

        sites = wait_for(inventory, 20, what="an inventory of 288 interfaces or more")
        test.assertTrue({"tokyo", "osaka", "paris", "this-host"} <= set(sites), sites.keys())

        def a_rate():
            for raw in r.lrange("ifmon:history:tokyo-edge1:ge-0/0/1", 0, -1):
                if json.loads(raw)["in_bps"]:
                    return True
            return False

        wait_for(a_rate, 20, what="a rate from the simulated sites")
        with urllib.request.urlopen(url + "healthz", timeout=5) as resp:
            test.assertEqual(resp.status, 200)
        with urllib.request.urlopen(url, timeout=5) as resp:
            test.assertIn("ifmon", resp.read().decode())
    finally:
        os.killpg(p.pid, signal.SIGINT)  # Ctrl-C reaches the whole foreground group
        rc = p.wait(timeout=30)
        rest = p.stdout.read()
    test.assertEqual(rc, 0, "".join(out) + rest)
    test.assertFalse(os.path.exists(run_dir), "the run folder was left behind")
    left = subprocess.run(["pgrep", "-f", run_dir], capture_output=True, text=True).stdout
    test.assertEqual(left.strip(), "", f"processes left behind: {left}")


class TestMakeRun(unittest.TestCase):
    def test_the_system_runs_stops_cleanly_on_ctrl_c_and_runs_again(self):
        run_once(self)
        run_once(self)


if __name__ == "__main__":
    unittest.main()
