"""Interoperable image import (issue 6; contract §5.3, §6, §7, §16.2, §16.4) end to end:
the `glance` and `openstack` command lines and raw HTTP against real task-workers.

* ImportTest: four workers with the whole plugin pipeline (decompress, inspect, convert to
  raw) and web-download allowed to reach exactly one local HTTP server (127.0.0.1:<port>).
  The CLI flows; raw, qcow2->raw and gzip'd images with their checksums and bytes; discovery,
  the task views and their progress; the API's refusals; a hostile-image corpus built with
  qemu-img and refused on every ingest path; web-download refusals under the allow list and
  redirects; 16 concurrent imports.
* WebDownloadDefaultDenyTest: a worker without allow list for hosts: loopback, link-local,
  private addresses and names resolving to loopback are refused by Gaze's default (§16.4)
  although a server listens on the allowed port.
* ImportCrashTest: kill -9 of the worker in the middle of a download; the restarted worker
  finishes the import exactly once and nothing is left in the store or the work directory.
* DelayedDeleteTest: --delayed_delete_seconds: pending_delete, the scrub, and
  `metadata-svc restore`.

Images are kept small (a few MiB): the module must run in a few minutes on two cores."""

import gzip
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import unittest

from gaze_api import JSON, MiB, ApiTestCase
from gaze_stack import digest_file, wait_until

QEMU_IMG = shutil.which("qemu-img")
METHODS = ["glance-direct", "web-download"]
OCTETS = {"Content-Type": "application/octet-stream"}
TASK_TIMEOUT = 90  # seconds an import may take on a loaded CI machine
IMAGE_TASK_KEYS = {"id", "type", "status", "owner", "image_id", "request_id", "user_id", "input",
                   "result", "message", "expires_at", "created_at", "updated_at", "deleted",
                   "deleted_at", "progress"}


def run(*argv):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stderr}")
    return proc.stdout


def digest_bytes(data):
    return len(data), hashlib.md5(data).hexdigest(), hashlib.sha512(data).hexdigest()


class Corpus:
    """The images of the tests, built in a temporary directory with qemu-img.

    Each entry: path, the disk_format it is declared with, and either `expect` (the bytes the
    image must hold once imported: (size, md5, sha512), plus the disk_format and virtual_size
    it must end with) or `refused` (every ingest path must refuse it)."""

    def __init__(self, directory, raw_size=3 * MiB + 7 * 512):
        if QEMU_IMG is None:
            raise unittest.SkipTest("qemu-img is missing (Debian: qemu-utils)")
        self.dir = directory
        p = self.path
        with open(p("disk.raw"), "wb") as f:
            # Not all random: a zero run gives qcow2 something to leave unallocated.
            f.write(os.urandom(MiB) + bytes(MiB) + os.urandom(raw_size - 2 * MiB))
        run(QEMU_IMG, "convert", "-f", "raw", "-O", "qcow2", p("disk.raw"), p("disk.qcow2"))
        # What the convert plugin must produce: qemu-img's own conversion back to raw.
        run(QEMU_IMG, "convert", "-f", "qcow2", "-O", "raw", p("disk.qcow2"), p("converted.raw"))
        with open(p("disk.raw"), "rb") as src, gzip.open(p("disk.raw.gz"), "wb") as dst:
            shutil.copyfileobj(src, dst)
        run(QEMU_IMG, "convert", "-f", "raw", "-O", "vmdk", p("disk.raw"), p("disk.vmdk"))
        # Hostile: a qcow2 whose backing file is a host file, one whose data lives in an
        # external file (both would make qemu-img read host files), and mismatches.
        run(QEMU_IMG, "create", "-f", "qcow2", "-b", "/etc/passwd", "-F", "raw",
            p("backing.qcow2"), "1M")
        run(QEMU_IMG, "create", "-f", "qcow2", "-o", f"data_file={p('external.data')}",
            p("data-file.qcow2"), "1M")
        raw = digest_file(p("disk.raw"))
        self.raw = raw
        self.converted = digest_file(p("converted.raw"))
        qcow2 = digest_file(p("disk.qcow2"))
        self.good = {
            # name: (file, declared disk_format, expected digests, final disk_format,
            #        virtual_size)
            "raw": ("disk.raw", "raw", raw, "raw", raw[0]),
            "qcow2": ("disk.qcow2", "qcow2", self.converted, "raw", self.converted[0]),
            "gzip": ("disk.raw.gz", "raw", raw, "raw", raw[0]),
            # Contract §16.2: disk_format=raw accepts any safe content and keeps it as it is
            # (qemu-img reads it as raw, so nothing is converted); virtual_size = byte count.
            "qcow2-declared-raw": ("disk.qcow2", "raw", qcow2, "raw", qcow2[0]),
        }
        self.hostile = {
            # name: (file, declared disk_format)
            "qcow2 with a backing file": ("backing.qcow2", "qcow2"),
            "qcow2 with a backing file, declared raw": ("backing.qcow2", "raw"),
            "qcow2 with an external data file": ("data-file.qcow2", "qcow2"),
            "raw bytes declared qcow2": ("disk.raw", "qcow2"),
            "vmdk bytes declared qcow2": ("disk.vmdk", "qcow2"),
            "qcow2 bytes declared vmdk": ("disk.qcow2", "vmdk"),
        }

    def path(self, name):
        return os.path.join(self.dir, name)

    def read(self, name):
        with open(self.path(name), "rb") as f:
            return f.read()


class ImageServer:
    """A local HTTP server for web-download, listening on [::] with IPV6_V6ONLY off, so
    127.0.0.1, ::1 and every name resolving to either reach it. Serves files and redirects,
    records every request, and can hold a download after its first bytes (a gate) until the
    test releases it."""

    def __init__(self):
        self.files = {}  # path -> file path
        self.redirects = {}  # path -> Location
        self.gates = {}  # path -> Gate
        self.requests = []  # paths, in arrival order
        self.lock = threading.Lock()
        self.httpd = None

    class Gate:
        """Holds the first download of a path after `after` bytes until release is set;
        with trickle, the held download goes on sending 16 KiB every quarter second."""

        def __init__(self, after, trickle=False):
            self.after = after
            self.trickle = trickle
            self.reached = threading.Event()
            self.release = threading.Event()
            self.armed = True  # only the first request is held

    def start(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                server.handle(self)

        class DualStackServer(http.server.ThreadingHTTPServer):
            address_family = socket.AF_INET6
            daemon_threads = True

            def server_bind(self):
                self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                super().server_bind()

        self.httpd = DualStackServer(("::", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.httpd is not None:
            for gate in self.gates.values():
                gate.release.set()
            self.httpd.shutdown()
            self.httpd.server_close()

    def url(self, path, host="127.0.0.1"):
        return f"http://{host}:{self.port}{path}"

    def requested(self, path):
        with self.lock:
            return self.requests.count(path)

    def handle(self, h):
        path = h.path
        with self.lock:
            self.requests.append(path)
        h.close_connection = True
        if path in self.redirects:
            h.send_response(302)
            h.send_header("Location", self.redirects[path])
            h.send_header("Content-Length", "0")
            h.send_header("Connection", "close")
            h.end_headers()
            return
        if path not in self.files:
            h.send_error(404)
            return
        size = os.path.getsize(self.files[path])
        gate = self.gates.get(path)
        with self.lock:
            hold = gate is not None and gate.armed
            if hold:
                gate.armed = False
        h.send_response(200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(size))
        h.send_header("Connection", "close")
        h.end_headers()
        sent = 0
        try:
            with open(self.files[path], "rb") as f:
                while True:
                    size = 64 * 1024
                    if hold and sent < gate.after:
                        size = min(size, gate.after - sent)
                    elif hold and gate.trickle and not gate.release.is_set():
                        size = 16 * 1024
                        gate.release.wait(timeout=0.25)  # pacing, not synchronisation
                    block = f.read(size)
                    if not block:
                        break
                    h.wfile.write(block)
                    sent += len(block)
                    if hold and sent == gate.after:
                        h.wfile.flush()
                        gate.reached.set()
                        if not gate.trickle:
                            gate.release.wait(timeout=300)
        except (BrokenPipeError, ConnectionResetError):
            pass


class ImportTestCase(ApiTestCase):
    """A stack whose workers may download from a local ImageServer, and the helpers of the
    import tests. Subclasses set workers and the per-binary flags; worker_flags may use
    {port}, the server's port."""

    workers = 1
    metadata_flags = {}
    worker_flags = {}
    gateway_flags = {"enabled_import_methods": ",".join(METHODS)}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="gaze-e2e-import-")
        cls.server = ImageServer().start()
        try:
            cls.corpus = Corpus(cls.tmp)
            port = cls.server.port
            cls.stack_options = {
                "workers": cls.workers,
                "metadata_flags": cls.metadata_flags,
                "worker_flags": {"task_progress_seconds": 1,
                                 **{k: v.format(port=port) if isinstance(v, str) else v
                                    for k, v in cls.worker_flags.items()}},
                "gateway_flags": cls.gateway_flags}
            super().setUpClass()
        except BaseException:
            cls.server.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            super().tearDownClass()
        finally:
            cls.server.stop()
            shutil.rmtree(cls.tmp, ignore_errors=True)

    # -- serving

    def serve(self, name, path=None):
        """Serves corpus file `name` at a fresh path; returns the path."""
        path = path or f"/{self.id().rsplit('.', 1)[-1]}/{len(self.server.files)}/{name}"
        self.server.files[path] = self.corpus.path(name)
        return path

    # -- import calls

    def create_image(self, disk_format="raw", user="demo", **attrs):
        attrs.setdefault("name", f"import-{self.id().rsplit('.', 1)[-1]}")
        return self.create(user=user, disk_format=disk_format, **attrs)

    def stage(self, image_id, data, user="demo", expect=204):
        resp = self.call("PUT", f"/v2/images/{image_id}/stage", user=user, body=data,
                         headers={**OCTETS, **JSON})
        self.assertEqual(resp.status, expect, f"{user} stages {image_id}: {resp!r}")
        return resp

    def start_import(self, image_id, method, uri=None, user="demo", expect=202):
        body = {"method": {"name": method}}
        if uri is not None:
            body["method"]["uri"] = uri
        resp = self.call("POST", f"/v2/images/{image_id}/import", user=user, body=body,
                         headers=JSON)
        if expect is None:
            return resp
        if expect >= 400:
            self.assert_error(resp, expect, JSON, f"{user} imports {image_id} by {body}")
        else:
            self.assertEqual(resp.status, expect, f"{user} imports {image_id} by {body}: {resp!r}")
        return resp

    def image_tasks(self, image_id, user="demo"):
        resp = self.call("GET", f"/v2/images/{image_id}/tasks", user=user, headers=JSON)
        self.assertEqual(resp.status, 200, f"{user}: tasks of {image_id}: {resp!r}")
        return resp.json()["tasks"]

    def wait_task(self, image_id, timeout=TASK_TIMEOUT):
        """Waits until the image's latest import task has finished; returns it."""
        def finished():
            tasks = self.image_tasks(image_id)
            if tasks and tasks[-1]["status"] in ("success", "failure"):
                return tasks[-1]
            return None
        return wait_until(finished, timeout, f"the import task of image {image_id} to finish",
                          interval=0.2)

    def import_and_wait(self, image_id, method, uri=None):
        self.start_import(image_id, method, uri)
        return self.wait_task(image_id)

    # -- checks

    def assert_imported(self, image_id, expect, disk_format, virtual_size, task=None):
        """The import succeeded: the image is active with these bytes, and only its one
        object is in the store."""
        task = task or self.wait_task(image_id)
        self.assertEqual(task["status"], "success", task)
        image = self.show(image_id, user="demo")
        size, md5, sha512 = expect
        self.assertEqual(
            (image["status"], image["size"], image["checksum"], image["os_hash_algo"],
             image["os_hash_value"], image["virtual_size"], image["disk_format"],
             image["container_format"]),
            ("active", size, md5, "sha512", sha512, virtual_size, disk_format, "bare"), image)
        self.assertNotIn("os_glance_import_task", image)
        self.assertEqual(digest_bytes(self.download(image_id)), expect)
        self.assert_store_clean(image_id, objects=1)
        return image

    def assert_refused(self, image_id, task, what):
        """The import failed: the task says why, the image is back to queued without data,
        the import lock is gone, and nothing of it is left in the store or work directory."""
        self.assertEqual(task["status"], "failure", f"{what}: {task}")
        self.assertTrue(task["message"], f"{what}: a failed task says why: {task}")
        image = self.show(image_id, user="demo")
        self.assertEqual(image["status"], "queued", f"{what}: {image}")
        self.assertEqual((image["size"], image["virtual_size"], image["checksum"],
                          image["os_hash_value"]), (None, None, None, None), f"{what}: {image}")
        self.assertNotIn("os_glance_import_task", image, what)
        self.download(image_id, expect=204)
        self.stack.wait_no_files(image_id)
        self.assert_store_clean(image_id, objects=0)

    def assert_store_clean(self, image_id, objects):
        """The store holds exactly `objects` final objects of the image (no partial or staged
        ones), and the work directory no file but the workers' lock files."""
        files = self.stack.files_of(image_id)
        self.assertEqual(len(files), objects, f"store objects of {image_id}: {files}")
        for name in files:
            self.assertFalse(name.endswith(".part") or "staging" in name,
                             f"{name}: a partial or staged object is left over")

        def leftovers():
            found = []
            for root, _, names in os.walk(self.stack.work_dir):
                found += [os.path.join(root, n) for n in names
                          if not (root == self.stack.work_dir and n.endswith(".lock"))]
            return found
        # A worker removes its attempt's files right after finishing the task.
        wait_until(lambda: not leftovers(), 30,
                   f"the work directory {self.stack.work_dir} to be emptied "
                   f"(left: {leftovers()})")


class ImportTest(ImportTestCase):
    workers = 4
    worker_flags = {"import_plugins": "decompress,inspect,convert", "convert_to": "raw",
                    "web_download_allowed_schemes": "http",
                    "web_download_allowed_hosts": "127.0.0.1",
                    "web_download_allowed_ports": "{port}"}

    # -- the command lines (README.md shows the same)

    def run_cli(self, argv, expect_status=0):
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["HOME"] = self.home
        # Standard input closed, as from a terminal with nothing piped in: glance reads image
        # data from any other standard input (even /dev/null, as zero bytes).
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120,
                              cwd=self.corpus.dir, stdin=subprocess.DEVNULL,
                              preexec_fn=lambda: os.close(0))
        self.assertEqual(proc.returncode, expect_status,
                         f"{' '.join(argv)}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
        return proc

    def glance(self, *args):
        return self.run_cli(["/usr/bin/glance", "--os-image-url", self.stack.url,
                             "--os-auth-token", self.stack.token("demo"), *args])

    def openstack(self, *args):
        return self.run_cli(["/usr/bin/openstack", "--os-auth-type", "admin_token",
                             "--os-endpoint", f"{self.stack.url}/v2",
                             "--os-token", self.stack.token("demo"), *args])

    def setUp(self):
        super().setUp()
        home = tempfile.TemporaryDirectory()
        self.addCleanup(home.cleanup)
        self.home = home.name

    @staticmethod
    def table_id(text):
        for line in text.splitlines():
            cells = [c.strip() for c in line.split("|")]
            if len(cells) > 3 and cells[1] == "id":
                return cells[2]
        raise AssertionError(f"no id in the output:\n{text}")

    def check_cli_image(self, image_id, case):
        _, _, expect, disk_format, virtual_size = self.corpus.good[case]
        self.assert_imported(image_id, expect, disk_format, virtual_size)
        out = os.path.join(self.home, "out.img")
        self.glance("image-download", "--file", out, image_id)
        self.assertEqual(digest_file(out), expect)

    def test_cli_glance_create_via_import_glance_direct(self):
        # qcow2 -> raw through glance-direct (the staged file, converted by the worker).
        out = self.glance("image-create-via-import", "--name", "via-import-direct",
                          "--disk-format", "qcow2", "--container-format", "bare",
                          "--import-method", "glance-direct", "--file", "disk.qcow2").stdout
        self.check_cli_image(self.table_id(out), "qcow2")

    def test_cli_glance_create_via_import_web_download(self):
        # A gzip'd raw image, decompressed by the worker.
        uri = self.server.url(self.serve("disk.raw.gz"))
        out = self.glance("image-create-via-import", "--name", "via-import-web",
                          "--disk-format", "raw", "--container-format", "bare",
                          "--import-method", "web-download", "--uri", uri).stdout
        self.check_cli_image(self.table_id(out), "gzip")

    def test_cli_glance_stage_then_import(self):
        image_id = self.table_id(self.glance(
            "image-create", "--name", "stage-import", "--disk-format", "raw",
            "--container-format", "bare").stdout)
        self.glance("image-stage", "--file", "disk.raw", image_id)
        self.assertEqual(self.show(image_id)["status"], "uploading")
        self.glance("image-import", "--import-method", "glance-direct", image_id)
        self.check_cli_image(image_id, "raw")
        # (`glance image-tasks` would refuse: it needs v2.12 in the version list, and Gaze
        # advertises versions only up to 2.1 while the metadefs of 2.2 are missing.)

    def test_cli_glance_import_web_download(self):
        image_id = self.table_id(self.glance(
            "image-create", "--name", "web-import", "--disk-format", "qcow2",
            "--container-format", "bare").stdout)
        uri = self.server.url(self.serve("disk.qcow2"))
        self.glance("image-import", "--import-method", "web-download", "--uri", uri, image_id)
        self.check_cli_image(image_id, "qcow2")

    def test_cli_openstack_image_create_import(self):
        # openstackclient 6.0 (Debian 12) has `image create --import` (stage + glance-direct
        # through openstacksdk) but neither --import-method/--uri nor `image stage/import`.
        created = json.loads(self.openstack(
            "image", "create", "--import", "--file", "disk.qcow2", "--disk-format", "qcow2",
            "--container-format", "bare", "osc-import", "-f", "json").stdout)
        self.check_cli_image(created["id"], "qcow2")

    # -- formats, through both methods

    def test_formats_through_both_methods(self):
        for case, (name, declared, expect, disk_format, virtual_size) in self.corpus.good.items():
            for method in METHODS:
                with self.subTest(case=case, method=method):
                    image = self.create_image(declared)
                    if method == "glance-direct":
                        self.stage(image["id"], self.corpus.read(name))
                        staged = self.show(image["id"])
                        self.assertEqual((staged["status"], staged["size"]),
                                         ("uploading", os.path.getsize(self.corpus.path(name))))
                        self.assertEqual(len(self.stack.files_of(image["id"])), 1)
                        task = self.import_and_wait(image["id"], method)
                    else:
                        task = self.import_and_wait(image["id"], method,
                                                    self.server.url(self.serve(name)))
                    self.assert_imported(image["id"], expect, disk_format, virtual_size, task)

    # -- discovery, tasks, refusals of the API

    def test_discovery(self):
        info = self.expect("GET", "/v2/info/import", 200).json()
        self.assertEqual(info, {"import-methods": {"description": "Import methods available.",
                                                   "type": "array", "value": METHODS}})
        resp = self.call("POST", "/v2/images", body={"name": "x"}, headers=JSON)
        self.assertEqual(resp.status, 201, resp)
        self.assertEqual(resp.headers.get("openstack-image-import-methods"), ",".join(METHODS))

    def test_tasks_and_progress(self):
        # The download slows to a trickle after its first MiB (until released): the task
        # must show its progress while it runs. (A download that stalls completely shows the
        # count of the last report before the stall: the fetcher reports from its write
        # callback only.)
        path = self.serve("disk.raw")
        gate = self.server.gates[path] = ImageServer.Gate(after=MiB, trickle=True)
        image = self.create_image()
        self.start_import(image["id"], "web-download", self.server.url(path))
        self.assertTrue(gate.reached.wait(TASK_TIMEOUT), "the worker never fetched the image")
        try:
            def shows_progress():
                tasks = self.image_tasks(image["id"])
                if len(tasks) == 1 and tasks[0]["status"] == "processing":
                    progress = tasks[0]["progress"] or {}
                    if progress.get("bytes_done", 0) >= MiB:
                        return tasks[0]
                return None
            try:
                running = wait_until(shows_progress, 60,
                                     "the owner to see the download's progress")
            except AssertionError as e:
                raise AssertionError(f"{e}: {self.image_tasks(image['id'])}") from None
            self.assertEqual(self.show(image["id"])["status"], "importing")
            self.assertEqual(running["progress"]["stage"], "fetching")
            self.assertEqual(running["progress"]["bytes_total"], self.corpus.raw[0])
            # A second import while this one runs: the image is importing.
            self.start_import(image["id"], "web-download", self.server.url(path), expect=409)
            # Admin sees it in /v2/tasks, with its progress.
            listed = self.expect("GET", "/v2/tasks", 200, user="admin").json()
            stub = next(t for t in listed["tasks"] if t["id"] == running["id"])
            self.assertEqual(stub["status"], "processing")
            self.assertNotIn("input", stub)
            self.assertEqual(stub["progress"]["stage"], "fetching")
        finally:
            gate.release.set()
        task = self.wait_task(image["id"])
        self.assert_imported(image["id"], self.corpus.raw, "raw", self.corpus.raw[0], task)

        # GET /v2/images/{id}/tasks (owner): Glance's database row keys.
        [task] = self.image_tasks(image["id"])
        self.assertEqual(set(task), IMAGE_TASK_KEYS, task)
        self.assertEqual((task["type"], task["status"], task["image_id"], task["owner"],
                          task["result"], task["deleted"]),
                         ("api_image_import", "success", image["id"],
                          self.stack.project_id("demo"), {"image_id": image["id"]}, False))
        self.assertEqual(task["input"]["import_req"]["method"]["name"], "web-download")
        self.assertEqual((task["input"]["image_id"], task["input"]["backend"]), (image["id"], [None]))
        self.assertRegex(task["created_at"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$")
        self.assertIsNotNone(task["expires_at"])
        # /v2/tasks and /v2/tasks/{id}: admin only.
        full = self.expect("GET", f"/v2/tasks/{task['id']}", 200, user="admin").json()
        self.assertEqual((full["status"], full["image_id"], full["self"], full["schema"]),
                         ("success", image["id"], f"/v2/tasks/{task['id']}", "/v2/schemas/task"))
        self.assertEqual(full["input"], task["input"])
        self.assertEqual(self.list_page({"status": "success", "limit": 1000}, user="admin",
                                        path="/v2/tasks")["schema"], "/v2/schemas/tasks")
        self.expect_error("GET", "/v2/tasks", 403, user="demo")
        self.expect_error("GET", f"/v2/tasks/{task['id']}", 403, user="demo")
        # Another project does not see the image, hence not its tasks.
        self.expect_error("GET", f"/v2/images/{image['id']}/tasks", 404, user="alt")

    def test_import_refusals(self):
        uri = self.server.url(self.serve("disk.raw"))
        active = self.create_active()
        for method in METHODS:
            self.start_import(active["id"], method, uri, expect=409)
        queued = self.create_image()
        # glance-direct needs staged data.
        self.start_import(queued["id"], "glance-direct", expect=409)
        # Unknown or disabled methods, a web-download without uri or with a non-http one: 400.
        for body in ({}, {"method": {}}, {"method": {"name": "copy-image"}},
                     {"method": {"name": "glance-download"}}, {"method": {"name": "nope"}},
                     {"method": {"name": "web-download"}},
                     {"method": {"name": "web-download", "uri": "file:///etc/passwd"}}):
            self.expect_error("POST", f"/v2/images/{queued['id']}/import", 400, body=body,
                              what=f"import {body}")
        # Staged: no web-download; no second stage.
        self.stage(queued["id"], b"staged bytes")
        self.start_import(queued["id"], "web-download", uri, expect=409)
        self.expect_error("PUT", f"/v2/images/{queued['id']}/stage", 409, body=b"again",
                          headers=OCTETS)
        # Formats unset: 409 at import (staging does not need them).
        bare = self.expect("POST", "/v2/images", 201, body={"name": "no formats"},
                           headers=JSON).json()
        self.stage(bare["id"], b"staged bytes")
        self.start_import(bare["id"], "glance-direct", expect=409)
        self.assertEqual(self.show(bare["id"])["status"], "uploading")
        # Other projects: a private image is invisible (404); a public one is not theirs (403).
        other = self.create_image()
        self.expect_error("POST", f"/v2/images/{other['id']}/import", 404, user="alt",
                          body={"method": {"name": "web-download", "uri": uri}})
        self.expect_error("PUT", f"/v2/images/{other['id']}/stage", 404, user="alt",
                          body=b"x", headers=OCTETS)
        public = self.create_image(user="admin", visibility="public")
        self.expect_error("POST", f"/v2/images/{public['id']}/import", 403, user="alt",
                          body={"method": {"name": "web-download", "uri": uri}})
        self.expect_error("PUT", f"/v2/images/{public['id']}/stage", 403, user="alt",
                          body=b"x", headers=OCTETS)
        # A reader of the owning project may not import either.
        self.expect_error("POST", f"/v2/images/{other['id']}/import", 403, user="reader",
                          body={"method": {"name": "web-download", "uri": uri}})
        for image in (other, public):
            self.assertEqual(self.show(image["id"])["status"], "queued")
            self.assertEqual(self.image_tasks(image["id"], user="admin"), [])
        self.assertEqual(self.server.requested(urlpath(uri)), 0)

    # -- hostile images: refused on every path

    def test_hostile_images_refused_on_every_path(self):
        for case, (name, declared) in self.corpus.hostile.items():
            data = self.corpus.read(name)
            with self.subTest(case=case, path="PUT /file"):
                image = self.create_image(declared)
                self.expect_error("PUT", f"/v2/images/{image['id']}/file", 415, body=data,
                                  headers=OCTETS, what=case)
                self.assertEqual(self.show(image["id"])["status"], "queued")
                self.stack.wait_no_files(image["id"])
            with self.subTest(case=case, path="glance-direct"):
                image = self.create_image(declared)
                self.stage(image["id"], data)
                task = self.import_and_wait(image["id"], "glance-direct")
                self.assert_refused(image["id"], task, f"{case} by glance-direct")
            with self.subTest(case=case, path="web-download"):
                image = self.create_image(declared)
                task = self.import_and_wait(image["id"], "web-download",
                                            self.server.url(self.serve(name)))
                self.assert_refused(image["id"], task, f"{case} by web-download")
        # A refused image can be imported again once it is fixed.
        task = self.import_and_wait(image["id"], "web-download",
                                    self.server.url(self.serve("disk.raw")))
        self.assertEqual(task["status"], "failure", "disk.raw declared vmdk")
        self.set_attrs(image["id"], disk_format="raw")
        task = self.import_and_wait(image["id"], "web-download",
                                    self.server.url(self.serve("disk.raw")))
        self.assert_imported(image["id"], self.corpus.raw, "raw", self.corpus.raw[0], task)

    # -- web-download: the allow list and redirects

    def web_download_refused(self, uri, what):
        image = self.create_image()
        resp = self.start_import(image["id"], "web-download", uri, expect=None)
        if resp.status == 400:  # refused at the API
            self.assert_error(resp, 400, JSON, what)
            self.assertEqual(self.show(image["id"])["status"], "queued")
            return
        self.assertEqual(resp.status, 202, f"{what}: {resp!r}")
        task = self.wait_task(image["id"])
        self.assert_refused(image["id"], task, what)
        self.assertIn("URI not allowed", task["message"], f"{what}: {task}")

    def test_web_download_allow_list(self):
        path = self.serve("disk.raw")
        target = self.server.url(path)
        hostname = socket.gethostname()
        for uri in (self.server.url(path, "[::1]"), self.server.url(path, "localhost"),
                    self.server.url(path, hostname), self.server.url(path, "127.0.0.2"),
                    f"http://169.254.169.254:{self.server.port}/latest/meta-data/",
                    f"http://10.0.0.1:{self.server.port}/disk.raw",
                    # Allowed host, port not allowed; scheme not allowed.
                    f"http://127.0.0.1:{self.server.port + 1 if self.server.port < 65535 else 1}/x",
                    f"https://127.0.0.1:{self.server.port}{path}"):
            with self.subTest(uri=uri):
                self.web_download_refused(uri, uri)
        self.assertEqual(self.server.requested(path), 0, "a refused URI was fetched")
        # Redirects from the allowed server: every hop is checked again.
        for i, target_host in enumerate(("localhost", "[::1]", "127.0.0.2", hostname)):
            redirect = f"/redirect-{i}"
            self.server.redirects[redirect] = self.server.url(path, target_host)
            with self.subTest(redirect=target_host):
                self.web_download_refused(self.server.url(redirect), f"redirect to {target_host}")
                self.assertEqual(self.server.requested(redirect), 1)
        self.server.redirects["/redirect-to-metadata"] = "http://169.254.169.254/latest/"
        self.web_download_refused(self.server.url("/redirect-to-metadata"), "redirect to metadata")
        self.assertEqual(self.server.requested(path), 0, "a redirect to a refused host was followed")
        # A redirect to the allowed server itself is followed.
        self.server.redirects["/redirect-ok"] = target
        image = self.create_image()
        task = self.import_and_wait(image["id"], "web-download", self.server.url("/redirect-ok"))
        self.assert_imported(image["id"], self.corpus.raw, "raw", self.corpus.raw[0], task)
        self.assertEqual(self.server.requested(path), 1)

    # -- four workers, sixteen imports

    def test_concurrent_imports(self):
        cases = ["raw", "qcow2", "gzip", "raw"]
        images = []
        for i in range(16):
            case = cases[i % 4]
            name, declared, expect, disk_format, virtual_size = self.corpus.good[case]
            image = self.create_image(declared, name=f"concurrent-{i}")
            if i % 2:
                self.stage(image["id"], self.corpus.read(name))
            images.append((image["id"], i % 2, name, self.corpus.good[case]))
        for image_id, direct, name, _ in images:
            if direct:
                self.start_import(image_id, "glance-direct")
            else:
                self.start_import(image_id, "web-download", self.server.url(self.serve(name)))
        for image_id, _, _, (_, _, expect, disk_format, virtual_size) in images:
            self.assert_imported(image_id, expect, disk_format, virtual_size)
            self.assertEqual(len(self.image_tasks(image_id)), 1)


def urlpath(uri):
    return "/" + uri.split("/", 3)[3]


class WebDownloadDefaultDenyTest(ImportTestCase):
    """No host allow list: the default refuses every address that is not public unicast,
    also behind a name, although the port is allowed and a server listens there."""

    worker_flags = {"web_download_allowed_ports": "{port},80"}

    def test_default_deny(self):
        path = self.serve("disk.raw")
        hostname = socket.gethostname()
        uris = [self.server.url(path, host) for host in
                ("127.0.0.1", "[::1]", "localhost", hostname, "127.0.0.2", "[::ffff:127.0.0.1]",
                 "0.0.0.0")]
        uris += ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/disk.raw",
                 "http://192.168.1.1/disk.raw", "http://[fe80::1]/disk.raw"]
        for uri in uris:
            with self.subTest(uri=uri):
                image = self.create_image()
                resp = self.start_import(image["id"], "web-download", uri, expect=None)
                if resp.status == 400:
                    self.assert_error(resp, 400, JSON, uri)
                    continue
                self.assertEqual(resp.status, 202, f"{uri}: {resp!r}")
                task = self.wait_task(image["id"])
                self.assert_refused(image["id"], task, uri)
                self.assertIn("URI not allowed", task["message"], f"{uri}: {task}")
        self.assertEqual(self.server.requested(path), 0, "a refused URI was fetched")


class ImportCrashTest(ImportTestCase):
    """kill -9 of the worker in the middle of an import, and a restart."""

    metadata_flags = {"task_redrive_interval_ms": 500, "task_redrive_after_seconds": 1}
    worker_flags = {"task_lease_seconds": 3,
                    "web_download_allowed_hosts": "127.0.0.1",
                    "web_download_allowed_ports": "{port}"}

    def test_kill_worker_mid_download(self):
        for case in ("raw", "qcow2"):
            with self.subTest(case=case):
                name, declared, expect, disk_format, virtual_size = self.corpus.good[case]
                path = self.serve(name)
                gate = self.server.gates[path] = ImageServer.Gate(after=MiB)
                image = self.create_image(declared)
                self.start_import(image["id"], "web-download", self.server.url(path))
                self.assertTrue(gate.reached.wait(TASK_TIMEOUT),
                                "the worker never fetched the image")
                # The worker has written the first MiB to its work directory.
                self.stack.kill("task-worker")
                gate.release.set()
                self.stack.start_process("task-worker")
                task = self.wait_task(image["id"])
                self.assert_imported(image["id"], expect, disk_format, virtual_size, task)
                tasks = self.image_tasks(image["id"])
                self.assertEqual([t["status"] for t in tasks], ["success"], tasks)
                self.assertEqual(self.server.requested(path), 2)

    def test_kill_worker_holding_glance_direct_delivery(self):
        # The worker dies with the task's message delivered but unacknowledged (it is stopped
        # first, so that it cannot finish before the kill: reading a staged object cannot be
        # held up the way a download can).
        name, declared, expect, disk_format, virtual_size = self.corpus.good["qcow2"]
        image = self.create_image(declared)
        self.stage(image["id"], self.corpus.read(name))
        self.stack.services["task-worker"].proc.send_signal(19)  # SIGSTOP: it cannot run
        try:
            self.start_import(image["id"], "glance-direct")
        finally:
            self.stack.kill("task-worker")
        self.stack.start_process("task-worker")
        task = self.wait_task(image["id"])
        self.assert_imported(image["id"], expect, disk_format, virtual_size, task)
        self.assertEqual([t["status"] for t in self.image_tasks(image["id"])], ["success"])


class DelayedDeleteTest(ImportTestCase):
    """--delayed_delete_seconds: DELETE parks an image in pending_delete; its data goes after
    the delay; `metadata-svc restore` brings it back before then."""

    DELAY = 8
    metadata_flags = {"delayed_delete_seconds": DELAY}

    def restore(self, image_id):
        return subprocess.run(
            [os.path.join(self.stack.bin_dir, "metadata-svc"), "restore", image_id,
             "--probe_target", f"127.0.0.1:{self.stack.grpc_port}"],
            capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("GAZE_")})

    def test_pending_delete_then_scrub(self):
        image = self.create_active(data=b"delayed delete")
        files = self.stack.files_of(image["id"])
        self.assertEqual(len(files), 1)
        self.delete(image["id"])
        self.assertEqual(self.show(image["id"], user="admin")["status"], "pending_delete")
        self.expect_error("GET", f"/v2/images/{image['id']}", 404, user="demo")
        self.assertNotIn(image["id"], self.list_set(user="demo"))
        self.assertEqual(self.stack.files_of(image["id"]), files, "deleted before the delay")
        self.stack.wait_no_files(image["id"], timeout=self.DELAY + 60)
        self.expect_error("GET", f"/v2/images/{image['id']}", 404, user="admin")

    def test_restore(self):
        image = self.create_active(data=b"restored")
        self.delete(image["id"])
        self.assertEqual(self.show(image["id"])["status"], "pending_delete")
        proc = self.restore(image["id"])
        self.assertEqual(proc.returncode, 0, proc.stderr)
        restored = self.show(image["id"], user="demo")
        self.assertEqual((restored["status"], restored["checksum"]),
                         ("active", image["checksum"]))
        # Restoring what is not pending_delete fails.
        self.assertNotEqual(self.restore(image["id"]).returncode, 0)
        # Past the delay (a later delete's data has gone), the restored data is still there.
        later = self.create_active(data=b"later")
        self.delete(later["id"])
        self.stack.wait_no_files(later["id"], timeout=self.DELAY + 60)
        self.assertEqual(len(self.stack.files_of(image["id"])), 1)
        self.assertEqual(self.download(image["id"]), b"restored")


if __name__ == "__main__":
    unittest.main()
