"""The `openstack image ...` and `glance ...` command lines exactly as README.md shows them
(run from /usr/bin, with a static token and no Keystone)."""

import json
import os
import re
import subprocess
import tempfile
import unittest

from gaze_stack import StackTestCase, digest_file, make_random_file

SIZE = 3 * 1024 * 1024 + 17  # not a multiple of any buffer size


def parse_table(text):
    """{field: value} from the `| Property | Value |` table the glance CLI prints; a value
    wider than the column continues on lines with an empty first cell."""
    rows, last = {}, None
    for line in text.splitlines():
        m = re.match(r"^\|\s*(\S*)\s*\|\s?(.*?)\s*\|$", line)
        if not m or m.group(1) == "Property":
            continue
        if m.group(1):
            last = m.group(1)
            rows[last] = m.group(2)
        elif last:
            rows[last] += m.group(2)
    return rows


class CliTest(StackTestCase):
    def setUp(self):
        super().setUp()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.home = os.path.join(self.tmp, "home")
        os.mkdir(self.home)
        self.disk = os.path.join(self.tmp, "disk.img")
        self.md5, self.sha512 = make_random_file(self.disk, SIZE)

    def run_cli(self, argv, expect_status=0):
        # OS_AUTH_URL & co. would make the clients try Keystone: README says to unset them.
        # A fresh HOME: no clouds.yaml, and glance caches the server's image schema in
        # ~/.glanceclient at its first run and builds its options from it in later runs.
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["HOME"] = self.home
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120,
                              cwd=self.tmp)
        self.assertEqual(proc.returncode, expect_status,
                         f"{' '.join(argv)}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def openstack(self, *args, expect_status=0):
        return self.run_cli(["/usr/bin/openstack", "--os-auth-type", "admin_token",
                             "--os-endpoint", f"{self.stack.url}/v2",
                             "--os-token", self.stack.token("demo"), *args],
                            expect_status=expect_status)

    def glance(self, *args, expect_status=0):
        return self.run_cli(["/usr/bin/glance", "--os-image-url", self.stack.url,
                             "--os-auth-token", self.stack.token("demo"), *args],
                            expect_status=expect_status)

    def test_openstack_cli(self):
        created = json.loads(self.openstack(
            "image", "create", "--file", "disk.img", "--disk-format", "raw",
            "--container-format", "bare", "cli-openstack", "-f", "json").stdout)
        image_id = created["id"]
        self.assertEqual(created["name"], "cli-openstack")

        listed = self.openstack("image", "list").stdout
        self.assertRegex(listed, rf"\|\s*{image_id}\s*\|\s*cli-openstack\s*\|\s*active\s*\|")

        shown = json.loads(self.openstack("image", "show", image_id, "-f", "json").stdout)
        self.assertEqual((shown["status"], shown["size"], shown["checksum"]),
                         ("active", SIZE, self.md5))
        self.assertEqual((shown["disk_format"], shown["container_format"]), ("raw", "bare"))
        self.assertEqual(shown["owner"], self.stack.project_id("demo"))
        # `image show NAME` resolves the name through the list API.
        self.assertEqual(
            json.loads(self.openstack("image", "show", "cli-openstack", "-f", "json").stdout)["id"],
            image_id)

        self.openstack("image", "save", "--file", "out.img", image_id)
        self.assertEqual(digest_file(os.path.join(self.tmp, "out.img")),
                         (SIZE, self.md5, self.sha512))

        result = self.openstack("image", "set", "--name", "cli-openstack-renamed",
                                "--property", "os_distro=debian", image_id)
        self.assertEqual(result.stdout, "")
        shown = json.loads(self.openstack("image", "show", image_id, "-f", "json").stdout)
        self.assertEqual(shown["name"], "cli-openstack-renamed")
        self.assertEqual(shown["properties"].get("os_distro"), "debian")
        self.assertEqual((shown["status"], shown["checksum"]), ("active", self.md5))

        self.openstack("image", "delete", image_id)
        missing = self.openstack("image", "show", image_id, expect_status=1)
        self.assertIn(image_id, missing.stderr)
        self.assertNotIn(image_id, self.openstack("image", "list").stdout)
        self.stack.wait_no_files(image_id)

    def test_glance_cli(self):
        created = parse_table(self.glance(
            "image-create", "--name", "cli-glance", "--disk-format", "raw",
            "--container-format", "bare", "--file", "disk.img").stdout)
        image_id = created["id"]
        # glance uploads, then prints the image as it is after the upload.
        self.assertEqual((created["status"], created["size"], created["checksum"]),
                         ("active", str(SIZE), self.md5))

        listed = self.glance("image-list").stdout
        self.assertRegex(listed, rf"\|\s*{image_id}\s*\|\s*cli-glance\s*\|")

        shown = parse_table(self.glance("image-show", image_id).stdout)
        self.assertEqual((shown["status"], shown["size"], shown["os_hash_algo"],
                          shown["os_hash_value"]),
                         ("active", str(SIZE), "sha512", self.sha512))

        self.glance("image-download", "--file", "out.img", image_id)
        self.assertEqual(digest_file(os.path.join(self.tmp, "out.img")),
                         (SIZE, self.md5, self.sha512))

        updated = parse_table(self.glance("image-update", "--name", "cli-glance-renamed",
                                          "--property", "os_distro=debian", image_id).stdout)
        self.assertEqual((updated["name"], updated["os_distro"]), ("cli-glance-renamed", "debian"))
        shown = parse_table(self.glance("image-show", image_id).stdout)
        self.assertEqual((shown["name"], shown["os_distro"], shown["checksum"]),
                         ("cli-glance-renamed", "debian", self.md5))

        self.glance("image-delete", image_id)
        missing = self.glance("image-show", image_id, expect_status=1)
        self.assertIn(image_id, missing.stderr)
        self.assertNotIn(image_id, self.glance("image-list").stdout)
        self.stack.wait_no_files(image_id)


if __name__ == "__main__":
    unittest.main()
