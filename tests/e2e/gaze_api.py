"""Helpers the issue-4 end-to-end modules share: raw HTTP calls as any user of the stack,
Glance-shaped error checks, image fixtures, the OpenStack clients, and uploads held open
mid-body (for quota and state races).

Users (gaze_stack.USERS): admin (project admin, admin role), demo and demo2 (members of
demo), reader (reader only, in demo), alt (member of alt), alt_reader (reader only, in alt),
third and other (members of their own projects)."""

import datetime
import http.client
import json
import os
import re
import select
import socket
import urllib.parse

import glanceclient
import openstack
import openstack.exceptions

from gaze_stack import StackTestCase, wait_until

PATCH_21 = "application/openstack-images-v2.1-json-patch"
PATCH_20 = "application/openstack-images-v2.0-json-patch"
JSON = {"Accept": "application/json"}
HTML = {"Accept": "*/*"}
# The three ways error bodies are negotiated (see test_bad_input.py): JSON, HTML for */*
# (what glanceclient and openstacksdk send), text/plain without an Accept header.
ACCEPTS = (JSON, HTML, {})
MiB = 1024 * 1024
REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# webob's status titles (Glance's error bodies come from webob).
TITLES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
          405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
          413: "Request Entity Too Large", 415: "Unsupported Media Type",
          501: "Not Implemented"}
MEMBER_KEYS = {"member_id", "image_id", "status", "created_at", "updated_at", "schema"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def query_string(params):
    """params: a str (used as is), a dict or a list of pairs (url-encoded)."""
    if params is None:
        return ""
    if isinstance(params, str):
        return params
    return urllib.parse.urlencode(params)


def parse_link(link):
    """(path, {name: [values]}) of a relative link such as /v2/images?limit=2&marker=x."""
    parts = urllib.parse.urlsplit(link)
    return parts.path, urllib.parse.parse_qs(parts.query, keep_blank_values=True)


class ApiTestCase(StackTestCase):
    """StackTestCase plus the calls the issue-4 modules make. Every helper that expects
    success asserts the status; `expect_error` asserts a Glance-shaped error."""

    maxDiff = None

    # -- raw HTTP

    def call(self, method, path, user="demo", token=None, **kwargs):
        if token is None and user is not None:
            token = self.stack.token(user)
        resp = self.stack.request(method, path, token=token, **kwargs)
        if resp.status not in (300, 401) and path.startswith("/v2"):
            self.assertRegex(resp.headers.get("x-openstack-request-id", ""), REQUEST_ID,
                             f"{method} {path} -> {resp.status}: no x-openstack-request-id")
        return resp

    def assert_error(self, resp, status, accept=JSON, what=""):
        """resp is status with webob's error body for the Accept header that was sent."""
        self.assertEqual(resp.status, status, f"{what}: {resp!r}")
        code = f"{status} {TITLES[status]}"
        content_type = resp.headers.get("content-type", "")
        what = f"{what} (Accept: {accept.get('Accept', 'none')})"
        if accept.get("Accept") == "application/json":
            self.assertTrue(content_type.startswith("application/json"),
                            f"{what}: {content_type}")
            body = resp.json()
            self.assertEqual(set(body), {"message", "code", "title"}, f"{what}: {body}")
            self.assertEqual((body["code"], body["title"]), (code, TITLES[status]), what)
            self.assertIsInstance(body["message"], str, what)
        elif accept:
            self.assertTrue(content_type.startswith("text/html"), f"{what}: {content_type}")
            html = resp.body.decode()
            self.assertRegex(html, rf"<title>\s*{code}\s*</title>", what)
            self.assertRegex(html, rf"<h1>\s*{code}\s*</h1>", what)
        else:
            self.assertTrue(content_type.startswith("text/plain"), f"{what}: {content_type}")
            self.assertTrue(resp.body.decode().startswith(f"{code}\n\n"),
                            f"{what}: {resp.body!r}")

    def expect_error(self, method, path, status, user="demo", accept=JSON, what=None,
                     headers=None, **kwargs):
        """Sends the request and asserts a Glance-shaped `status` error; returns the response."""
        resp = self.call(method, path, user=user, headers={**accept, **(headers or {})},
                         **kwargs)
        self.assert_error(resp, status, accept, what or f"{user}: {method} {path}")
        return resp

    def expect(self, method, path, status, user="demo", what=None, **kwargs):
        resp = self.call(method, path, user=user, **kwargs)
        self.assertEqual(resp.status, status, f"{what or f'{user}: {method} {path}'}: {resp!r}")
        return resp

    # -- images

    def create(self, user="demo", expect=201, **attrs):
        body = {"name": "e2e", "disk_format": "raw", "container_format": "bare", **attrs}
        resp = self.call("POST", "/v2/images", user=user, body=body, headers=JSON)
        self.assertEqual(resp.status, expect, f"{user} creates {body}: {resp!r}")
        return resp.json() if expect == 201 else resp

    def upload(self, image_id, data=b"gaze-e2e-bytes", user="demo", expect=204, headers=None):
        resp = self.call("PUT", f"/v2/images/{image_id}/file", user=user, body=data,
                         headers={"Content-Type": "application/octet-stream", **JSON,
                                  **(headers or {})})
        self.assertEqual(resp.status, expect, f"{user} uploads to {image_id}: {resp!r}")
        return resp

    def create_active(self, user="demo", data=b"gaze-e2e-bytes", **attrs):
        image = self.create(user=user, **attrs)
        self.upload(image["id"], data, user=user)
        image = self.show(image["id"], user="admin")
        self.assertEqual(image["status"], "active", image)
        return image

    def show(self, image_id, user="admin"):
        resp = self.call("GET", f"/v2/images/{image_id}", user=user, headers=JSON)
        self.assertEqual(resp.status, 200, f"{user} shows {image_id}: {resp!r}")
        return resp.json()

    def patch(self, image_id, ops, user="demo", media=PATCH_21, expect=200):
        resp = self.call("PATCH", f"/v2/images/{image_id}", user=user, body=ops,
                         headers={"Content-Type": media, **JSON})
        if expect >= 400:
            self.assert_error(resp, expect, JSON, f"{user} patches {image_id} with {ops}")
        else:
            self.assertEqual(resp.status, expect, f"{user} patches {image_id} with {ops}: {resp!r}")
        return resp.json() if resp.status == 200 else resp

    def set_attrs(self, image_id, user="demo", **attrs):
        return self.patch(image_id, [{"op": "replace", "path": f"/{k}", "value": v}
                                     for k, v in attrs.items()], user=user)

    def delete(self, image_id, user="demo"):
        self.expect("DELETE", f"/v2/images/{image_id}", 204, user=user)

    def list_page(self, params=None, user="demo", path="/v2/images"):
        query = query_string(params)
        resp = self.call("GET", f"{path}?{query}" if query else path, user=user, headers=JSON)
        self.assertEqual(resp.status, 200, f"{user}: GET {path}?{query}: {resp!r}")
        return resp.json()

    def list_ids(self, params=None, user="demo"):
        """Ids of every image of the list, following next links, in order."""
        body = self.list_page(params, user=user)
        ids = [i["id"] for i in body["images"]]
        pages = 1
        while "next" in body:
            pages += 1
            self.assertLess(pages, 200, "too many pages")
            resp = self.call("GET", body["next"], user=user, headers=JSON)
            self.assertEqual(resp.status, 200, f"following {body['next']}: {resp!r}")
            body = resp.json()
            ids += [i["id"] for i in body["images"]]
        return ids

    def list_set(self, params=None, user="demo"):
        ids = self.list_ids(params, user=user)
        self.assertEqual(len(ids), len(set(ids)), f"duplicates in the list {params}: {ids}")
        return set(ids)

    def download(self, image_id, user="demo", expect=200):
        resp = self.call("GET", f"/v2/images/{image_id}/file", user=user, headers=JSON)
        self.assertEqual(resp.status, expect, f"{user} downloads {image_id}: {resp!r}")
        return resp.body

    # -- members

    def add_member(self, image_id, member, user="demo"):
        resp = self.call("POST", f"/v2/images/{image_id}/members", user=user,
                         body={"member": member}, headers=JSON)
        self.assertEqual(resp.status, 200, f"{user} adds member {member}: {resp!r}")
        return resp.json()

    def set_member_status(self, image_id, member, status, user=None):
        """As the member itself unless user is given (member is a user/project name)."""
        resp = self.call("PUT", f"/v2/images/{image_id}/members/{self.pid(member)}",
                         user=user or member, body={"status": status}, headers=JSON)
        self.assertEqual(resp.status, 200, f"{user or member} sets {status}: {resp!r}")
        return resp.json()

    def members(self, image_id, user="admin"):
        resp = self.call("GET", f"/v2/images/{image_id}/members", user=user, headers=JSON)
        self.assertEqual(resp.status, 200, f"{user} lists members of {image_id}: {resp!r}")
        return sorted((m["member_id"], m["status"]) for m in resp.json()["members"])

    def assert_member(self, member, image_id, member_id, status):
        self.assertEqual(set(member), MEMBER_KEYS, member)
        self.assertEqual((member["image_id"], member["member_id"], member["status"],
                          member["schema"]), (image_id, member_id, status, "/v2/schemas/member"))
        for key in ("created_at", "updated_at"):
            self.assertRegex(member[key], TIMESTAMP, member)

    # -- state, for "nothing changed" checks

    def state(self, image_id):
        """Everything an admin can read about an image: its JSON (including updated_at),
        its members when it is shared, and the names of its files in the store."""
        resp = self.call("GET", f"/v2/images/{image_id}", user="admin", headers=JSON)
        if resp.status == 404:
            return ("gone", self.stack.files_of(image_id))
        self.assertEqual(resp.status, 200, resp)
        image = resp.json()
        members = self.members(image_id) if image["visibility"] == "shared" else None
        return image, members, self.stack.files_of(image_id)

    def pid(self, name):
        return self.stack.project_id(name)

    # -- clients

    def glance(self, user="demo"):
        return glanceclient.Client("2", endpoint=self.stack.url, token=self.stack.token(user))

    def sdk(self, user="demo"):
        return openstack.connection.Connection(
            auth_type="admin_token",
            auth={"endpoint": f"{self.stack.url}/v2", "token": self.stack.token(user)},
            image_api_version="2")

    def assert_sdk_error(self, code, fn, /, *args, **kwargs):
        """fn(*args, **kwargs) raises openstacksdk's HttpException with HTTP status code."""
        with self.assertRaises(openstack.exceptions.HttpException) as ctx:
            fn(*args, **kwargs)
        self.assertEqual(ctx.exception.status_code, code, repr(ctx.exception))
        return ctx.exception


class HeldUpload:
    """PUT /v2/images/{id}/file over a raw socket, sent in two steps so that a test can hold
    the upload open mid-body (the image in `saving`) and finish it when it chooses.

    start() sends the headers and the first `first` bytes; responded() says whether the
    server already answered (it may refuse before reading the body); finish() sends the
    rest and returns (status, body)."""

    def __init__(self, url, image_id, token, total, first, chunked=False):
        parts = urllib.parse.urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.total, self.first, self.chunked = total, first, chunked
        framing = ("Transfer-Encoding: chunked\r\n" if chunked
                   else f"Content-Length: {total}\r\n")
        self.head = (f"PUT /v2/images/{image_id}/file HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     f"X-Auth-Token: {token}\r\nAccept: application/json\r\n"
                     f"Content-Type: application/octet-stream\r\n{framing}\r\n").encode()
        self.sock = None
        self.result = None

    def _send(self, size):
        block = 64 * 1024
        while size > 0:
            n = min(block, size)
            data = os.urandom(n)
            self.sock.sendall(b"%x\r\n%s\r\n" % (n, data) if self.chunked else data)
            size -= n

    def start(self):
        self.sock = socket.create_connection(self.address, timeout=60)
        self.sock.sendall(self.head)
        self._send(self.first)
        return self

    def responded(self):
        return bool(select.select([self.sock], [], [], 0)[0])

    def finish(self):
        if self.result is not None:
            return self.result
        try:
            if not self.responded():
                self._send(self.total - self.first)
                if self.chunked:
                    self.sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early and closed; read its answer
        resp = http.client.HTTPResponse(self.sock, method="PUT")
        resp.begin()
        body = resp.read()
        self.sock.close()
        self.result = (resp.status, body)
        return self.result

    def close(self):
        if self.sock is not None:
            self.sock.close()


def wait_for_status(test, image_id, statuses, timeout=30, also=None):
    """Polls the image (as admin) until its status is in statuses or also() is true."""
    def check():
        if also is not None and also():
            return True
        return test.show(image_id)["status"] in statuses
    wait_until(check, timeout, f"image {image_id} to reach {statuses}")


def wait_next_second(timestamp):
    """Waits (polling the clock) until a whole second has passed since an API timestamp,
    so that any later write shows in updated_at and a "nothing changed" check means it."""
    since = datetime.datetime.strptime(timestamp, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    wait_until(lambda: datetime.datetime.now(datetime.timezone.utc)
               >= since + datetime.timedelta(seconds=1.02), 5, "the clock to move on")


def dump(value):
    return json.dumps(value, indent=1, sort_keys=True)
