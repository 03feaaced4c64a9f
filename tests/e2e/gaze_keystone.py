"""Keystone for the end-to-end tests: a client of the test Keystone's API, Gaze stacks whose
gateway authenticates with it (`--auth keystone`), extra gateways on a running stack, and a
private second Keystone process that a test may stop, freeze or give short-lived tokens.

deploy/dev/test.sh starts one Keystone for the whole run (deploy/dev/keystone.sh) and exports
GAZE_TEST_KEYSTONE_URL (http://127.0.0.1:PORT/v3) and GAZE_TEST_KEYSTONE_ACCOUNTS, a file of
KS_<WHO>_PASSWORD=... lines. Its accounts, all in domain Default:
    admin        role admin in project admin (implies member and reader)
    demo         role member in project demo       demo-reader  role reader in project demo
    alt          role member in project alt
    gaze         role service in project service: the service user Gaze validates tokens with
Without those variables the tests skip, and fail instead when CI is set (CI=true).

That Keystone is shared by the modules ctest runs in parallel: a test may create projects
and users of its own (and must delete them), revoke tokens it obtained itself, but must not
change the shared accounts. Only test_keystone.py changes the catalog's image endpoint.
"""

import configparser
import datetime
import os
import secrets
import signal
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

from gaze_stack import GazeStack, Service, http_request, in_ci, wait_until

KEYSTONE_VARIABLES = ("GAZE_TEST_KEYSTONE_URL", "GAZE_TEST_KEYSTONE_ACCOUNTS")
# The shared accounts: user -> (project, password variable in the accounts file).
ACCOUNTS = {
    "admin": ("admin", "KS_ADMIN_PASSWORD"),
    "demo": ("demo", "KS_DEMO_PASSWORD"),
    "demo-reader": ("demo", "KS_DEMO_READER_PASSWORD"),
    "alt": ("alt", "KS_ALT_PASSWORD"),
    "gaze": ("service", "KS_GAZE_PASSWORD"),
}
SERVICE_USER = "gaze"
UNREACHABLE_ENDPOINT = "http://127.0.0.1:1"  # where test.sh points the image service
KEYSTONE_UWSGI = "/usr/bin/uwsgi_python311"
KEYSTONE_APP = "/usr/bin/keystone-wsgi-public"


def keystone_environment():
    """(url, accounts file); SkipTest outside CI, a failure in CI, when unset."""
    missing = [n for n in KEYSTONE_VARIABLES if not os.environ.get(n)]
    if missing:
        message = (f"{', '.join(missing)} not set: run the suite through deploy/dev/test.sh, "
                   "which starts a Keystone for the tests (deploy/dev/keystone.sh)")
        if in_ci():
            raise RuntimeError(message)
        raise unittest.SkipTest(message)
    return tuple(os.environ[n] for n in KEYSTONE_VARIABLES)


def read_accounts(path):
    values = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                values[key] = value.strip().strip("'\"")
    return values


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def group_members(pgid):
    """Pids of the live (not zombie) processes of process group pgid."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


class Token(str):
    """A Keystone token (the string) with what Keystone said about it."""

    def __new__(cls, token, body):
        self = super().__new__(cls, token)
        self.body = body
        self.user_id = body["user"]["id"]
        self.project_id = (body.get("project") or {}).get("id")
        self.roles = sorted(r["name"] for r in body.get("roles", []))
        self.expires_at = body["expires_at"]
        return self


class KeystoneError(AssertionError):
    pass


class Keystone:
    """The test Keystone's v3 API, as its admin where needed."""

    def __init__(self, url=None, accounts_file=None):
        if url is None:
            url, accounts_file = keystone_environment()
        self.url = url.rstrip("/")  # .../v3
        self.accounts_file = accounts_file
        values = read_accounts(accounts_file) if accounts_file else {}
        self.passwords = {user: values.get(var) for user, (_, var) in ACCOUNTS.items()}
        self.base = self.url[:-3] if self.url.endswith("/v3") else self.url
        self.v3 = urllib.parse.urlsplit(self.url).path.rstrip("/") or "/v3"
        self._tokens = {}
        self._role_ids = {}

    # -- raw

    def request(self, method, path, token=None, body=None, headers=None, expect=None):
        resp = http_request(self.base, method, self.v3 + path, token=token, body=body,
                            headers={"Accept": "application/json", **(headers or {})},
                            timeout=60)
        if expect is not None and resp.status not in (
                expect if isinstance(expect, tuple) else (expect,)):
            raise KeystoneError(f"Keystone {method} {path}: expected {expect}, got {resp!r}")
        return resp

    # -- tokens

    def password_token(self, user, password=None, project=None, domain="Default",
                       project_domain="Default", base=None):
        """A project-scoped token obtained with a password (POST /v3/auth/tokens)."""
        if password is None:
            password = self.passwords[user]
        if project is None:
            project = ACCOUNTS[user][0]
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": domain}, "password": password}}},
            "scope": {"project": {"name": project, "domain": {"name": project_domain}}}}}
        resp = http_request(base or self.base, "POST", self.v3 + "/auth/tokens?nocatalog",
                            body=body, timeout=60)
        if resp.status != 201:
            raise KeystoneError(f"Keystone refused {user}'s password for {project}: {resp!r}")
        return Token(resp.headers["x-subject-token"], resp.json()["token"])

    def token(self, user):
        """A token of one of the shared accounts, reused for an hour's worth of tests."""
        if user not in self._tokens:
            self._tokens[user] = self.password_token(user)
        return self._tokens[user]

    @property
    def admin(self):
        return self.token("admin")

    def revoke(self, token):
        """DELETE /v3/auth/tokens as admin: the token is invalid from now on."""
        self.request("DELETE", "/auth/tokens", token=self.admin,
                     headers={"X-Subject-Token": str(token)}, expect=204)

    def validate(self, token, allow_expired=False):
        """The status Keystone answers when the service user validates token."""
        path = "/auth/tokens?nocatalog" + ("&allow_expired=1" if allow_expired else "")
        return self.request("GET", path, token=self.token(SERVICE_USER),
                            headers={"X-Subject-Token": str(token)}).status

    def app_credential_token(self, user_token, lifetime):
        """A token from a new application credential of user_token's user that expires in
        `lifetime` seconds (Keystone caps the token's expiry at the credential's, CVE-2022-2447).
        Returns (token, delete), delete() removing the credential (and so its tokens)."""
        expires = (datetime.datetime.now(datetime.timezone.utc)
                   + datetime.timedelta(seconds=lifetime)).strftime("%Y-%m-%dT%H:%M:%S.%f")
        path = f"/users/{user_token.user_id}/application_credentials"
        # The roles are named (those the token had when issued): under parallel load the
        # shared Keystone (one process, threads, an in-memory cache) was once seen to
        # derive a role the user does not have from the token and refuse the credential
        # (400 "Could not find role assignment"); one retry covers that too.
        body = {"application_credential": {"name": f"gaze-e2e-{secrets.token_hex(6)}",
                                           "expires_at": expires,
                                           "roles": [{"name": r} for r in user_token.roles]}}
        resp = self.request("POST", path, token=user_token, body=body)
        if resp.status == 400:
            time.sleep(0.5)
            body["application_credential"]["name"] += "-again"
            resp = self.request("POST", path, token=user_token, body=body)
        if resp.status != 201:
            raise KeystoneError(f"Keystone refused an application credential: {resp!r}")
        created = resp.json()["application_credential"]
        resp = self.request("POST", "/auth/tokens?nocatalog", expect=201, body={"auth": {
            "identity": {"methods": ["application_credential"], "application_credential": {
                "id": created["id"], "secret": created["secret"]}}}})

        def delete():
            self.request("DELETE", f"{path}/{created['id']}", token=self.admin,
                         expect=(204, 404))
        return Token(resp.headers["x-subject-token"], resp.json()["token"]), delete

    # -- identities (admin)

    def role_id(self, name):
        if name not in self._role_ids:
            roles = self.request("GET", f"/roles?name={name}", token=self.admin,
                                 expect=200).json()["roles"]
            if not roles:
                raise KeystoneError(f"Keystone has no role {name}")
            self._role_ids[name] = roles[0]["id"]
        return self._role_ids[name]

    def project_id(self, name):
        projects = self.request("GET", f"/projects?name={name}", token=self.admin,
                                expect=200).json()["projects"]
        if len(projects) != 1:
            raise KeystoneError(f"Keystone has {len(projects)} projects named {name}")
        return projects[0]["id"]

    def user_id(self, name):
        users = self.request("GET", f"/users?name={name}", token=self.admin,
                             expect=200).json()["users"]
        if len(users) != 1:
            raise KeystoneError(f"Keystone has {len(users)} users named {name}")
        return users[0]["id"]

    def create_project(self, name):
        return self.request("POST", "/projects", token=self.admin, expect=201, body={
            "project": {"name": name, "domain_id": "default"}}).json()["project"]["id"]

    def delete_project(self, project_id):
        self.request("DELETE", f"/projects/{project_id}", token=self.admin, expect=(204, 404))

    def create_user(self, name, password, project_id=None):
        user = {"name": name, "password": password, "domain_id": "default"}
        if project_id:
            user["default_project_id"] = project_id
        return self.request("POST", "/users", token=self.admin, expect=201,
                            body={"user": user}).json()["user"]["id"]

    def delete_user(self, user_id):
        self.request("DELETE", f"/users/{user_id}", token=self.admin, expect=(204, 404))

    def set_user_enabled(self, user_id, enabled):
        self.request("PATCH", f"/users/{user_id}", token=self.admin, expect=200,
                     body={"user": {"enabled": enabled}})

    def assign_role(self, project_id, user_id, role):
        self.request("PUT", f"/projects/{project_id}/users/{user_id}/roles/{self.role_id(role)}",
                     token=self.admin, expect=204)

    # -- the catalog

    def image_service_id(self):
        services = self.request("GET", "/services?type=image", token=self.admin,
                                expect=200).json()["services"]
        if len(services) != 1:
            raise KeystoneError(f"the catalog has {len(services)} image services")
        return services[0]["id"]

    def image_endpoints(self):
        """{interface: url} of the image service's endpoints."""
        service = self.image_service_id()
        endpoints = self.request("GET", f"/endpoints?service_id={service}", token=self.admin,
                                 expect=200).json()["endpoints"]
        return {e["interface"]: e["url"] for e in endpoints}

    def set_image_endpoint(self, url, region="RegionOne"):
        """Points the image service's public, internal and admin endpoints at url."""
        service = self.image_service_id()
        endpoints = self.request("GET", f"/endpoints?service_id={service}", token=self.admin,
                                 expect=200).json()["endpoints"]
        for endpoint in endpoints:
            self.request("DELETE", f"/endpoints/{endpoint['id']}", token=self.admin,
                         expect=(204, 404))
        for interface in ("public", "internal", "admin"):
            self.request("POST", "/endpoints", token=self.admin, expect=201, body={
                "endpoint": {"service_id": service, "interface": interface, "url": url,
                             "region_id": region}})


class Account:
    def __init__(self, name, password, user_id, project_name, project_id):
        self.name, self.password = name, password
        self.user_id, self.project_name, self.project_id = user_id, project_name, project_id

    def token(self, keystone):
        return keystone.password_token(self.name, self.password, self.project_name)


class Identities:
    """Projects and users a test creates in the shared Keystone; cleanup() deletes them."""

    def __init__(self, keystone, prefix="gaze-e2e"):
        self.keystone = keystone
        self.prefix = f"{prefix}-{secrets.token_hex(4)}"
        self.users, self.projects = [], []

    def project(self, label):
        name = f"{self.prefix}-{label}"
        project_id = self.keystone.create_project(name)
        self.projects.append(project_id)
        return name, project_id

    def account(self, label, role="member", project=None):
        """A new user with `role` in a new project (or in `project`, a (name, id) pair)."""
        project_name, project_id = project or self.project(label)
        name = f"{self.prefix}-{label}"
        password = secrets.token_hex(12)
        user_id = self.keystone.create_user(name, password, project_id)
        self.users.append(user_id)
        self.keystone.assign_role(project_id, user_id, role)
        return Account(name, password, user_id, project_name, project_id)

    def domain_account(self, label, role="member", domain_id="default"):
        """A new user with `role` on a domain (no project): it gets domain-scoped tokens."""
        name = f"{self.prefix}-{label}"
        password = secrets.token_hex(12)
        user_id = self.keystone.create_user(name, password)
        self.users.append(user_id)
        self.keystone.request(
            "PUT", f"/domains/{domain_id}/users/{user_id}/roles/{self.keystone.role_id(role)}",
            token=self.keystone.admin, expect=204)
        return Account(name, password, user_id, None, None)

    def cleanup(self):
        problems = []
        for delete, ids in ((self.keystone.delete_user, self.users),
                            (self.keystone.delete_project, self.projects)):
            for i in ids:
                try:
                    delete(i)
                except (AssertionError, OSError) as e:
                    problems.append(str(e))
        self.users, self.projects = [], []
        if problems:
            raise AssertionError("\n".join(problems))


class KeystoneGazeStack(GazeStack):
    """A GazeStack whose gateway authenticates callers with Keystone (`--auth keystone`, as
    the service user gaze). token(user) and project_id(name) answer for Keystone's shared
    accounts (admin, demo, demo-reader, alt), so the gaze_api helpers work unchanged.

    keystone_url: another Keystone to validate with (default the test Keystone);
    token_cache_seconds, token_cache_size, keystone_timeout_ms, trusted_proxies,
    public_url: the gateway flags of the same names (None = the binary's default)."""

    KEYSTONE_FLAGS = ("token_cache_seconds", "token_cache_size", "keystone_timeout_ms",
                      "trusted_proxies", "public_url")

    def __init__(self, keystone_url=None, **options):
        flags = {k: options.pop(k, None) for k in self.KEYSTONE_FLAGS}
        super().__init__(**options)
        self.keystone = Keystone()
        self.keystone_url = keystone_url or self.keystone.url
        self.keystone_flags = flags

    def gateway_auth_flags(self, keystone_url=None, **overrides):
        flags = ["--auth", "keystone", "--keystone_url", keystone_url or self.keystone_url,
                 "--keystone_user", SERVICE_USER, "--keystone_project", ACCOUNTS[SERVICE_USER][0]]
        for name, value in {**self.keystone_flags, **overrides}.items():
            if value is not None:
                flags += [f"--{name}", str(value)]
        return flags

    def gateway_env(self):
        # The password travels in the environment (GAZE_<FLAG>), not on the command line.
        return {"GAZE_KEYSTONE_PASSWORD": self.keystone.passwords[SERVICE_USER]}

    def token(self, user):
        return self.keystone.token(user)

    def project_id(self, name):
        if name in ACCOUNTS:
            return self.keystone.token(name).project_id
        return self.keystone.project_id(name)

    def extra_gateway(self, keystone_url=None, **overrides):
        """Starts another api-gateway on this stack's metadata-svc and data directory, with
        Keystone authentication against keystone_url and the flags in overrides; returns
        an ExtraGateway (stop() it)."""
        args = ["--api_listen", "127.0.0.1", "--api_port", "0",
                "--metadata_target", f"127.0.0.1:{self.grpc_port}", "--data_dir", self.data_dir,
                *self.gateway_auth_flags(keystone_url, **overrides)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAZE_")}
        env.update(self.gateway_env())
        name = f"api-gateway-{secrets.token_hex(3)}"
        service = Service(name, os.path.join(self.bin_dir, "api-gateway"),
                          os.path.join(self.dir, f"{name}.log"), env)
        service.start(args)
        gateway = ExtraGateway(service)
        try:
            listening = service.wait_for("its listening log line",
                                         lambda: service.logged("listening"))
            gateway.url = f"http://127.0.0.1:{int(listening['port'])}"
            service.wait_for("GET /readyz to answer 200", gateway.ready)
        except BaseException:
            gateway.stop()
            raise
        return gateway


class ExtraGateway:
    def __init__(self, service):
        self.service = service
        self.url = None

    def request(self, method, path, **kwargs):
        return http_request(self.url, method, path, **kwargs)

    def ready(self):
        try:
            return http_request(self.url, "GET", "/readyz", timeout=5).status == 200
        except OSError:
            return False

    def stop(self):
        status = self.service.terminate()
        if status != 0:
            raise AssertionError(f"{self.service.name} exited with {status} on SIGTERM\n"
                                 f"{self.service.tail()}")


class PrivateKeystone:
    """A second Keystone process on its own port, sharing the test Keystone's database and
    Fernet keys (so both accept each other's tokens), with its own log and cache and
    `[token] expiration` seconds of token life. A test may stop, freeze and restart it
    without disturbing the shared one. Starting it takes a few seconds (no bootstrap)."""

    def __init__(self, keystone, expiration=3600):
        self.shared = keystone
        conf = os.path.join(os.path.dirname(keystone.accounts_file or ""), "keystone.conf")
        if not os.path.isfile(conf) or not os.access(KEYSTONE_UWSGI, os.X_OK):
            message = (f"no Keystone configuration at {conf} (or no {KEYSTONE_UWSGI}): a "
                       "private Keystone needs the one deploy/dev/keystone.sh set up")
            if in_ci():
                raise RuntimeError(message)
            raise unittest.SkipTest(message)
        self.dir = tempfile.mkdtemp(prefix="gaze-e2e-keystone-")
        parser = configparser.RawConfigParser()
        parser.optionxform = str
        parser.read(conf)
        if not parser.has_section("token"):
            parser.add_section("token")
        parser.set("token", "expiration", str(expiration))
        parser.set("DEFAULT", "log_file", os.path.join(self.dir, "keystone.log"))
        self.conf = os.path.join(self.dir, "keystone.conf")
        with open(self.conf, "w") as f:
            parser.write(f)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v3"
        self.proc = None
        self.log_path = os.path.join(self.dir, "uwsgi.log")

    def start(self, timeout=120):
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("OS_")},
               "OS_KEYSTONE_CONFIG_FILES": self.conf}
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["setpriv", "--pdeathsig", "KILL", "--", KEYSTONE_UWSGI, "--master",
                 "--die-on-term", "--need-app", "--http-socket", f"127.0.0.1:{self.port}",
                 "--wsgi-file", KEYSTONE_APP, "--processes", "1", "--threads", "4",
                 "--enable-threads", "--lazy-apps", "--buffer-size", "65535",
                 "--add-header", "Connection: close", "--env",
                 f"OS_KEYSTONE_CONFIG_FILES={self.conf}"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env,
                start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"the private Keystone exited with {self.proc.returncode}"
                                     f"\n{self.tail()}")
            try:
                return http_request(self.url, "GET", "/v3", timeout=5).status == 200
            except OSError:
                return False
        try:
            wait_until(up, timeout, f"the private Keystone on port {self.port}", interval=0.2)
        except AssertionError:
            self.stop()
            raise
        return self

    def password_token(self, user):
        """A token of a shared account, issued by this Keystone (so with its expiration)."""
        return self.shared.password_token(user, base=self.url[:-3])

    def _signal_group(self, sig):
        try:
            os.killpg(self.proc.pid, sig)  # the session start_new_session made: ours only
        except ProcessLookupError:
            pass

    def freeze(self):
        """SIGSTOP: Keystone accepts connections (the kernel does) but never answers."""
        self._signal_group(signal.SIGSTOP)

    def thaw(self):
        self._signal_group(signal.SIGCONT)

    def stop(self):
        if self.proc is None:
            return
        self.thaw()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait(timeout=10)
        # uwsgi's worker may outlive its master for a moment; it is in our session.
        try:
            wait_until(lambda: not group_members(self.proc.pid), 10,
                       "the private Keystone's processes to exit", interval=0.1)
        except AssertionError:
            self._signal_group(signal.SIGKILL)
        self.proc = None

    def cleanup(self):
        self.stop()
        subprocess.run(["rm", "-rf", self.dir], check=False)

    def tail(self, lines=30):
        out = []
        for path in (self.log_path, os.path.join(self.dir, "keystone.log")):
            try:
                with open(path, "rb") as f:
                    out += [f"----- {path} -----"] + f.read().decode(
                        errors="replace").splitlines()[-lines:]
            except OSError:
                pass
        return "\n".join(out)
