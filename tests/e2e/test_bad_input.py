"""Bad requests over raw HTTP: each gets the right status, headers and a Glance-shaped
error body for the Accept header sent (glance-api-v2.md §15), and changes nothing."""

import os
import re
import subprocess
import tempfile
import unittest

from gaze_stack import StackTestCase

CAP = 1024 * 1024  # the gateway's --image_size_cap for this stack
PATCH_21 = "application/openstack-images-v2.1-json-patch"
PATCH_20 = "application/openstack-images-v2.0-json-patch"
REQUEST_ID = re.compile(r"^req-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# webob's status titles (Glance's error bodies come from webob).
TITLES = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
          409: "Conflict", 413: "Request Entity Too Large", 415: "Unsupported Media Type",
          501: "Not Implemented"}
# Error bodies are negotiated like webob's (Glance's) on the Accept header: JSON when
# asked for; HTML for */* (what requests-based clients such as glanceclient and
# openstacksdk, and curl, send by default); text/plain when no Accept header is sent at
# all, because webob reads a missing header as an empty one, which accepts nothing.
ACCEPTS = ({"Accept": "application/json"}, {"Accept": "*/*"}, {})


def blocks(total, size=64 * 1024):
    """An iterable body of total bytes: http_request sends it chunked."""
    while total > 0:
        n = min(size, total)
        yield b"\xa5" * n
        total -= n


class BadInputTest(StackTestCase):
    stack_options = {"image_size_cap": CAP}

    # -- helpers

    def call(self, method, path, project="demo", **kwargs):
        kwargs.setdefault("token", self.stack.token(project))
        resp = self.stack.request(method, path, **kwargs)
        # Every /v2 response carries a request id, errors included; the 401 of the auth
        # layer does not in Glance (§2), so it is not required there.
        if resp.status != 401:
            self.assertRegex(resp.headers.get("x-openstack-request-id", ""), REQUEST_ID,
                             f"{method} {path} -> {resp.status}: no x-openstack-request-id")
        return resp

    def assert_error(self, resp, status, accept, what=""):
        self.assertEqual(resp.status, status, f"{what}: {resp!r}")
        code = f"{status} {TITLES[status]}"
        content_type = resp.headers.get("content-type", "")
        what = f"{what} (Accept: {accept.get('Accept', 'none')})"
        if accept.get("Accept") == "application/json":
            self.assertTrue(content_type.startswith("application/json"), f"{what}: {content_type}")
            body = resp.json()
            self.assertEqual(set(body), {"message", "code", "title"}, f"{what}: {body}")
            self.assertEqual((body["code"], body["title"]), (code, TITLES[status]), what)
            self.assertIsInstance(body["message"], str)
        elif accept:
            self.assertTrue(content_type.startswith("text/html"), f"{what}: {content_type}")
            html = resp.body.decode()
            self.assertRegex(html, rf"<title>\s*{code}\s*</title>", what)
            self.assertRegex(html, rf"<h1>\s*{code}\s*</h1>", what)
        else:
            self.assertTrue(content_type.startswith("text/plain"), f"{what}: {content_type}")
            self.assertTrue(resp.body.decode().startswith(f"{code}\n\n"), f"{what}: {resp.body!r}")

    def create_image(self, project="demo", **attrs):
        body = {"name": "e2e-bad-input", "disk_format": "raw", "container_format": "bare", **attrs}
        resp = self.call("POST", "/v2/images", project=project, body=body)
        self.assertEqual(resp.status, 201, resp)
        return resp.json()

    def upload(self, image_id, data, project="demo", expect=204):
        resp = self.call("PUT", f"/v2/images/{image_id}/file", project=project, body=data,
                         headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(resp.status, expect, resp)
        return resp

    def show(self, image_id, project="demo"):
        resp = self.call("GET", f"/v2/images/{image_id}", project=project)
        self.assertEqual(resp.status, 200, resp)
        return resp.json()

    def image_ids(self, project="admin"):
        resp = self.call("GET", "/v2/images?limit=1000", project=project)
        self.assertEqual(resp.status, 200, resp)
        return sorted(i["id"] for i in resp.json()["images"])

    def download(self, image_id, project="demo"):
        resp = self.call("GET", f"/v2/images/{image_id}/file", project=project)
        self.assertEqual(resp.status, 200, resp)
        return resp.body

    # -- tests

    def test_malformed_or_invalid_json_on_create_is_400(self):
        before = self.image_ids()
        for accept in ACCEPTS:
            for body, what in ((b'{"name": "broken", ', "malformed JSON"),
                               (b'{"name": "x", "disk_format": "floppy"}', "bad disk_format")):
                resp = self.call("POST", "/v2/images", body=body,
                                 headers={"Content-Type": "application/json", **accept})
                self.assert_error(resp, 400, accept, what)
        self.assertEqual(self.image_ids(), before)

    def test_patch_with_plain_json_media_type_is_415(self):
        image = self.show(self.create_image()["id"])
        patch = [{"op": "replace", "path": "/name", "value": "renamed"}]
        for accept in ACCEPTS:
            resp = self.call("PATCH", f"/v2/images/{image['id']}", body=patch,
                             headers={"Content-Type": "application/json", **accept})
            self.assert_error(resp, 415, accept, "PATCH application/json")
            offered = {t.strip() for t in resp.headers.get("accept-patch", "").split(",")}
            self.assertEqual(offered, {PATCH_20, PATCH_21}, resp.headers)
        self.assertEqual(self.show(image["id"]), image)
        # The same patch with the right media type does apply.
        resp = self.call("PATCH", f"/v2/images/{image['id']}", body=patch,
                         headers={"Content-Type": PATCH_21})
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(self.show(image["id"])["name"], "renamed")

    def test_unknown_or_missing_token_is_401(self):
        before = self.image_ids()
        for token in ("gaze-not-a-token", None):
            for accept in ACCEPTS:
                for method, path, body in (("GET", "/v2/images", None),
                                           ("POST", "/v2/images", {"name": "no-auth"})):
                    resp = self.call(method, path, token=token, body=body, headers=accept)
                    what = f"{method} {path} with token {token!r}"
                    self.assert_error(resp, 401, accept, what)
                    self.assertTrue(resp.headers.get("www-authenticate", "").startswith("Keystone uri="),
                                    f"{what}: {resp.headers}")
        self.assertEqual(self.image_ids(), before)

    def test_another_projects_private_image_is_404(self):
        data = os.urandom(4096)
        active = self.create_image(visibility="private")
        self.upload(active["id"], data)
        active = self.show(active["id"])
        self.assertEqual(active["status"], "active")
        queued = self.show(self.create_image(visibility="private")["id"])

        for image in (active, queued):
            base = f"/v2/images/{image['id']}"
            for accept in ACCEPTS:
                for method, path, body, ctype in (
                        ("GET", base, None, None),
                        ("PATCH", base, [{"op": "replace", "path": "/name", "value": "x"}],
                         PATCH_21),
                        ("DELETE", base, None, None),
                        ("PUT", base + "/file", b"intruder", "application/octet-stream"),
                        ("GET", base + "/file", None, None)):
                    headers = {**accept, **({"Content-Type": ctype} if ctype else {})}
                    resp = self.call(method, path, project="alt", body=body, headers=headers)
                    self.assert_error(resp, 404, accept, f"alt: {method} {path}")
            self.assertNotIn(image["id"], self.image_ids(project="alt"))
            # The owner and the admin still see it, unchanged.
            self.assertEqual(self.show(image["id"]), image)
            self.assertEqual(self.show(image["id"], project="admin"), image)
        self.assertEqual(self.download(active["id"]), data)
        self.assertEqual(self.stack.files_of(queued["id"]), [])

    def test_upload_over_image_size_cap_is_413(self):
        # A declared Content-Length over the cap, and a chunked body without one.
        for declared in (True, False):
            image = self.create_image()
            size = CAP + 1
            headers = {"Content-Type": "application/octet-stream", "Accept": "application/json"}
            if declared:
                headers["Content-Length"] = str(size)
            resp = self.call("PUT", f"/v2/images/{image['id']}/file", body=blocks(size),
                             headers=headers)
            what = f"upload of {size} bytes over a cap of {CAP}, Content-Length: {declared}"
            self.assert_error(resp, 413, {"Accept": "application/json"}, what)
            after = self.show(image["id"])
            self.assertEqual((after["status"], after["size"], after["checksum"]),
                             ("queued", None, None), what)
            self.stack.wait_no_files(image["id"], timeout=10)
        # Exactly the cap is allowed.
        image = self.create_image()
        self.upload(image["id"], blocks(CAP))
        after = self.show(image["id"])
        self.assertEqual((after["status"], after["size"]), ("active", CAP))

    def test_upload_to_active_image_is_409(self):
        data = os.urandom(10000)
        image = self.create_image()
        self.upload(image["id"], data)
        image = self.show(image["id"])
        files = self.stack.files_of(image["id"])
        for accept in ACCEPTS:
            resp = self.call("PUT", f"/v2/images/{image['id']}/file", body=b"other bytes",
                             headers={"Content-Type": "application/octet-stream", **accept})
            self.assert_error(resp, 409, accept, "upload to an active image")
        self.assertEqual(self.show(image["id"]), image)
        self.assertEqual(self.download(image["id"]), data)
        self.assertEqual(self.stack.files_of(image["id"]), files)

    def test_tags_subresource(self):
        image = self.create_image()
        base = f"/v2/images/{image['id']}/tags"
        for _ in range(2):  # adding a tag twice is not an error
            self.assertEqual(self.call("PUT", f"{base}/lts").status, 204)
        self.assertEqual(self.show(image["id"])["tags"], ["lts"])
        resp = self.call("PUT", f"{base}/{'x' * 256}", headers={"Accept": "application/json"})
        self.assert_error(resp, 400, {"Accept": "application/json"}, "tag over 255 characters")
        resp = self.call("PUT", f"{base}/intruder", project="alt",
                         headers={"Accept": "application/json"})
        self.assert_error(resp, 404, {"Accept": "application/json"}, "alt tags demo's image")
        self.assertEqual(self.call("DELETE", f"{base}/lts").status, 204)
        resp = self.call("DELETE", f"{base}/lts", headers={"Accept": "application/json"})
        self.assert_error(resp, 404, {"Accept": "application/json"}, "deleting a missing tag")
        self.assertEqual(self.show(image["id"])["tags"], [])

    def test_routes_not_built_yet_answer_501(self):
        image = self.create_image()
        before = self.show(image["id"])
        base = f"/v2/images/{image['id']}"
        accept = {"Accept": "application/json"}
        for method, path, body in (("POST", "/v2/tasks", {"type": "import", "input": {}}),
                                   ("GET", "/v2/metadefs/namespaces", None),
                                   ("GET", "/v2/schemas/metadefs/namespace", None)):
            resp = self.call(method, path, body=body, headers=accept,
                             project="admin" if path == "/v2/tasks" else "demo")
            self.assert_error(resp, 501, accept, f"{method} {path}")
        # Features Glance itself answers 404 for when they are switched off keep the 404
        # that clients use to detect them (single store, no cache).
        for path in ("/v2/info/stores", "/v2/cache"):
            self.assert_error(self.call("GET", path, headers=accept), 404, accept, path)
        # Staging exists (glance-direct is on), for PUT only.
        resp = self.call("GET", f"{base}/stage", headers=accept)
        self.assert_error(resp, 405, accept, "GET /stage")
        self.assertEqual(resp.headers.get("allow"), "PUT")
        self.assertEqual(self.show(image["id"]), before)

    def test_uploads_are_inspected(self):
        """PUT /file checks that bare images are what their disk_format says and are safe
        (contract §16.2): a mismatch or a hostile qcow2 is 415, the image stays queued and no
        bytes remain; a genuine qcow2 becomes active with its virtual size."""
        with tempfile.TemporaryDirectory() as tmp:
            for args in (("-f", "raw", "backing.raw", "1M"), ("-f", "qcow2", "good.qcow2", "64M"),
                         ("-f", "qcow2", "-b", "backing.raw", "-F", "raw", "backed.qcow2")):
                subprocess.run(["qemu-img", "create", *args], check=True, capture_output=True,
                               cwd=tmp)
            with open(os.path.join(tmp, "good.qcow2"), "rb") as f:
                good = f.read()
            with open(os.path.join(tmp, "backed.qcow2"), "rb") as f:
                backed = f.read()
        json_accept = {"Accept": "application/json"}
        for data, disk_format, what in ((backed, "qcow2", "qcow2 with a backing file"),
                                        (os.urandom(65536), "qcow2", "random bytes as qcow2"),
                                        (good, "vmdk", "a qcow2 claimed as vmdk")):
            image = self.create_image(disk_format=disk_format)
            resp = self.call("PUT", f"/v2/images/{image['id']}/file", body=data,
                             headers={"Content-Type": "application/octet-stream", **json_accept})
            self.assert_error(resp, 415, json_accept, what)
            after = self.show(image["id"])
            self.assertEqual((after["status"], after["size"], after["virtual_size"]),
                             ("queued", None, None), what)
            self.stack.wait_no_files(image["id"], timeout=10)
        image = self.create_image(disk_format="qcow2")
        self.upload(image["id"], good)
        after = self.show(image["id"])
        self.assertEqual((after["status"], after["size"], after["virtual_size"]),
                         ("active", len(good), 64 * 1024 * 1024))
        # Other container formats are not inspected (Glance inspects bare images only).
        image = self.create_image(disk_format="qcow2", container_format="ovf")
        self.upload(image["id"], os.urandom(4096))
        self.assertEqual(self.show(image["id"])["status"], "active")


if __name__ == "__main__":
    unittest.main()
