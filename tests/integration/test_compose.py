"""docker-compose.yml cannot be run here (no Docker engine), so it is
checked instead: docker-compose validates it, and every path, port,
service name and command it (and the Dockerfile, and the configurations
it mounts) names exists in the repository and agrees with the rest."""

import os
import re
import subprocess
import unittest

import yaml

from harness import COLLECTOR, TOP, TempDir


class TestCompose(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        r = subprocess.run(["docker-compose", "-f", os.path.join(TOP, "docker-compose.yml"),
                            "config"], capture_output=True, text=True, cwd=TOP)
        cls.rc, cls.err = r.returncode, r.stderr
        cls.compose = yaml.safe_load(r.stdout) if r.returncode == 0 else None
        cls.dockerfile = open(os.path.join(TOP, "Dockerfile")).read()
        with open(os.path.join(TOP, "config", "docker", "ifmon.yml")) as f:
            cls.ifmon = yaml.safe_load(f)

    def test_docker_compose_validates_the_file(self):
        self.assertEqual(self.rc, 0, self.err)
        services = set(self.compose["services"])
        self.assertEqual(services, {"redis", "redis-replica", "sentinel1", "sentinel2", "sentinel3",
                                    "sim", "collector1", "collector2", "gateway1", "gateway2",
                                    "haproxy"})

    def test_every_build_context_dockerfile_target_and_copied_path_exists(self):
        stages = set(re.findall(r"^FROM \S+ AS (\S+)$", self.dockerfile, re.M))
        for name, svc in self.compose["services"].items():
            if "build" not in svc:
                continue
            b = svc["build"]
            self.assertTrue(os.path.isdir(b["context"]), name)
            self.assertTrue(os.path.isfile(os.path.join(b["context"], b.get("dockerfile",
                                                                            "Dockerfile"))))
            self.assertIn(b["target"], stages, name)
        for src in re.findall(r"^COPY (?!--from)(\S+) ", self.dockerfile, re.M):
            if src != ".":
                self.assertTrue(os.path.exists(os.path.join(TOP, src)), src)

    def test_every_mounted_file_exists(self):
        for name, svc in self.compose["services"].items():
            for v in svc.get("volumes", []):
                src = v["source"] if isinstance(v, dict) else v.split(":")[0]
                self.assertTrue(os.path.exists(src), f"{name}: {src}")

    def test_daemons_run_commands_that_make_install_provides(self):
        tmp = TempDir()
        try:
            r = subprocess.run(["make", "-s", "-C", TOP, "install", f"DESTDIR={tmp.path}",
                                "PREFIX=/usr"], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("make install DESTDIR=/out PREFIX=/usr", self.dockerfile)
            for name in ("collector1", "collector2", "gateway1", "gateway2"):
                cmd = self.compose["services"][name]["command"]
                self.assertTrue(os.access(os.path.join(tmp.path, "usr/bin", cmd[0]), os.X_OK),
                                cmd)
                self.assertEqual(cmd[1:], ["--config", "/etc/ifmon/ifmon.yml"])
            self.assertTrue(os.path.isdir(os.path.join(tmp.path, "usr/share/ifmon/web")))
            self.assertEqual(self.ifmon["gateway"]["web_root"], "/usr/share/ifmon/web")
        finally:
            tmp.cleanup()

    def test_the_mounted_inventory_is_valid_and_names_the_services(self):
        path = os.path.join(TOP, "config", "docker", "ifmon.yml")
        r = subprocess.run([COLLECTOR, "--config", path, "--check"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        services = set(self.compose["services"])
        # Through the Sentinels, which watch the master service under the
        # name the daemons ask for; the replica follows that master.
        sentinels = {s.split(":")[0] for s in self.ifmon["redis"]["sentinels"]}
        self.assertEqual(sentinels, {"sentinel1", "sentinel2", "sentinel3"})
        self.assertLessEqual(sentinels, services)
        for s in sentinels:
            script = " ".join(self.compose["services"][s]["command"])
            self.assertIn(f"sentinel monitor {self.ifmon['redis']['master_name']} redis 6379 2",
                          script)
            self.assertIn("--sentinel", script)
        self.assertIn("redis", services)
        self.assertEqual(self.compose["services"]["redis-replica"]["command"][-3:],
                         ["--replicaof", "redis", "6379"])
        # Two collectors share the inventory.
        self.assertTrue(self.ifmon["collector"]["shared"])
        sim_port = re.search(r"--agent-udpv4-endpoint=0\.0\.0\.0:(\d+)", self.dockerfile).group(1)
        self.assertTrue(self.ifmon["devices"])
        for d in self.ifmon["devices"]:
            self.assertEqual(d["address"], f"sim:{sim_port}", d)
        # The collector's /healthz and /metrics on the port its service exposes.
        health_port = self.ifmon["collector"]["listen"].rsplit(":", 1)[1]
        for name in ("collector1", "collector2"):
            self.assertIn(health_port, [str(p) for p in self.compose["services"][name]["expose"]])

    def test_haproxy_balances_the_gateway_services_on_their_port(self):
        cfg = open(os.path.join(TOP, "config", "docker", "haproxy.cfg")).read()
        gw_port = self.ifmon["gateway"]["listen"].rsplit(":", 1)[1]
        servers = re.findall(r"^\s*server (\S+) (\S+):(\d+) check", cfg, re.M)
        self.assertEqual({s[1] for s in servers}, {"gateway1", "gateway2"})
        for _, host, port in servers:
            self.assertEqual(port, gw_port)
            self.assertIn(gw_port, [str(p) for p in self.compose["services"][host]["expose"]])
        bind = re.search(r"^\s*bind :(\d+)$", cfg, re.M).group(1)
        published = self.compose["services"]["haproxy"]["ports"][0]
        self.assertEqual(str(published["target"]), bind)
        self.assertIn("option httpchk GET /healthz", cfg)

    def test_the_example_haproxy_configuration_is_valid(self):
        r = subprocess.run(["haproxy", "-c", "-f", os.path.join(TOP, "config", "haproxy.cfg")],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
