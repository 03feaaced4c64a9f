"""A private Gaze stack for one test class, and helpers the end-to-end tests share.

GazeStack starts the three real binaries from $GAZE_BUILD_DIR/bin: metadata-svc and
api-gateway on ephemeral ports (read back from their {"msg":"listening","port":N} log
line), against the PostgreSQL and RabbitMQ named by GAZE_TEST_PG_DSN and
GAZE_TEST_AMQP_URL, with a fresh database, a task queue of its own, a temporary data
directory and token file. It can SIGKILL and restart any one process (on the same port),
and at the end stops them with SIGTERM, which they must survive as a clean exit 0.

Each child gets PR_SET_PDEATHSIG (through setpriv), so no service outlives a test process
that dies or is killed by ctest's timeout.

Without GAZE_TEST_PG_DSN / GAZE_TEST_AMQP_URL / GAZE_BUILD_DIR the tests are skipped, and
they fail instead when CI is set (CI=true): a CI run must not turn green by skipping.
"""

import hashlib
import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

READY_TIMEOUT = 60.0  # seconds a process gets to become ready
STOP_TIMEOUT = 30.0  # seconds a process gets to exit after SIGTERM
PROCESSES = ("metadata-svc", "task-worker", "api-gateway")  # in start order

# The users of the static token file: name -> (project name, roles). Users of the same
# project share its (random) project id. admin, demo and alt are the dev stack's; the others
# let tests tell roles and projects apart: a reader-only user and a second member in demo, a
# reader-only user in alt, and two more projects (third, other).
USERS = {
    "admin": ("admin", ["admin", "member", "reader"]),
    "demo": ("demo", ["member", "reader"]),
    "alt": ("alt", ["member", "reader"]),
    "reader": ("demo", ["reader"]),
    "demo2": ("demo", ["member", "reader"]),
    "alt_reader": ("alt", ["reader"]),
    "third": ("third", ["member", "reader"]),
    "other": ("other", ["member", "reader"]),
}
TOKEN_ROLES = {name: roles for name, (_, roles) in USERS.items()}


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def required_environment():
    """(build_dir, pg_dsn, amqp_url); SkipTest outside CI, a failure in CI when unset."""
    names = ("GAZE_BUILD_DIR", "GAZE_TEST_PG_DSN", "GAZE_TEST_AMQP_URL")
    missing = [n for n in names if not os.environ.get(n)]
    if missing:
        message = (f"{', '.join(missing)} not set: run the suite through deploy/dev/test.sh "
                   "(or set them to a PostgreSQL DSN whose role may CREATE DATABASE, "
                   "an AMQP URL and the build directory)")
        if in_ci():
            raise RuntimeError(message)
        raise unittest.SkipTest(message)
    return tuple(os.environ[n] for n in names)


def wait_until(predicate, timeout, what, interval=0.05):
    """Polls predicate() until it returns something truthy, and returns that."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def make_random_file(path, size, block=1 << 20):
    """Writes size random bytes to path, block by block; returns (md5, sha512) hex digests."""
    md5, sha512 = hashlib.md5(), hashlib.sha512()
    with open(path, "wb") as f:
        remaining = size
        while remaining:
            data = os.urandom(min(block, remaining))
            f.write(data)
            md5.update(data)
            sha512.update(data)
            remaining -= len(data)
    return md5.hexdigest(), sha512.hexdigest()


def digest_chunks(chunks):
    """(size, md5, sha512) of an iterable of byte strings."""
    size, md5, sha512 = 0, hashlib.md5(), hashlib.sha512()
    for chunk in chunks:
        size += len(chunk)
        md5.update(chunk)
        sha512.update(chunk)
    return size, md5.hexdigest(), sha512.hexdigest()


def digest_file(path, block=1 << 20):
    with open(path, "rb") as f:
        return digest_chunks(iter(lambda: f.read(block), b""))


def psql_binary():
    return shutil.which("psql", path="/usr/bin:/usr/lib/postgresql/15/bin") or "psql"


def run_psql(dsn, sql):
    subprocess.run([psql_binary(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, "-c", sql],
                   check=True, capture_output=True, text=True,
                   env={**os.environ, "PGCONNECT_TIMEOUT": "10"})


# --- HTTP ------------------------------------------------------------------------------


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case name -> value
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<HTTP {self.status} {self.body[:300]!r}>"


def http_request(url, method, path, *, token=None, body=None, headers=None, timeout=60):
    """One request on a fresh connection. body: bytes, a str, a dict/list (sent as JSON),
    or an iterable of bytes (sent chunked)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    all_headers = dict(headers or {})
    if token is not None:
        all_headers["X-Auth-Token"] = token
    encode_chunked = False
    if isinstance(body, (dict, list)):
        body = json.dumps(body).encode()
        all_headers.setdefault("Content-Type", "application/json")
    elif isinstance(body, str):
        body = body.encode()
    elif body is not None and not isinstance(body, bytes):
        encode_chunked = "Content-Length" not in all_headers
        if encode_chunked:
            all_headers["Transfer-Encoding"] = "chunked"
    try:
        send_error = None
        try:
            conn.request(method, path, body=body, headers=all_headers,
                         encode_chunked=encode_chunked)
        except (BrokenPipeError, ConnectionResetError) as e:
            send_error = e  # a server may answer (413) before it has read the whole body
        try:
            resp = conn.getresponse()
            return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()},
                            resp.read())
        except (OSError, http.client.HTTPException) as e:
            if send_error is None:
                raise
            raise AssertionError(f"{method} {path}: the server closed the connection while "
                                 f"the body was being sent ({send_error!r}) and no response "
                                 f"could be read ({e!r})") from e
    finally:
        conn.close()


# --- processes -------------------------------------------------------------------------


class Service:
    """One of the three binaries, with its log file (appended to across restarts)."""

    def __init__(self, name, binary, log_path, env):
        self.name = name
        self.binary = binary
        self.log_path = log_path
        self.env = env
        self.proc = None
        self.log_offset = 0  # where the current run's log starts

    def start(self, args):
        with open(self.log_path, "ab") as log:
            self.log_offset = log.tell()
            if self.log_offset:
                log.write(f"----- harness: restarting {self.name} -----\n".encode())
                self.log_offset = log.tell()
            self.proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", "--", self.binary, *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=self.env,
                start_new_session=True)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log_records(self):
        """The JSON log lines of the current run, parsed; other lines are skipped."""
        with open(self.log_path, "rb") as f:
            f.seek(self.log_offset)
            lines = f.read().decode(errors="replace").splitlines()
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def logged(self, msg):
        return next((r for r in self.log_records() if r.get("msg") == msg), None)

    def wait_for(self, what, predicate, timeout=READY_TIMEOUT):
        def check():
            if not self.running:
                raise AssertionError(f"{self.name} exited with status {self.proc.returncode} "
                                     f"while waiting for {what}\n{self.tail()}")
            return predicate()
        try:
            return wait_until(check, timeout, f"{self.name}: {what}")
        except AssertionError as e:
            if self.running:
                raise AssertionError(f"{e}\n{self.tail()}") from None
            raise

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def terminate(self):
        """SIGTERM; returns the exit status, or None if it had to be SIGKILLed."""
        if not self.running:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                text = f.read().decode(errors="replace").splitlines()[-lines:]
        except OSError as e:
            text = [f"(no log: {e})"]
        return f"----- last lines of {self.name}'s log ({self.log_path}) -----\n" + "\n".join(text)


class GazeStack:
    """metadata-svc + task-worker + api-gateway for one test class.

    Options become flags (None = the binary's default): upload_lease_seconds,
    image_size_cap and policy_file of the gateway; sweep_interval_ms, quota_file and the
    per-image limits image_property_quota / image_tag_quota / image_member_quota of
    metadata-svc.

    quota_file and policy_file are the files' contents, written into the stack's temporary
    directory once the token file exists: a str (written as is), a dict (written as JSON),
    or a callable taking the stack (so it can use self.project_id(...)) and returning one of
    those. policy_file_suffix names the policy file ".json" or ".yaml".

    Import tests (test_import.py) also use: workers, the number of task-workers, named
    "task-worker", "task-worker-2", ... (all on the same queue); and extra flags of each
    binary, {flag name: value} dicts that may be changed before a (re)start:
    metadata_flags, worker_flags and gateway_flags (a value of None leaves the flag out)."""

    METADATA_OPTIONS = ("sweep_interval_ms", "image_property_quota", "image_tag_quota",
                        "image_member_quota")
    GATEWAY_OPTIONS = ("upload_lease_seconds", "image_size_cap")

    def __init__(self, upload_lease_seconds=None, sweep_interval_ms=None, image_size_cap=None,
                 quota_file=None, policy_file=None, policy_file_suffix=".json",
                 image_property_quota=None, image_tag_quota=None, image_member_quota=None,
                 workers=1, metadata_flags=None, worker_flags=None, gateway_flags=None):
        self.build_dir, self.base_dsn, self.amqp_url = required_environment()
        self.bin_dir = os.path.join(os.path.abspath(self.build_dir), "bin")
        for name in PROCESSES:
            path = os.path.join(self.bin_dir, name)
            if not os.access(path, os.X_OK):
                raise RuntimeError(f"{path} is missing: build the project first")
        self.options = {"upload_lease_seconds": upload_lease_seconds,
                        "sweep_interval_ms": sweep_interval_ms,
                        "image_size_cap": image_size_cap,
                        "image_property_quota": image_property_quota,
                        "image_tag_quota": image_tag_quota,
                        "image_member_quota": image_member_quota}
        self.workers = workers
        self.worker_names = ["task-worker"] + [f"task-worker-{i}" for i in range(2, workers + 1)]
        self.process_names = ["metadata-svc", *self.worker_names, "api-gateway"]  # start order
        self.extra_flags = {"metadata-svc": dict(metadata_flags or {}),
                            "task-worker": dict(worker_flags or {}),
                            "api-gateway": dict(gateway_flags or {})}
        self.file_contents = {"quota_file": quota_file, "policy_file": policy_file}
        self.file_suffixes = {"quota_file": ".json", "policy_file": policy_file_suffix}
        self.files = {}  # option name -> path of the file written for it
        suffix = secrets.token_hex(6)
        self.db_name = f"gaze_e2e_{suffix}"
        self.task_queue = f"gaze.e2e.{suffix}"
        self.dir = None
        self.grpc_port = 0
        self.api_port = 0
        self.services = {}
        self.tokens = {}
        self.project_ids = {}

    # -- lifecycle

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop(check=False)
            raise

    def _start(self):
        self.dir = tempfile.mkdtemp(prefix="gaze-e2e-")
        self.data_dir = os.path.join(self.dir, "images")
        os.mkdir(self.data_dir)
        # The workers' scratch space (their default: "work" beside the data directory).
        self.work_dir = os.path.join(self.dir, "work")
        self._write_tokens()
        self._write_option_files()
        run_psql(self.base_dsn, f"CREATE DATABASE {self.db_name}")
        self.db_created = True
        self.pg_dsn = urllib.parse.urlunsplit(
            urllib.parse.urlsplit(self.base_dsn)._replace(path="/" + self.db_name))
        # The services take their configuration from our flags only, not from GAZE_*
        # variables of the environment the tests run in.
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAZE_")}
        for name in self.process_names:
            service_env = {**env, **self.gateway_env()} if name == "api-gateway" else env
            binary = "task-worker" if name in self.worker_names else name
            self.services[name] = Service(name, os.path.join(self.bin_dir, binary),
                                          os.path.join(self.dir, f"{name}.log"), service_env)
        migrate = subprocess.run(
            [os.path.join(self.bin_dir, "metadata-svc"), "migrate", "--pg_dsn", self.pg_dsn],
            capture_output=True, text=True, env=env, timeout=READY_TIMEOUT)
        if migrate.returncode != 0:
            raise AssertionError(f"metadata-svc migrate exited with {migrate.returncode}:\n"
                                 f"{migrate.stderr}")
        for name in self.process_names:
            self.start_process(name)

    def stop(self, check=True):
        """Stops every process with SIGTERM (gateway first), drops the database, removes the
        files. With check, raises if a process did not exit 0 after SIGTERM."""
        problems = []
        for name in reversed(self.process_names):
            service = self.services.get(name)
            if service is None or service.proc is None:
                continue
            was_running = service.running
            status = service.terminate()
            if check and was_running and status != 0:
                what = "ignored SIGTERM" if status is None else f"exited with status {status}"
                problems.append(f"{name} {what} on SIGTERM\n{service.tail()}")
        if getattr(self, "db_created", False):
            try:
                run_psql(self.base_dsn, f"DROP DATABASE IF EXISTS {self.db_name} WITH (FORCE)")
            except subprocess.CalledProcessError as e:
                problems.append(f"could not drop database {self.db_name}: {e.stderr}")
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
        if problems:
            raise AssertionError("\n".join(problems))

    def start_process(self, name):
        """Starts (or restarts, on the same port) one process and waits until it is ready."""
        service = self.services[name]
        if name == "metadata-svc":
            service.start(["serve", "--grpc_listen", "127.0.0.1",
                           "--grpc_port", str(self.grpc_port),
                           "--pg_dsn", self.pg_dsn, "--amqp_url", self.amqp_url,
                           "--task_queue", self.task_queue,
                           *self._flags(self.METADATA_OPTIONS),
                           *self._file_flag("quota_file"), *self._extra_flags(name)])
            listening = service.wait_for("its listening log line",
                                         lambda: service.logged("listening"))
            self.grpc_port = int(listening["port"])
            probe = [service.binary, "probe", "--grpc_port", str(self.grpc_port)]
            service.wait_for("`metadata-svc probe` to exit 0", lambda: subprocess.run(
                probe, capture_output=True, env=service.env, timeout=10).returncode == 0)
        elif name in self.worker_names:
            service.start(["--metadata_target", f"127.0.0.1:{self.grpc_port}",
                           "--amqp_url", self.amqp_url, "--task_queue", self.task_queue,
                           "--data_dir", self.data_dir,
                           "--worker_id", f"e2e-{name}-{secrets.token_hex(3)}",
                           *self._extra_flags("task-worker")])
            service.wait_for('{"msg":"ready"}', lambda: service.logged("ready"))
        elif name == "api-gateway":
            service.start(["--api_listen", "127.0.0.1", "--api_port", str(self.api_port),
                           "--metadata_target", f"127.0.0.1:{self.grpc_port}",
                           "--data_dir", self.data_dir, *self.gateway_auth_flags(),
                           *self._flags(self.GATEWAY_OPTIONS),
                           *self._file_flag("policy_file"), *self._extra_flags(name)])
            listening = service.wait_for("its listening log line",
                                         lambda: service.logged("listening"))
            self.api_port = int(listening["port"])
            service.wait_for("GET /readyz to answer 200", self._gateway_ready)
        else:
            raise ValueError(name)

    def kill(self, name):
        """SIGKILL, as a crash would."""
        self.services[name].kill()

    def restart(self, name):
        if self.services[name].running:
            self.kill(name)
        self.start_process(name)

    def check_running(self):
        """Raises if a process died (one that a test killed and did not restart counts too),
        after starting it again so that the next test does not fail for the same reason."""
        dead = [s for s in self.services.values() if not s.running]
        report = "\n".join(f"{s.name} is not running (status {s.proc.returncode})\n{s.tail()}"
                           for s in dead)
        for name in self.process_names:
            if not self.services[name].running:
                try:
                    self.start_process(name)
                except AssertionError as e:
                    report += f"\nrestarting {name} failed too: {e}"
        if dead:
            raise AssertionError(report)

    def tails(self):
        return "\n".join(s.tail() for s in self.services.values() if s.proc is not None)

    # -- what tests use

    @property
    def url(self):
        return f"http://127.0.0.1:{self.api_port}"

    def token(self, user):
        return self.tokens[user]["token"]

    def project_id(self, name):
        """The project id of a project, or of a user's project, by name."""
        if name in self.project_ids:
            return self.project_ids[name]
        return self.tokens[name]["project_id"]

    def gateway_command(self, *extra):
        """The api-gateway command line of this stack (for tests that start one themselves,
        e.g. to see it refuse a configuration), with extra flags appended."""
        return [os.path.join(self.bin_dir, "api-gateway"), "--api_listen", "127.0.0.1",
                "--api_port", "0", "--metadata_target", f"127.0.0.1:{self.grpc_port}",
                "--data_dir", self.data_dir, "--token_file", self.token_file, *extra]

    def write_file(self, name, content):
        """Writes content (str, or dict/list as JSON) to a new file in the stack's
        directory; returns its path."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(content if isinstance(content, str) else json.dumps(content, indent=1))
        return path

    def request(self, method, path, **kwargs):
        return http_request(self.url, method, path, **kwargs)

    def files_of(self, image_id):
        """Names of the files in the data directory that belong to image_id (final or
        partial); the file store names them <image id>.<upload id>[.part]."""
        return sorted(n for n in os.listdir(self.data_dir) if n.startswith(image_id))

    def wait_no_files(self, image_id, timeout=30.0):
        wait_until(lambda: not self.files_of(image_id), timeout,
                   f"the bytes of image {image_id} to leave {self.data_dir} "
                   f"(still there: {self.files_of(image_id)})")

    # -- what subclasses may change (tests/e2e/gaze_keystone.py: Keystone authentication)

    def gateway_auth_flags(self):
        """The gateway's authentication flags: the static token file by default."""
        return ["--token_file", self.token_file]

    def gateway_env(self):
        """Extra environment of the gateway process (e.g. a password kept off its command
        line)."""
        return {}

    # -- internals

    def _flags(self, names):
        flags = []
        for name in names:
            value = self.options[name]
            if value is not None:
                flags += [f"--{name}", str(value)]
        return flags

    def _extra_flags(self, process):
        flags = []
        for name, value in self.extra_flags[process].items():
            if value is not None:
                flags += [f"--{name}", str(value)]
        return flags

    def _file_flag(self, name):
        path = self.files.get(name)
        return [] if path is None else [f"--{name}", path]

    def _write_option_files(self):
        for name, content in self.file_contents.items():
            if callable(content):
                content = content(self)
            if content is not None:
                self.files[name] = self.write_file(name.replace("_file", "")
                                                   + self.file_suffixes[name], content)

    def _write_tokens(self):
        entries = []
        self.project_ids = {}
        for user, (project, roles) in USERS.items():
            project_id = self.project_ids.setdefault(project, secrets.token_hex(16))
            entries.append({"token": f"gaze-{secrets.token_hex(16)}",
                            "user_id": secrets.token_hex(16), "user_name": user,
                            "project_id": project_id, "project_name": project,
                            "roles": roles})
            self.tokens[user] = entries[-1]
        self.token_file = os.path.join(self.dir, "tokens.json")
        with open(self.token_file, "w") as f:
            json.dump({"tokens": entries}, f)

    def _gateway_ready(self):
        try:
            return http_request(self.url, "GET", "/readyz", timeout=5).status == 200
        except OSError:
            return False


class StackTestCase(unittest.TestCase):
    """Base class: one GazeStack per test class, built from stack_options. After a failed
    test the end of every process log is printed; after every test all three processes
    must still be running."""

    stack_class = GazeStack
    stack_options = {}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.stack = cls.stack_class(**cls.stack_options)
        cls.stack.start()

    @classmethod
    def tearDownClass(cls):
        cls.stack.stop()
        super().tearDownClass()

    def tearDown(self):
        self.stack.check_running()
        super().tearDown()

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            print(f"\n{self.id()} failed; the services' logs end with:\n{self.stack.tails()}",
                  file=sys.stderr)
        return result
