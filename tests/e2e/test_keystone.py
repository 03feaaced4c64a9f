"""Keystone authentication (issue 5, keystone.md, glance-api-v2.md §2, §15): the unmodified
clients with ordinary password credentials, finding Gaze through Keystone's catalog
(`openstack --os-auth-url … image …`, openstacksdk `connect()`, glanceclient on a
keystoneauth session); revocation within the token cache's TTL; the 401 that names
Keystone; X-Service-Token and expired tokens (allow_expired); Keystone down or hung → 503
for uncached tokens while cached ones keep working; application-credential tokens; fuzzing
of the token headers and the token cache; client-supplied identity headers ignored; and
X-Forwarded-* honoured from trusted proxies only.

Only this module changes the catalog's image endpoint (ctest runs modules in parallel); it
points it back at http://127.0.0.1:1 when done."""

import concurrent.futures
import http.client
import io
import json
import os
import secrets
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import glanceclient
import glanceclient.exc
import openstack
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3 as ks_v3

from gaze_api import ApiTestCase, JSON, PATCH_21
from gaze_keystone import (SERVICE_USER, UNREACHABLE_ENDPOINT, Identities,
                           KeystoneGazeStack, PrivateKeystone, free_port)
from gaze_stack import Response, digest_file, make_random_file, wait_until

REVOCATION_DEADLINE = 15.0  # seconds a revoked token may still work (cache TTL 1 s + slack)


def raw_request(url, lines, timeout=30):
    """Sends a GET built from raw lines (bytes or str, without CRLF; lines[0] is the request
    line; Host and Connection: close are added) and returns its Response, or None when the
    server closed the connection without answering."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.connect()
        encoded = [line if isinstance(line, bytes) else line.encode() for line in lines]
        head = [encoded[0], f"Host: {parts.netloc}".encode(), b"Connection: close", *encoded[1:]]
        conn.sock.sendall(b"\r\n".join(head) + b"\r\n\r\n")
        resp = http.client.HTTPResponse(conn.sock, method="GET")
        try:
            resp.begin()
        except (http.client.RemoteDisconnected, ConnectionResetError):
            return None
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def request_from(url, method, path, source, headers=None, body=None):
    """A request sent from a chosen loopback source address (127.0.0.2 is not 127.0.0.1)."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30,
                                      source_address=(source, 0))
    try:
        data = json.dumps(body).encode() if body is not None else None
        all_headers = dict(headers or {})
        if data is not None:
            all_headers.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=all_headers)
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def assert_unavailable(test, resp, what):
    """503 with webob's JSON body (the request asked for JSON)."""
    test.assertEqual(resp.status, 503, f"{what}: {resp!r}")
    body = resp.json()
    test.assertEqual((body.get("code"), body.get("title")),
                     ("503 Service Unavailable", "Service Unavailable"), f"{what}: {body}")


class KeystoneTestCase(ApiTestCase):
    stack_class = KeystoneGazeStack

    @property
    def keystone(self):
        return self.stack.keystone

    def assert_unauthorized(self, resp, what):
        self.assertEqual(resp.status, 401, f"{what}: {resp!r}")
        self.assertEqual(resp.headers.get("www-authenticate"),
                         f'Keystone uri="{self.stack.keystone_url}"', f"{what}: {resp.headers}")


# --- the clients, through the catalog ----------------------------------------------------


class CatalogClientsTest(KeystoneTestCase):
    """openstack CLI, openstacksdk and glanceclient with demo's password: each gets a token
    from Keystone and Gaze's URL from the catalog (no endpoint given)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.stack.keystone.set_image_endpoint(cls.stack.url)
        except BaseException:
            cls.stack.stop(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.stack.keystone.set_image_endpoint(UNREACHABLE_ENDPOINT)
        finally:
            super().tearDownClass()

    def setUp(self):
        super().setUp()
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.tmp = tmp.name
        self.password = self.keystone.passwords["demo"]

    def test_catalog_names_the_stack(self):
        resp = self.keystone.request(
            "POST", "/auth/tokens", expect=201, body={"auth": {"identity": {
                "methods": ["password"], "password": {"user": {
                    "name": "demo", "domain": {"name": "Default"}, "password": self.password}}},
                "scope": {"project": {"name": "demo", "domain": {"name": "Default"}}}}})
        image = [s for s in resp.json()["token"]["catalog"] if s["type"] == "image"]
        self.assertEqual(len(image), 1, resp.json()["token"]["catalog"])
        self.assertEqual(sorted((e["interface"], e["url"], e["region"])
                                for e in image[0]["endpoints"]),
                         [(i, self.stack.url, "RegionOne")
                          for i in ("admin", "internal", "public")])

    def openstack(self, *args, expect_status=0):
        # No OS_* from the environment and a fresh HOME (no clouds.yaml).
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env["HOME"] = self.tmp
        argv = ["/usr/bin/openstack", "--os-auth-url", self.keystone.url,
                "--os-username", "demo", "--os-password", self.password,
                "--os-project-name", "demo", "--os-user-domain-name", "Default",
                "--os-project-domain-name", "Default", *args]
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120,
                              cwd=self.tmp)
        self.assertEqual(proc.returncode, expect_status,
                         f"openstack {' '.join(args)}\nstdout:\n{proc.stdout}\n"
                         f"stderr:\n{proc.stderr}")
        return proc

    def test_openstack_cli_with_password(self):
        size = 1024 * 1024 + 3
        md5, sha512 = make_random_file(os.path.join(self.tmp, "disk.img"), size)
        name = f"ks-cli-{secrets.token_hex(3)}"
        created = json.loads(self.openstack(
            "image", "create", "--file", "disk.img", "--disk-format", "raw",
            "--container-format", "bare", name, "-f", "json").stdout)
        image_id = created["id"]
        self.assertEqual(created["owner"], self.pid("demo"))

        listed = json.loads(self.openstack("image", "list", "-f", "json").stdout)
        self.assertIn((image_id, name, "active"),
                      [(i["ID"], i["Name"], i["Status"]) for i in listed])
        shown = json.loads(self.openstack("image", "show", image_id, "-f", "json").stdout)
        self.assertEqual((shown["status"], shown["size"], shown["checksum"], shown["owner"]),
                         ("active", size, md5, self.pid("demo")))
        self.openstack("image", "save", "--file", "out.img", image_id)
        self.assertEqual(digest_file(os.path.join(self.tmp, "out.img")), (size, md5, sha512))
        self.openstack("image", "set", "--name", f"{name}-2", "--property", "os_distro=debian",
                       image_id)
        image = self.show(image_id, user="admin")
        self.assertEqual((image["name"], image.get("os_distro")), (f"{name}-2", "debian"))
        # alt (another project) does not see demo's image through the same route.
        self.expect_error("GET", f"/v2/images/{image_id}", 404, user="alt")
        self.openstack("image", "delete", image_id)
        self.expect_error("GET", f"/v2/images/{image_id}", 404, user="admin")
        self.stack.wait_no_files(image_id)

    def test_openstacksdk_connect(self):
        conn = openstack.connect(
            auth_url=self.keystone.url, username="demo", password=self.password,
            project_name="demo", user_domain_name="Default", project_domain_name="Default",
            region_name="RegionOne", load_yaml_config=False, load_envvars=False)
        self.addCleanup(conn.close)
        self.assertEqual(conn.image.get_endpoint().rstrip("/").rsplit("/v2", 1)[0],
                         self.stack.url)
        path = os.path.join(self.tmp, "disk.img")
        md5, sha512 = make_random_file(path, 2 * 1024 * 1024 + 1)
        with open(path, "rb") as f:
            image = conn.image.create_image(f"ks-sdk-{secrets.token_hex(3)}", data=f,
                                            disk_format="raw", container_format="bare",
                                            md5=md5, allow_duplicates=True)
        shown = conn.image.get_image(image.id)
        self.assertEqual((shown.status, shown.checksum, shown.owner_id),
                         ("active", md5, self.pid("demo")))
        out = os.path.join(self.tmp, "out.img")
        conn.image.download_image(image, output=out)
        self.assertEqual(digest_file(out), (2 * 1024 * 1024 + 1, md5, sha512))
        self.assertIn(image.id, [i.id for i in conn.image.images()])
        conn.image.delete_image(image, ignore_missing=False)
        with self.assertRaises(openstack.exceptions.ResourceNotFound):
            conn.image.get_image(image.id)

    def test_glanceclient_with_keystoneauth_session(self):
        auth = ks_v3.Password(auth_url=self.keystone.url, username="demo",
                              password=self.password, project_name="demo",
                              user_domain_name="Default", project_domain_name="Default")
        client = glanceclient.Client("2", session=ks_session.Session(auth=auth))
        data = os.urandom(300_000)
        image = client.images.create(name=f"ks-glance-{secrets.token_hex(3)}",
                                     disk_format="raw", container_format="bare")
        self.assertEqual(image.owner, self.pid("demo"))
        client.images.upload(image.id, io.BytesIO(data))
        self.assertEqual(b"".join(client.images.data(image.id)), data)
        self.assertIn(image.id, [i.id for i in client.images.list()])
        client.images.update(image.id, os_distro="debian")
        self.assertEqual(client.images.get(image.id).os_distro, "debian")
        # demo-reader reads through the same catalog but may not change anything.
        reader = glanceclient.Client("2", session=ks_session.Session(auth=ks_v3.Password(
            auth_url=self.keystone.url, username="demo-reader",
            password=self.keystone.passwords["demo-reader"], project_name="demo",
            user_domain_name="Default", project_domain_name="Default")))
        self.assertEqual(reader.images.get(image.id).id, image.id)
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            reader.images.delete(image.id)
        client.images.delete(image.id)
        with self.assertRaises(glanceclient.exc.HTTPNotFound):
            client.images.get(image.id)


# --- tokens --------------------------------------------------------------------------------


class TokenValidationTest(KeystoneTestCase):
    """A gateway that trusts a validated token for 1 s, keeps 64 of them, and takes
    X-Forwarded-* from 127.0.0.2 only."""

    stack_options = {"token_cache_seconds": 1, "token_cache_size": 64,
                     "trusted_proxies": "127.0.0.2/32"}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.identities = Identities(cls.stack.keystone, "gaze-e2e-ks")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.identities.cleanup()
        finally:
            super().tearDownClass()

    def list_status(self, token, **headers):
        return self.stack.request("GET", "/v2/images", token=token,
                                  headers={**JSON, **headers}).status

    def wait_refused(self, token, what):
        """Polls until the gateway answers 401 for token (within REVOCATION_DEADLINE), then
        checks that it keeps answering 401."""
        started = time.monotonic()
        wait_until(lambda: self.list_status(token) == 401, REVOCATION_DEADLINE,
                   f"the gateway to refuse {what}", interval=0.1)
        for _ in range(5):
            self.assertEqual(self.list_status(token), 401, what)
        return time.monotonic() - started

    def test_revoked_token_is_refused_within_the_cache_ttl(self):
        token = self.keystone.password_token("demo")
        self.assertEqual(self.list_status(token), 200)
        self.keystone.revoke(token)
        self.assertEqual(self.keystone.validate(token), 404)
        self.wait_refused(token, "a revoked token")
        self.assert_unauthorized(self.stack.request("GET", "/v2/images", token=token),
                                 "revoked token")
        # Other tokens of the same user are unaffected.
        self.assertEqual(self.list_status(self.keystone.password_token("demo")), 200)

    def test_keystone_changes_reach_the_gateway(self):
        # A disabled user's and a deleted project's tokens stop working once the cache
        # forgets them (Keystone revokes them).
        for change in ("disable the user", "delete the project"):
            account = self.identities.account(f"chg{len(change)}")
            token = account.token(self.keystone)
            resp = self.call("POST", "/v2/images", user=None, token=token, headers=JSON,
                             body={"name": f"{change} victim", "visibility": "private"})
            self.assertEqual(resp.status, 201, resp)
            image = resp.json()
            self.assertEqual(image["owner"], account.project_id)
            if change == "disable the user":
                self.keystone.set_user_enabled(account.user_id, False)
            else:
                self.keystone.delete_project(account.project_id)
            self.wait_refused(token, f"a token after we {change}")
            # The image stays, out of everyone's reach but the admin's.
            self.assertEqual(self.show(image["id"], user="admin")["owner"], account.project_id)
            self.expect_error("GET", f"/v2/images/{image['id']}", 404, user="alt")

    def test_unauthorized_names_keystone(self):
        for what, headers in (("no token", {}),
                              ("empty token", {"X-Auth-Token": ""}),
                              ("garbage token", {"X-Auth-Token": "not-a-token"}),
                              ("fernet-shaped token",
                               {"X-Auth-Token": "gAAAAA" + secrets.token_urlsafe(170)}),
                              ("empty X-Storage-Token", {"X-Storage-Token": ""})):
            for accept in (JSON, {"Accept": "*/*"}, {}):
                resp = self.stack.request("GET", "/v2/images", headers={**headers, **accept})
                self.assert_unauthorized(resp, what)
                self.assert_error(resp, 401, accept, what)
        # Version discovery needs no token, and ignores a bad one.
        for headers in ({}, {"X-Auth-Token": "not-a-token"}):
            self.assertEqual(self.stack.request("GET", "/", headers=headers).status, 300)
            self.assertEqual(self.stack.request("GET", "/versions", headers=headers).status, 200)

    def test_x_storage_token_and_header_case(self):
        token = self.keystone.token("demo")
        self.assertEqual(self.stack.request("GET", "/v2/images",
                                            headers={"X-Storage-Token": token}).status, 200)
        self.assertEqual(self.stack.request("GET", "/v2/images",
                                            headers={"x-auth-token": token}).status, 200)

    def test_identity_headers_from_the_client_are_ignored(self):
        # keystonemiddleware strips client copies of the identity headers; Gaze must not
        # take identity from anything but the validated token.
        alt_private = self.create(user="alt", visibility="private")["id"]
        spoofed = {"X-Identity-Status": "Confirmed", "X-Roles": "admin,member,reader",
                   "X-Role": "admin", "X-Project-Id": self.pid("alt"),
                   "X-Tenant-Id": self.pid("alt"), "X-Tenant": "alt",
                   "X-Project-Name": "alt", "X-User-Id": self.keystone.token("alt").user_id,
                   "X-Is-Admin-Project": "True", "X-Service-Roles": "service",
                   "X-Service-Identity-Status": "Confirmed", "OpenStack-System-Scope": "all"}
        self.expect_error("GET", f"/v2/images/{alt_private}", 404, headers=spoofed)
        resp = self.call("POST", "/v2/images", headers={**JSON, **spoofed},
                         body={"name": "spoof", "visibility": "public"})
        self.assert_error(resp, 403, JSON, "demo with spoofed admin headers publicizes")
        created = self.call("POST", "/v2/images", headers={**JSON, **spoofed},
                            body={"name": "spoof"})
        self.assertEqual(created.status, 201, created)
        self.assertEqual(created.json()["owner"], self.pid("demo"))
        self.assertNotIn(alt_private, self.list_set({"limit": 1000, "visibility": "all"}))
        # Without a token, the headers are worth nothing.
        resp = self.stack.request("GET", "/v2/images", headers={**JSON, **spoofed})
        self.assert_unauthorized(resp, "identity headers without a token")

    def scoped_token(self, user, scope, password=None):
        body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"name": "Default"},
            "password": password or self.keystone.passwords[user]}}}}}
        if scope is not None:
            body["auth"]["scope"] = scope
        return self.keystone.request("POST", "/auth/tokens?nocatalog", body=body,
                                     expect=201).headers["x-subject-token"]

    def test_tokens_without_a_project(self):
        # glance-api-v2.md §2 and §17.1: project-scoped tokens only; the defaults are
        # project-scoped rules with scope enforcement, so a system- or domain-scoped token
        # is refused (403) whatever its roles, and an unscoped one (no roles) may do
        # nothing. Above all, two unrelated users without a project must not share one.
        demo_private = self.create(visibility="private")["id"]
        before = self.list_set({"limit": 1000, "visibility": "all"}, user="admin")
        domain = {"domain": {"name": "Default"}}
        one, two = (self.identities.domain_account(f"dom-{n}") for n in ("one", "two"))
        callers = (("unscoped demo", self.scoped_token("demo", None)),
                   ("system-scoped admin",
                    self.scoped_token("admin", {"system": {"all": True}})),
                   ("domain-scoped member one", self.scoped_token(one.name, domain,
                                                                  one.password)),
                   ("domain-scoped member two", self.scoped_token(two.name, domain,
                                                                  two.password)))
        problems = []
        for what, token in callers:
            for method, path, body, expected in (
                    ("GET", "/v2/images", None, 403),
                    ("POST", "/v2/images", {"name": f"{what} private",
                                            "visibility": "private"}, 403),
                    ("POST", "/v2/images", {"name": f"{what} public", "visibility": "public"},
                     403),
                    ("GET", f"/v2/images/{demo_private}", None, (403, 404)),
                    ("PATCH", f"/v2/images/{demo_private}", [{"op": "add", "path": "/x",
                                                              "value": "y"}], (403, 404))):
                resp = self.stack.request(method, path, token=token, body=body,
                                          headers={**JSON, "Content-Type": PATCH_21}
                                          if method == "PATCH" else JSON)
                if resp.status not in (expected if isinstance(expected, tuple) else (expected,)):
                    problems.append(f"{what}: {method} {path} -> {resp.status}, expected "
                                    f"{expected}: {resp.body[:120]!r}")
        # Whatever got created: may domain-scoped user two reach user one's private image?
        tokens = dict(callers)
        after = self.list_set({"limit": 1000, "visibility": "all"}, user="admin")
        for image_id in after - before:
            image = self.show(image_id, user="admin")
            problems.append(f"created {image['name']!r} (owner {image['owner']!r})")
            if image["name"] == "domain-scoped member one private":
                base = f"/v2/images/{image_id}"
                for method, path in (("GET", base), ("GET", "/v2/images"), ("DELETE", base)):
                    resp = self.stack.request(method, path, headers=JSON,
                                              token=tokens["domain-scoped member two"])
                    if resp.status < 300 and (method != "GET" or image_id in resp.body.decode()):
                        problems.append(f"TENANT BOUNDARY: domain-scoped user two, unrelated to "
                                        f"user one: {method} {path} -> {resp.status}")
        if "x" in self.show(demo_private, user="admin"):
            problems.append("demo's private image was changed")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_service_token(self):
        demo = self.keystone.password_token("demo")
        service = self.keystone.token(SERVICE_USER)
        self.assertIn("service", service.roles)
        # A valid service token alongside a valid user token: the user's identity.
        own = self.create(visibility="private")["id"]
        resp = self.stack.request("GET", f"/v2/images/{own}", token=demo,
                                  headers={**JSON, "X-Service-Token": service})
        self.assertEqual(resp.status, 200, resp)
        # An invalid X-Service-Token, or one without a service role, spoils the request
        # (keystonemiddleware answers 401 for a bad service token).
        for what, bad in (("garbage", "not-a-token"), ("alt's token", self.keystone.token("alt")),
                          ("admin's token (admin implies no service role)",
                           self.keystone.token("admin"))):
            resp = self.stack.request("GET", "/v2/images", token=demo,
                                      headers={**JSON, "X-Service-Token": bad})
            self.assert_unauthorized(resp, f"X-Service-Token: {what}")
        # Revocation is final: Keystone refuses a revoked token even with allow_expired
        # (its revocation check runs inside the expiry window), so a service token does
        # not bring it back.
        revoked = self.keystone.password_token("demo")
        self.keystone.revoke(revoked)
        self.assertEqual((self.keystone.validate(revoked),
                          self.keystone.validate(revoked, allow_expired=True)), (404, 404))
        for headers in ({}, {"X-Service-Token": service}):
            self.assert_unauthorized(self.stack.request(
                "GET", "/v2/images", token=revoked, headers={**JSON, **headers}),
                f"revoked token with {headers or 'no service token'}")

    def test_application_credential_tokens(self):
        # A token from an application credential that expires is capped at the
        # credential's expiry, and Keystone writes that expiry without a time zone
        # ("2026-11-25T12:06:03.513044"); keystonemiddleware accepts it.
        demo = self.keystone.password_token("demo")
        token, delete = self.keystone.app_credential_token(demo, 8)
        self.addCleanup(delete)
        self.assertEqual(token.project_id, self.pid("demo"))
        self.assertEqual(self.keystone.validate(token), 200)
        own = self.create(visibility="private")["id"]
        resp = self.stack.request("GET", f"/v2/images/{own}", token=token, headers=JSON)
        self.assertEqual(resp.status, 200,
                         f"a valid application-credential token (expires_at "
                         f"{token.expires_at!r}): {resp!r}")
        # Once expired: refused alone, accepted with a service token (allow_expired).
        wait_until(lambda: self.keystone.validate(token) == 404, 30, "the token to expire",
                   interval=0.2)
        self.assertEqual(self.keystone.validate(token, allow_expired=True), 200)
        self.assert_unauthorized(self.stack.request("GET", f"/v2/images/{own}", token=token,
                                                    headers=JSON), "expired token")
        resp = self.stack.request("GET", f"/v2/images/{own}", token=token,
                                  headers={**JSON, "X-Service-Token":
                                           self.keystone.token(SERVICE_USER)})
        self.assertEqual(resp.status, 200, f"expired app-credential token + service token: "
                                           f"{resp!r}")

    # -- fuzzing

    def test_token_header_fuzzing(self):
        demo = str(self.keystone.token("demo"))
        url = self.stack.url
        request_line = "GET /v2/images HTTP/1.1"
        accept = "Accept: application/json"
        cases = [
            # (what, header lines, expected statuses)
            ("empty value", ["X-Auth-Token:"], {401}),
            ("blanks only", ["X-Auth-Token:    "], {401}),
            ("garbage", [f"X-Auth-Token: {secrets.token_urlsafe(40)}"], {401}),
            ("a token just over 8 KiB", [f"X-Auth-Token: {'a' * 8193}"], {401}),
            ("a 100 KB token", [f"X-Auth-Token: {'a' * 100_000}"], {431}),
            ("a 100 KB service token", [f"X-Auth-Token: {demo}",
                                        f"X-Service-Token: {'s' * 100_000}"], {431}),
            # A repeated token header is refused outright: a proxy reading the last one and
            # Gaze reading the first would otherwise see different callers.
            ("100 repeated garbage tokens",
             [f"X-Auth-Token: {secrets.token_hex(20)}" for _ in range(100)], {400}),
            ("3000 repeated headers (over 64 KiB)",
             [f"X-Auth-Token: {secrets.token_hex(20)}" for _ in range(3000)], {431}),
            ("garbage, then a valid token", ["X-Auth-Token: garbage", f"X-Auth-Token: {demo}"],
             {400}),
            ("a valid token, then garbage", [f"X-Auth-Token: {demo}", "X-Auth-Token: garbage"],
             {400}),
            ("a valid token twice", [f"X-Auth-Token: {demo}", f"X-Auth-Token: {demo}"], {400}),
            ("two service tokens", [f"X-Auth-Token: {demo}", "X-Service-Token: a",
                                    "X-Service-Token: b"], {400}),
            ("UTF-8", ["X-Auth-Token: t\u00f6k\u00e9n-\u2713".encode()], {400, 401}),
            ("Latin-1 bytes", [b"X-Auth-Token: \xff\xfe\xe9t\xe9"], {400, 401}),
            # Keystone's base64 decoding skips characters outside its alphabet, so it
            # accepts a valid token with junk appended, and so does Glance behind it.
            ("a valid token with a UTF-8 suffix", [f"X-Auth-Token: {demo}\u00e9".encode()],
             {200, 400, 401}),
            ("control characters", [b"X-Auth-Token: abc\x01\x02\x7fdef"], {400, 401}),
            ("a NUL byte", [b"X-Auth-Token: abc\x00def"], {400}),
            ("a NUL after a valid token", [f"X-Auth-Token: {demo}".encode() + b"\x00"], {400}),
            ("a bare CR", [b"X-Auth-Token: abc\rdef"], {400}),
            # RFC 9112 §5.2: reject, or replace the fold with a space (then not a token).
            ("an obsolete line folding", [f"X-Auth-Token: {demo}", " continued"], {400, 401}),
            ("no colon", ["X-Auth-Token"], {400}),
            ("blank header name", [f": {demo}"], {400}),
            ("space before the colon", [f"X-Auth-Token : {demo}"], {400}),
            ("a valid token with blanks around it", [f"X-Auth-Token: \t {demo} \t"], {200}),
        ]
        problems, seen = [], []
        for what, lines, expected in cases:
            resp = raw_request(url, [request_line, accept, *lines])
            status = resp.status if resp is not None else "no answer"
            seen.append(f"{status}  {what}")
            if status not in expected:
                problems.append(f"{what}: {status}, expected one of {sorted(expected)}"
                                f"{'' if resp is None else ' ' + repr(resp.body[:200])}")
            if resp is not None and resp.status == 401 and not resp.headers.get(
                    "www-authenticate", "").startswith("Keystone uri="):
                problems.append(f"{what}: 401 without WWW-Authenticate: {resp.headers}")
            if not self.stack.services["api-gateway"].running:
                problems.append(f"{what}: the gateway died")
                break
            # The next request is unaffected.
            if self.list_status(demo) != 200:
                problems.append(f"{what}: a valid request right after failed")
        print("\ntoken header fuzzing:\n  " + "\n  ".join(seen))
        self.assertEqual(problems, [], "\n".join(problems))
        self.assertTrue(self.stack._gateway_ready())

    def test_token_cache_under_mixed_concurrent_tokens(self):
        # Cache of 64 entries, 1 s TTL; 4 real users' tokens interleaved with 300 distinct
        # garbage tokens from 16 threads: every answer must be the right one for its token,
        # identities never mixed (demo sees its private image, the others get 404).
        demo_private = self.create(visibility="private")["id"]
        users = {"demo": 200, "demo-reader": 200, "alt": 404, "admin": 200}
        tokens = {u: self.keystone.token(u) for u in users}
        jobs = []
        for i in range(300):
            jobs.append(("garbage", f"gAAAAA{secrets.token_urlsafe(60)}", 401))
            user = list(users)[i % len(users)]
            jobs.append((user, tokens[user], users[user]))

        def run(job):
            who, token, expected = job
            resp = self.stack.request("GET", f"/v2/images/{demo_private}", token=token,
                                      headers=JSON)
            return who, resp.status, expected

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            results = list(pool.map(run, jobs))
        wrong = [r for r in results if r[1] != r[2]]
        self.assertEqual(wrong, [], f"{len(wrong)} of {len(results)} answers were wrong")

    # -- links

    def test_forwarded_headers_only_from_trusted_proxies(self):
        token = self.keystone.token("demo")
        forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "images.example:8443"}
        configured = self.stack.url

        def links(source, headers):
            """(Location of a new image minus its id, the version document's href, the
            /versions href), as seen from source."""
            created = request_from(self.stack.url, "POST", "/v2/images", source,
                                   headers={"X-Auth-Token": token, **JSON, **headers},
                                   body={"name": "links"})
            self.assertEqual(created.status, 201, created)
            image_id = created.json()["id"]
            location = created.headers.get("location", "")
            self.assertTrue(location.endswith(f"/v2/images/{image_id}"), location)
            hrefs = []
            for path, status in (("/", 300), ("/versions", 200)):
                resp = request_from(self.stack.url, "GET", path, source, headers=headers)
                self.assertEqual(resp.status, status, resp)
                found = {link["href"] for v in resp.json()["versions"] for link in v["links"]}
                self.assertEqual(len(found), 1, found)
                hrefs.append(found.pop())
            return location[:-len(f"/v2/images/{image_id}")], hrefs[0], hrefs[1]

        def same(base):
            return (base, f"{base}/v2/", f"{base}/v2/")

        # From 127.0.0.1 (not a trusted proxy) the headers change nothing.
        self.assertEqual(links("127.0.0.1", {}), same(configured))
        self.assertEqual(links("127.0.0.1", forwarded), same(configured))
        self.assertEqual(links("127.0.0.1", {"X-Forwarded-Host": "evil.example"}),
                         same(configured))
        # From 127.0.0.2 (trusted) they set the scheme and host of every link.
        self.assertEqual(links("127.0.0.2", {}), same(configured))
        self.assertEqual(links("127.0.0.2", forwarded), same("https://images.example:8443"))
        self.assertEqual(links("127.0.0.2", {"X-Forwarded-Host": "a.example, b.example"}),
                         same("http://a.example"))
        port_part = configured.split("://", 1)[1]
        self.assertEqual(links("127.0.0.2", {"X-Forwarded-Proto": "https"}),
                         same(f"https://{port_part}"))
        # Values that are not a plain scheme or host are ignored, each on its own.
        self.assertEqual(links("127.0.0.2", {"X-Forwarded-Proto": "javascript",
                                             "X-Forwarded-Host": "evil.example/x?"}),
                         same(configured))
        self.assertEqual(links("127.0.0.2", {"X-Forwarded-Proto": "https",
                                             "X-Forwarded-Host": "user@evil.example"}),
                         same(f"https://{port_part}"))


# --- a Keystone that stops, hangs, and issues short-lived tokens ---------------------------


class PrivateKeystoneTest(KeystoneTestCase):
    """Private Keystone processes (same database and keys as the shared one, so all three
    accept each other's tokens): one whose tokens live 8 s mints a short-lived token at
    set-up and stops; another (ordinary token life) is what extra gateways validate with,
    and the tests freeze, stop and restart it. The stack's own gateway validates with the
    shared Keystone."""

    TOKEN_LIFE = 8

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.private = None
        try:
            short = PrivateKeystone(cls.stack.keystone, expiration=cls.TOKEN_LIFE)
            try:
                # Minted now, so that it has expired by the time a test needs it expired.
                cls.short_lived = short.start().password_token("demo")
            finally:
                short.cleanup()
            cls.private = PrivateKeystone(cls.stack.keystone).start()
        except BaseException:
            if cls.private is not None:
                cls.private.cleanup()
            cls.stack.stop(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.private.cleanup()
        finally:
            super().tearDownClass()

    def run(self, result=None):
        result = result if result is not None else self.defaultTestResult()
        before = len(result.failures) + len(result.errors)
        super().run(result)
        if len(result.failures) + len(result.errors) > before:
            print(f"\nthe private Keystone's logs end with:\n{self.private.tail()}")
        return result

    def test_expired_token_needs_a_service_token(self):
        token = self.short_lived
        own = self.create(visibility="private")["id"]
        wait_until(lambda: self.keystone.validate(token) == 404, 60, "the token to expire",
                   interval=0.2)
        self.assertEqual(self.keystone.validate(token, allow_expired=True), 200)
        path = f"/v2/images/{own}"
        self.assert_unauthorized(self.stack.request("GET", path, token=token, headers=JSON),
                                 "expired token")
        service = self.keystone.token(SERVICE_USER)
        resp = self.stack.request("GET", path, token=token,
                                  headers={**JSON, "X-Service-Token": service})
        self.assertEqual(resp.status, 200, f"expired token + service token: {resp!r}")
        self.assertEqual(resp.json()["id"], own)
        # It acts as demo: demo's rules, not the service user's.
        resp = self.stack.request("POST", "/v2/images", token=token,
                                  headers={**JSON, "X-Service-Token": service},
                                  body={"name": "late", "visibility": "public"})
        self.assert_error(resp, 403, JSON, "expired demo token publicizes")
        resp = self.stack.request("POST", "/v2/images", token=token,
                                  headers={**JSON, "X-Service-Token": service},
                                  body={"name": "late"})
        self.assertEqual((resp.status, resp.json().get("owner")), (201, self.pid("demo")), resp)
        # Only a token with the service role opens that door.
        for what, bad in (("alt's token", self.keystone.token("alt")),
                          ("admin's token", self.keystone.token("admin")),
                          ("garbage", "garbage"), ("the expired token itself", token)):
            self.assert_unauthorized(self.stack.request(
                "GET", path, token=token, headers={**JSON, "X-Service-Token": bad}),
                f"expired token with X-Service-Token {what}")
        # The acceptance is not cached: alone it is still refused.
        self.assert_unauthorized(self.stack.request("GET", path, token=token, headers=JSON),
                                 "expired token again, alone")

    def wait_status(self, status, token, expected, what, timeout=30):
        seen = []
        wait_until(lambda: seen.append(status(token, what)) or seen[-1] == expected, timeout,
                   f"{what} to answer {expected} (answers so far: {seen})", interval=0.3)

    def test_keystone_down_or_hung(self):
        gateway = self.stack.extra_gateway(self.private.url, keystone_timeout_ms=1500)
        self.addCleanup(gateway.stop)
        cached = self.keystone.password_token("demo")
        fresh = [self.keystone.password_token("demo") for _ in range(3)]

        def status(token, what):
            resp = gateway.request("GET", "/v2/images", token=token, headers=JSON)
            if resp.status == 401:
                self.assertEqual(resp.headers.get("www-authenticate"),
                                 f'Keystone uri="{self.private.url}"', what)
            if resp.status == 503:
                assert_unavailable(self, resp, what)
            return resp.status

        self.assertEqual(status(cached, "cached token, Keystone up"), 200)
        # Frozen: connections are accepted but never answered.
        self.private.freeze()
        try:
            started = time.monotonic()
            self.assertEqual(status(fresh[0], "uncached token, Keystone hung"), 503)
            self.assertLess(time.monotonic() - started, 10, "the 503 took too long")
            self.assertEqual(status(cached, "cached token, Keystone hung"), 200)
            self.assertEqual(status("garbage", "garbage, Keystone hung"), 503)
            self.assertEqual(status(None, "no token, Keystone hung"), 401)
        finally:
            self.private.thaw()
        # Thawed, Keystone first works through what queued up meanwhile.
        self.wait_status(status, fresh[0], 200, "uncached token, Keystone thawed")
        # Stopped: connections are refused.
        self.private.stop()
        started = time.monotonic()
        self.assertEqual(status(fresh[1], "uncached token, Keystone down"), 503)
        self.assertLess(time.monotonic() - started, 5, "the 503 took too long")
        self.assertEqual(status(cached, "cached token, Keystone down"), 200)
        self.assertEqual(status(fresh[0], "token validated before, Keystone down"), 200)
        self.assertNotIn(status("x" * 200, "garbage, Keystone down"), (200, 204))
        # Back again: nothing was cached from the outage.
        self.private.start()
        self.wait_status(status, fresh[1], 200, "uncached token, Keystone restarted")
        self.assertEqual(status(fresh[2], "another token, Keystone restarted"), 200)
        self.assertTrue(gateway.service.running)

    def test_gateway_with_unreachable_keystone(self):
        # A gateway whose Keystone is a closed port starts, answers 401 without a token
        # and 503 for any token: never an open door.
        gateway = self.stack.extra_gateway(f"http://127.0.0.1:{free_port()}/v3",
                                           keystone_timeout_ms=1000)
        self.addCleanup(gateway.stop)
        self.assertEqual(gateway.request("GET", "/v2/images").status, 401)
        for token in (self.keystone.token("demo"), self.keystone.token("admin"), "garbage"):
            resp = gateway.request("GET", "/v2/images", token=token, headers=JSON)
            assert_unavailable(self, resp, f"list with {token[:8]}…")
            resp = gateway.request("POST", "/v2/images", token=token, headers=JSON,
                                   body={"name": "never"})
            assert_unavailable(self, resp, f"create with {token[:8]}…")
        self.assertEqual(gateway.request("GET", "/versions").status, 200)
        self.assertNotIn("never", {i["name"] for i in self.list_page(
            {"limit": 1000}, user="admin")["images"]})


if __name__ == "__main__":
    unittest.main()
