"""make install puts both daemons, the web page, the examples and the
systemd units under DESTDIR/PREFIX, and the installed daemons run."""

import os
import subprocess
import unittest

from harness import TOP, TempDir


class TestInstall(unittest.TestCase):
    def test_make_install_honours_prefix_and_destdir(self):
        tmp = TempDir()
        try:
            dest = tmp.join("root")
            r = subprocess.run(["make", "-s", "-C", TOP, "install", f"DESTDIR={dest}",
                                "PREFIX=/opt/ifmon"], capture_output=True, text=True,
                               timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            base = os.path.join(dest, "opt/ifmon")
            for daemon in ("ifmon-collector", "ifmon-gateway"):
                path = os.path.join(base, "bin", daemon)
                self.assertTrue(os.access(path, os.X_OK), path)
                v = subprocess.run([path, "--version"], capture_output=True, text=True)
                self.assertEqual(v.returncode, 0)
                self.assertTrue(v.stdout.startswith(daemon + " "), v.stdout)
                unit = open(os.path.join(base, "lib/systemd/system", daemon + ".service")).read()
                self.assertIn(f"ExecStart=/opt/ifmon/bin/{daemon} --config /etc/ifmon/ifmon.yml",
                              unit)
                self.assertIn("Restart=on-failure", unit)
                self.assertIn("DynamicUser=yes", unit)
                self.assertNotIn("@", unit.replace("redis-server.service", ""))
            self.assertTrue(os.path.isfile(os.path.join(base, "share/ifmon/examples",
                                                        "ifmon.example.yml")))
            self.assertTrue(os.path.isfile(os.path.join(base, "share/doc/ifmon/PROTOCOL.md")))
        finally:
            tmp.cleanup()


if __name__ == "__main__":
    unittest.main()
