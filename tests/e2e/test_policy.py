"""Policy (glance-api-v2.md §17.1, §9.3, keystone.md): Glance's default rules — readers
read, members of the owning project write, only admins publicize or give images away —
and an operator --policy_file (JSON or oslo-style YAML) that overrides rules and leaves the
others alone; a malformed policy file stops the gateway at start-up."""

import os
import subprocess
import unittest

import glanceclient.exc

from gaze_api import ACCEPTS, ApiTestCase, JSON, PATCH_21


class DefaultPolicyTest(ApiTestCase):

    def test_reader_reads_but_cannot_write(self):
        image = self.create_active(data=b"reader bytes", tags=["t"])["id"]
        queued = self.create()["id"]
        states = {i: self.state(i) for i in (image, queued)}
        before = self.list_set({"limit": 1000}, user="admin")
        # Reading is allowed.
        self.assertIn(image, self.list_set({"limit": 1000}, user="reader"))
        self.assertEqual(self.show(image, user="reader")["id"], image)
        self.assertEqual(self.members(image, user="reader"), [])
        # Every write and the download are 403.
        for accept in ACCEPTS:
            self.expect_error("POST", "/v2/images", 403, user="reader", accept=accept,
                              body={"name": "by-reader"})
        for method, path, body, headers in (
                ("PATCH", f"/v2/images/{image}", [{"op": "replace", "path": "/name",
                                                   "value": "x"}], {"Content-Type": PATCH_21}),
                ("DELETE", f"/v2/images/{image}", None, {}),
                ("GET", f"/v2/images/{image}/file", None, {}),
                ("PUT", f"/v2/images/{queued}/file", b"reader upload",
                 {"Content-Type": "application/octet-stream"}),
                ("PUT", f"/v2/images/{image}/tags/u", None, {}),
                ("DELETE", f"/v2/images/{image}/tags/t", None, {}),
                ("POST", f"/v2/images/{image}/actions/deactivate", None, {}),
                ("POST", f"/v2/images/{image}/members", {"member": self.pid("alt")}, {})):
            for accept in ACCEPTS:
                self.expect_error(method, path, 403, user="reader", accept=accept, body=body,
                                  headers=headers)
        client = self.glance("reader")
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            client.images.create(name="by-reader", disk_format="raw", container_format="bare")
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            b"".join(client.images.data(image))
        self.assertEqual(client.images.get(image).id, image)
        self.assertEqual(self.sdk("reader").image.get_image(image).id, image)
        self.assert_sdk_error(403, self.sdk("reader").image.delete_image, image,
                              ignore_missing=False)
        self.assertEqual({i: self.state(i) for i in (image, queued)}, states)
        self.assertEqual(self.list_set({"limit": 1000}, user="admin"), before)

    def test_other_project_cannot_modify_a_public_image(self):
        public = self.create_active(user="admin", data=b"public bytes", visibility="public",
                                    tags=["t"])["id"]
        queued = self.create(user="admin", visibility="public")["id"]
        states = {i: self.state(i) for i in (public, queued)}
        # Anyone reads and downloads it ...
        for user in ("demo", "alt", "third"):
            self.assertEqual(self.show(public, user=user)["visibility"], "public")
            self.assertEqual(self.download(public, user=user), b"public bytes")
        # ... but only the admin project changes it.
        for user in ("demo", "alt"):
            for method, path, body, headers in (
                    ("PATCH", f"/v2/images/{public}", [{"op": "replace", "path": "/name",
                                                        "value": "x"}],
                     {"Content-Type": PATCH_21}),
                    ("DELETE", f"/v2/images/{public}", None, {}),
                    ("PUT", f"/v2/images/{queued}/file", b"intruder",
                     {"Content-Type": "application/octet-stream"}),
                    ("PUT", f"/v2/images/{public}/tags/u", None, {}),
                    ("DELETE", f"/v2/images/{public}/tags/t", None, {}),
                    ("POST", f"/v2/images/{public}/actions/deactivate", None, {})):
                self.expect_error(method, path, 403, user=user, body=body, headers=headers)
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            self.glance("alt").images.update(public, name="mine")
        self.assert_sdk_error(403, self.sdk("alt").image.update_image, public, name="mine")
        self.assertEqual({i: self.state(i) for i in (public, queued)}, states)
        self.assertEqual(self.stack.files_of(queued), [])

    def test_only_the_admin_publicizes(self):
        before = self.list_set({"limit": 1000}, user="admin")
        for user in ("demo", "reader"):
            self.create(user=user, expect=403, visibility="public")
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            self.glance().images.create(name="public", visibility="public")
        self.assertEqual(self.list_set({"limit": 1000}, user="admin"), before)
        image = self.create(visibility="private")["id"]
        state = self.state(image)
        self.patch(image, [{"op": "replace", "path": "/visibility", "value": "public"}],
                   expect=403)
        self.assertEqual(self.state(image), state)
        self.assertEqual(self.set_attrs(image, user="admin", visibility="public")["visibility"],
                         "public")
        self.assertEqual(self.create(user="admin", visibility="public")["visibility"], "public")

    def test_community_needs_a_member_of_the_owning_project(self):
        image = self.create(visibility="community")
        self.assertEqual(image["visibility"], "community")
        self.create(user="reader", expect=403, visibility="community")
        shared = self.create(visibility="shared")["id"]
        self.patch(shared, [{"op": "replace", "path": "/visibility", "value": "community"}],
                   user="reader", expect=403)
        self.patch(image["id"], [{"op": "replace", "path": "/visibility", "value": "shared"}],
                   user="alt", expect=403)
        self.assertEqual(self.show(image["id"])["visibility"], "community")
        self.assertEqual(self.set_attrs(shared, user="demo2", visibility="community")
                         ["visibility"], "community")

    def test_owner_is_set_by_admins_only(self):
        resp = self.create(expect=403, owner=self.pid("alt"))
        self.assert_error(resp, 403, JSON, "demo creates an image owned by alt")
        self.assertEqual(self.create(owner=self.pid("demo"))["owner"], self.pid("demo"))
        given = self.create(user="admin", owner=self.pid("demo"))
        self.assertEqual(given["owner"], self.pid("demo"))
        # The new owner's members manage it; the admin's project no longer owns it.
        self.set_attrs(given["id"], user="demo", name="demo's now")
        self.expect_error("GET", f"/v2/images/{given['id']}", 404, user="alt")
        # The admin may do anything to other projects' private images.
        private = self.create_active(visibility="private")["id"]
        self.set_attrs(private, user="admin", name="admin was here")
        self.expect("PUT", f"/v2/images/{private}/tags/admin", 204, user="admin")
        self.expect("POST", f"/v2/images/{private}/actions/deactivate", 204, user="admin")
        self.expect("POST", f"/v2/images/{private}/actions/reactivate", 204, user="admin")
        self.delete(private, user="admin")

    def test_image_without_owner(self):
        # §9.1/§9.3: an image whose owner is null (the admin may set it so) is readable by
        # everyone and changeable only by admins; it is in nobody's default list.
        image = self.create(visibility="shared")["id"]
        self.assertIsNone(self.set_attrs(image, user="admin", owner=None)["owner"])
        state = self.state(image)
        for user in ("demo", "alt", "third", "reader"):
            self.assertEqual(self.show(image, user=user)["id"], image)
            self.patch(image, [{"op": "replace", "path": "/name", "value": "x"}], user=user,
                       expect=403)
            self.expect_error("DELETE", f"/v2/images/{image}", 403, user=user)
            self.assertNotIn(image, self.list_set({"limit": 1000}, user=user))
        self.assertEqual(self.state(image), state)
        self.set_attrs(image, user="admin", name="admin's")


def gateway_refuses(test, content, suffix):
    """Starts an api-gateway of test's stack with a policy file holding content; asserts
    that it exits non-zero at start-up, saying why; returns its output."""
    path = test.stack.write_file(f"bad-policy-{abs(hash(content))}{suffix}", content)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GAZE_")}
    try:
        proc = subprocess.run(test.stack.gateway_command("--policy_file", path),
                              capture_output=True, text=True, env=env, timeout=30)
    except subprocess.TimeoutExpired as e:
        test.fail(f"the gateway did not exit with the policy file {content!r}: {e}")
    output = proc.stdout + proc.stderr
    test.assertNotEqual(proc.returncode, 0, f"{content!r}:\n{output}")
    test.assertIn("policy", output.lower(), f"{content!r}: no word about the policy:\n{output}")
    test.assertNotIn('"listening"', output, output)
    return output


class JsonPolicyFileTest(ApiTestCase):
    """Creating images is admin-only, downloading forbidden to all; the rest default."""
    stack_options = {"policy_file": {"add_image": "role:admin", "download_image": "!"}}

    def test_overridden_rules(self):
        before = self.list_set({"limit": 1000}, user="admin")
        for user in ("demo", "reader"):
            for accept in ACCEPTS:
                self.expect_error("POST", "/v2/images", 403, user=user, accept=accept,
                                  body={"name": "not-allowed"})
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            self.glance().images.create(name="not-allowed")
        self.assertEqual(self.list_set({"limit": 1000}, user="admin"), before)
        image = self.create_active(user="admin", data=b"nobody downloads",
                                   owner=self.pid("demo"))["id"]
        for user in ("admin", "demo"):
            self.expect_error("GET", f"/v2/images/{image}/file", 403, user=user)
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            b"".join(self.glance("admin").images.data(image))

    def test_other_rules_keep_their_defaults(self):
        image = self.create(user="admin", owner=self.pid("demo"))["id"]
        self.assertIn(image, self.list_set({"limit": 1000}))
        self.set_attrs(image, name="demo edits")
        self.patch(image, [{"op": "replace", "path": "/name", "value": "x"}], user="reader",
                   expect=403)
        self.upload(image, b"demo uploads")
        self.expect_error("GET", f"/v2/images/{image}", 404, user="alt")
        self.delete(image)

    def test_malformed_policy_files_stop_the_gateway(self):
        for content, suffix in (('{"add_image": "role:admin"', ".json"),
                                ('{"add_image": 42}', ".json"),
                                ('["add_image", "role:admin"]', ".json"),
                                ('{"add_image": "role:admin and ("}', ".json"),
                                ('{"add_image": "rule:no_such_rule"}', ".json"),
                                ('"add_image": "role:admin"\n  nested: oops\n', ".yaml"),
                                ('"add_image": [role:admin]\n', ".yaml"),
                                ('"add_image": "role:admin"\n"add_image": "!"\n', ".yaml")):
            gateway_refuses(self, content, suffix)
        missing = os.path.join(self.stack.dir, "no-such-policy.yaml")
        env = {k: v for k, v in os.environ.items() if not k.startswith("GAZE_")}
        proc = subprocess.run(self.stack.gateway_command("--policy_file", missing),
                              capture_output=True, text=True, env=env, timeout=30)
        self.assertNotEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("no-such-policy.yaml", proc.stdout + proc.stderr)


YAML_POLICY = """\
# Operator overrides, as oslopolicy-sample-generator writes them.
# Commented-out rules (the generator's defaults) have no effect:
#"add_image": "!"

"context_is_admin": "role:admin"
"get_images": "rule:context_is_admin"
delete_image: 'role:admin'
"publicize_image": "role:member"
"""


class YamlPolicyFileTest(ApiTestCase):
    """Listing and deleting are admin-only; members may publicize; a commented rule does
    nothing."""
    stack_options = {"policy_file": YAML_POLICY, "policy_file_suffix": ".yaml"}

    def test_overridden_rules(self):
        image = self.create(visibility="public")  # publicize_image: role:member
        self.assertEqual(image["visibility"], "public")
        self.create(user="reader", expect=403, visibility="public")
        for accept in ACCEPTS:
            self.expect_error("GET", "/v2/images", 403, accept=accept)
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            list(self.glance().images.list())
        self.assertIn(image["id"], self.list_set({"limit": 1000}, user="admin"))
        self.assertEqual(self.show(image["id"], user="demo")["id"], image["id"])
        state = self.state(image["id"])
        self.expect_error("DELETE", f"/v2/images/{image['id']}", 403)
        self.assertEqual(self.state(image["id"]), state)
        self.delete(image["id"], user="admin")


if __name__ == "__main__":
    unittest.main()
