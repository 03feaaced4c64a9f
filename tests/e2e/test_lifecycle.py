"""The life of an image beyond create/upload (glance-api-v2.md §3.5-§3.7, §4, §8.2, §16.1):
deactivate/reactivate, protected, os_hidden, deleted images, id reuse, the tags API and the
JSON-patch rules, over raw HTTP, python-glanceclient and openstacksdk; every refusal with
its status, a Glance-shaped body, and the image unchanged."""

import os
import unittest
import uuid

import glanceclient.exc
import openstack.exceptions

from gaze_api import (ACCEPTS, ApiTestCase, HeldUpload, JSON, PATCH_20, PATCH_21, MiB,
                      wait_for_status, wait_next_second)


class LifecycleTest(ApiTestCase):

    def action(self, image_id, action, user="demo"):
        return self.call("POST", f"/v2/images/{image_id}/actions/{action}", user=user,
                         headers=JSON)

    # -- deactivate / reactivate

    def test_deactivate_and_reactivate(self):
        data = os.urandom(5000)
        image = self.create_active(data=data, visibility="shared")
        image_id = image["id"]
        self.add_member(image_id, self.pid("alt"))

        resp = self.action(image_id, "deactivate")
        self.assertEqual((resp.status, resp.body), (204, b""), resp)
        deactivated = self.show(image_id)
        self.assertEqual(deactivated["status"], "deactivated")
        # Repeating it is a 204 that changes nothing (not even updated_at).
        wait_next_second(deactivated["updated_at"])
        self.assertEqual(self.action(image_id, "deactivate").status, 204)
        self.assertEqual(self.show(image_id), deactivated)

        # Only the admin downloads a deactivated image; the owner and members get 403.
        for user in ("demo", "demo2", "alt"):
            for accept in ACCEPTS:
                self.expect_error("GET", f"/v2/images/{image_id}/file", 403, user=user,
                                  accept=accept)
        self.assertEqual(self.download(image_id, user="admin"), data)
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            b"".join(self.glance().images.data(image_id))
        # It is still listed and shown, its metadata can still be edited, and it cannot be
        # uploaded to.
        self.assertIn(image_id, self.list_set({"status": "deactivated"}))
        self.assertIn(image_id, self.list_set({"status": "deactivated"}, user="admin"))
        self.set_attrs(image_id, name="edited-while-deactivated")
        self.expect("PUT", f"/v2/images/{image_id}/tags/while-deactivated", 204)
        state = self.state(image_id)
        self.upload(image_id, b"other bytes", expect=409)
        self.assertEqual(self.state(image_id), state)

        resp = self.action(image_id, "reactivate")
        self.assertEqual((resp.status, resp.body), (204, b""), resp)
        reactivated = self.show(image_id)
        self.assertEqual(reactivated["status"], "active")
        self.assertEqual((reactivated["size"], reactivated["checksum"]),
                         (image["size"], image["checksum"]))
        wait_next_second(reactivated["updated_at"])
        self.assertEqual(self.action(image_id, "reactivate").status, 204)
        self.assertEqual(self.show(image_id), reactivated)
        self.assertEqual(self.download(image_id, user="alt"), data)

    def test_who_may_deactivate(self):
        image = self.create_active(visibility="shared")["id"]
        public = self.create_active(user="admin", visibility="public")["id"]
        self.add_member(image, self.pid("alt"))
        state = self.state(image)
        wait_next_second(state[0]["updated_at"])
        # A member, the owner project's reader, another project: refused, 403 when the
        # image is visible to them and 404 when it is not.
        for action in ("deactivate", "reactivate"):
            for user, status in (("alt", 403), ("reader", 403), ("third", 404)):
                for accept in ACCEPTS:
                    self.expect_error("POST", f"/v2/images/{image}/actions/{action}", status,
                                      user=user, accept=accept)
            self.expect_error("POST", f"/v2/images/{public}/actions/{action}", 403, user="demo")
        self.assertEqual(self.state(image), state)
        # Another member of the owning project and the admin may.
        self.assertEqual(self.action(image, "deactivate", user="demo2").status, 204)
        self.assertEqual(self.action(image, "reactivate", user="admin").status, 204)
        self.assertEqual(self.action(public, "deactivate", user="admin").status, 204)
        self.assertEqual(self.show(public)["status"], "deactivated")

    def test_deactivate_in_other_states_is_403(self):
        queued = self.create()["id"]
        state = self.state(queued)
        for action in ("deactivate", "reactivate"):
            for accept in ACCEPTS:
                self.expect_error("POST", f"/v2/images/{queued}/actions/{action}", 403,
                                  accept=accept, what=f"{action} of a queued image")
        self.assertEqual(self.state(queued), state)
        # ... and while saving.
        saving = self.create()["id"]
        upload = HeldUpload(self.stack.url, saving, self.stack.token("demo"),
                            total=MiB, first=64 * 1024).start()
        self.addCleanup(upload.close)
        wait_for_status(self, saving, {"saving"}, also=upload.responded)
        for action in ("deactivate", "reactivate"):
            self.expect_error("POST", f"/v2/images/{saving}/actions/{action}", 403,
                              what=f"{action} of a saving image")
        self.assertEqual(upload.finish()[0], 204)
        self.assertEqual(self.show(saving)["status"], "active")
        # Unknown and deleted images are 404.
        self.expect_error("POST", f"/v2/images/{uuid.uuid4()}/actions/deactivate", 404)
        self.expect_error("POST", f"/v2/images/{saving}/actions/bogus", 404)

    def test_deactivate_with_the_clients(self):
        data = b"client bytes"
        image = self.create_active(data=data)["id"]
        client = self.glance()
        client.images.deactivate(image)
        self.assertEqual(client.images.get(image).status, "deactivated")
        client.images.reactivate(image)
        self.assertEqual(client.images.get(image).status, "active")
        conn = self.sdk()
        conn.image.deactivate_image(image)
        self.assertEqual(conn.image.get_image(image).status, "deactivated")
        # The SDK does not look at the status of a download: it fails on the checksum.
        with self.assertRaises(openstack.exceptions.SDKException):
            self.sdk("demo2").image.download_image(image)
        conn.image.reactivate_image(image)
        self.assertEqual(conn.image.get_image(image).status, "active")
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            self.glance().images.deactivate(self.create()["id"])

    # -- protected, os_hidden

    def test_protected_image_cannot_be_deleted(self):
        image = self.create_active(protected=True)["id"]
        state = self.state(image)
        for user in ("demo", "admin"):
            for accept in ACCEPTS:
                self.expect_error("DELETE", f"/v2/images/{image}", 403, user=user, accept=accept)
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            self.glance().images.delete(image)
        self.assert_sdk_error(403, self.sdk().image.delete_image, image, ignore_missing=False)
        self.assertEqual(self.state(image), state)
        # protected blocks only deletion.
        self.set_attrs(image, name="still-editable")
        # tempest unprotects with the 2.0 media type.
        self.patch(image, [{"replace": "/protected", "value": False}], media=PATCH_20)
        self.assertFalse(self.show(image)["protected"])
        self.delete(image)
        self.expect_error("GET", f"/v2/images/{image}", 404, user="admin")

    def test_os_hidden(self):
        hidden = self.create(name="hidden-image", os_hidden=True)["id"]
        shown = self.create(name="hidden-image")["id"]
        self.assertTrue(self.show(hidden, user="demo")["os_hidden"])
        self.assertEqual(self.list_set({"name": "hidden-image"}), {shown})
        self.assertEqual(self.list_set({"name": "hidden-image", "os_hidden": "true"}), {hidden})
        self.assertEqual(self.list_set({"name": "hidden-image", "os_hidden": "false"}), {shown})
        # Unhiding brings it back; glanceclient and the SDK see the same.
        self.assertNotIn(hidden, [i.id for i in self.glance().images.list()])
        self.assertIn(hidden, [i.id for i in self.sdk().image.images(is_hidden=True)])
        self.set_attrs(hidden, os_hidden=False)
        self.assertEqual(self.list_set({"name": "hidden-image"}), {shown, hidden})
        self.patch(hidden, [{"op": "replace", "path": "/os_hidden", "value": "yes"}], expect=400)

    # -- deleted images and id reuse

    def test_deleted_image_is_404_for_everyone(self):
        image = self.create_active(visibility="shared", tags=["t"])["id"]
        self.add_member(image, self.pid("alt"))
        self.delete(image)
        base = f"/v2/images/{image}"
        for user in ("demo", "alt", "admin"):
            for method, path, body, headers in (
                    ("GET", base, None, {}),
                    ("GET", f"{base}/file", None, {}),
                    ("PATCH", base, [{"op": "replace", "path": "/name", "value": "x"}],
                     {"Content-Type": PATCH_21}),
                    ("DELETE", base, None, {}),
                    ("PUT", f"{base}/file", b"x", {"Content-Type": "application/octet-stream"}),
                    ("PUT", f"{base}/tags/u", None, {}),
                    ("DELETE", f"{base}/tags/t", None, {}),
                    ("GET", f"{base}/members", None, {}),
                    ("POST", f"{base}/members", {"member": self.pid("third")}, {}),
                    ("PUT", f"{base}/members/{self.pid('alt')}", {"status": "accepted"}, {}),
                    ("DELETE", f"{base}/members/{self.pid('alt')}", None, {}),
                    ("POST", f"{base}/actions/deactivate", None, {}),
                    ("POST", f"{base}/actions/reactivate", None, {})):
                self.expect_error(method, path, 404, user=user, body=body, headers=headers)
            self.assertNotIn(image, self.list_set({"visibility": "all", "member_status": "all",
                                                   "limit": 1000}, user=user))
        self.assertEqual(self.list_set({"id": image}, user="admin"), set())
        self.stack.wait_no_files(image)

    def test_ids_are_never_reused(self):
        image = self.create(name="original")
        for user in ("demo", "alt", "admin"):
            resp = self.create(user=user, expect=409, id=image["id"])
            self.assert_error(resp, 409, JSON, f"{user} reuses a live id")
        self.delete(image["id"])
        for user in ("demo", "alt", "admin"):
            resp = self.create(user=user, expect=409, id=image["id"], name="impostor")
            self.assert_error(resp, 409, JSON, f"{user} reuses a deleted id")
        with self.assertRaises(glanceclient.exc.HTTPConflict):
            self.glance().images.create(id=image["id"], name="impostor")
        self.expect_error("GET", f"/v2/images/{image['id']}", 404, user="admin")
        # A fresh id of one's own choosing is fine.
        chosen = str(uuid.uuid4())
        self.assertEqual(self.create(id=chosen)["id"], chosen)

    # -- tags

    def test_tags_api(self):
        image = self.create(tags=["keep"])["id"]
        base = f"/v2/images/{image}/tags"
        for _ in range(2):
            resp = self.expect("PUT", f"{base}/lts", 204)
            self.assertEqual(resp.body, b"")
        self.assertEqual(sorted(self.show(image)["tags"]), ["keep", "lts"])
        self.expect("DELETE", f"{base}/lts", 204)
        for accept in ACCEPTS:
            self.expect_error("DELETE", f"{base}/lts", 404, accept=accept)
        self.assertEqual(self.show(image)["tags"], ["keep"])
        # Through the clients.
        self.glance().image_tags.update(image, "from-glanceclient")
        self.sdk().image.add_tag(image, "from-sdk")
        self.assertEqual(sorted(self.show(image)["tags"]),
                         ["from-glanceclient", "from-sdk", "keep"])
        self.glance().image_tags.delete(image, "from-glanceclient")
        self.sdk().image.remove_tag(image, "from-sdk")
        with self.assertRaises(glanceclient.exc.HTTPNotFound):
            self.glance().image_tags.delete(image, "never-there")
        self.assertEqual(self.show(image)["tags"], ["keep"])
        # Wrong role, wrong project.
        public = self.create(user="admin", visibility="public")["id"]
        state, public_state = self.state(image), self.state(public)
        for method in ("PUT", "DELETE"):
            self.expect_error(method, f"{base}/keep", 403, user="reader")
            self.expect_error(method, f"/v2/images/{public}/tags/x", 403, user="demo")
        self.expect_error("PUT", f"{base}/x", 404, user="alt")
        self.expect_error("PUT", f"{base}/{'x' * 256}", 400)
        self.assertEqual((self.state(image), self.state(public)), (state, public_state))

    # -- JSON patch (§3.5)

    def test_patch_semantics_21(self):
        image = self.create(name="patch", os_distro="debian", os_version="12")["id"]
        # add/replace of base attributes and properties, add over an existing property
        # (2.1 overwrites), remove of a property, all in one request.
        patched = self.patch(image, [
            {"op": "replace", "path": "/name", "value": "patched"},
            {"op": "add", "path": "/min_ram", "value": 256},
            {"op": "add", "path": "/os_distro", "value": "ubuntu"},
            {"op": "replace", "path": "/os_version", "value": "24.04"},
            {"op": "add", "path": "/hw_disk_bus", "value": "virtio"},
            {"op": "remove", "path": "/os_version"},
            {"op": "replace", "path": "/tags", "value": ["b", "a", "b"]},
            {"op": "add", "path": "/description ", "value": "trimmed pointer"},
            {"op": "add", "path": "/x~1y~0z", "value": "escaped"}])
        self.assertEqual((patched["name"], patched["min_ram"], patched["os_distro"],
                          patched["hw_disk_bus"], patched["description"], patched["x/y~z"]),
                         ("patched", 256, "ubuntu", "virtio", "trimmed pointer", "escaped"))
        self.assertNotIn("os_version", patched)
        self.assertEqual(sorted(patched["tags"]), ["a", "b"])
        self.assertEqual(self.show(image), patched)

    def test_patch_errors_change_nothing(self):
        image = self.create_active(name="frozen", os_distro="debian")["id"]
        state = self.state(image)
        wait_next_second(state[0]["updated_at"])

        def refused(ops, status, media=PATCH_21, user="demo"):
            self.patch(image, ops, user=user, media=media, expect=status)
            self.assertEqual(self.state(image), state, f"after {ops}")

        add = lambda path, value="v": {"op": "add", "path": path, "value": value}  # noqa: E731
        # Conflicts (409): replace/remove of an absent property.
        refused([{"op": "replace", "path": "/missing", "value": "v"}], 409)
        refused([{"op": "remove", "path": "/missing"}], 409)
        # Forbidden (403): read-only, links, reserved, os_glance*, removing a base attribute,
        # formats of an active image, another owner (non-admin).
        for key in ("status", "size", "checksum", "created_at", "updated_at", "id",
                    "os_hash_algo", "os_hash_value", "virtual_size", "self", "file", "schema",
                    "location", "deleted", "deleted_at", "direct_url", "os_glance_thing"):
            refused([{"op": "replace", "path": f"/{key}", "value": "x"}], 403)
            refused([add(f"/{key}", "x")], 403)
        for key in ("name", "min_ram", "visibility", "protected", "disk_format"):
            refused([{"op": "remove", "path": f"/{key}"}], 403)
        refused([{"op": "replace", "path": "/disk_format", "value": "qcow2"}], 403)
        refused([{"op": "replace", "path": "/container_format", "value": "ovf"}], 403)
        refused([{"op": "replace", "path": "/owner", "value": self.pid("alt")}], 403)
        # Malformed (400): bad op, no path, bad pointers, nesting, no value, schema.
        for ops in ([{"op": "move", "from": "/name", "path": "/x"}],
                    [{"op": "test", "path": "/name", "value": "frozen"}],
                    [{"op": "copy", "from": "/name", "path": "/x"}],
                    [{"path": "/name", "value": "x"}],
                    [{"op": "replace", "value": "x"}],
                    [{"op": "replace", "path": "name", "value": "x"}],
                    [{"op": "replace", "path": "//name", "value": "x"}],
                    [{"op": "replace", "path": "/name/", "value": "x"}],
                    [{"op": "replace", "path": "/na~2me", "value": "x"}],
                    [{"op": "add", "path": "/tags/-", "value": "x"}],
                    [{"op": "replace", "path": "/tags/0", "value": "x"}],
                    [{"op": "add", "path": "/a/b", "value": "x"}],
                    [{"op": "add", "path": "/newprop"}],
                    [{"op": "replace", "path": "/min_ram", "value": -1}],
                    [{"op": "replace", "path": "/min_disk", "value": "big"}],
                    [{"op": "replace", "path": "/visibility", "value": "everyone"}],
                    [{"op": "replace", "path": "/name", "value": "n" * 256}],
                    [add("/newprop", 5)],
                    [add("/" + "k" * 256)],
                    {"op": "replace", "path": "/name", "value": "not-a-list"},
                    ["not-an-object"]):
            refused(ops, 400)
        # One failing operation undoes the ones before it.
        refused([{"op": "replace", "path": "/name", "value": "half"},
                 {"op": "add", "path": "/os_distro", "value": "arch"},
                 {"op": "remove", "path": "/missing"}], 409)
        refused([{"op": "replace", "path": "/name", "value": "half"},
                 {"op": "replace", "path": "/status", "value": "active"}], 403)
        # The 2.0 media type: one op key per object, and add of a present key is 409.
        refused([{"add": "/os_distro", "value": "arch"}], 409, media=PATCH_20)
        refused([{"replace": "/name", "add": "/name", "value": "x"}], 400, media=PATCH_20)
        refused([{"path": "/name", "value": "x"}], 400, media=PATCH_20)
        refused([{"op": "replace", "path": "/name", "value": "x"}], 400, media=PATCH_20)
        # Wrong role or project.
        refused([{"op": "replace", "path": "/name", "value": "x"}], 403, user="reader")
        refused([{"op": "replace", "path": "/name", "value": "x"}], 404, user="alt")
        # Locations are not implemented: 501 for every operation.
        for ops in ([add("/locations/-", {"url": "file:///etc/passwd", "metadata": {}})],
                    [{"op": "replace", "path": "/locations", "value": []}],
                    [{"op": "remove", "path": "/locations/0"}]):
            refused(ops, 501)

    def test_patch_20_media_type_as_tempest_uses_it(self):
        image = self.create(name="tempest", protected=True)["id"]
        patched = self.patch(image, [{"replace": "/protected", "value": False},
                                     {"add": "/os_distro", "value": "cirros"},
                                     {"replace": "/name", "value": "tempest-2"}], media=PATCH_20)
        self.assertEqual((patched["protected"], patched["os_distro"], patched["name"]),
                         (False, "cirros", "tempest-2"))
        patched = self.patch(image, [{"remove": "/os_distro"}], media=PATCH_20)
        self.assertNotIn("os_distro", patched)
        self.patch(image, [{"remove": "/os_distro"}], media=PATCH_20, expect=409)

    def test_patch_20_add_never_overwrites(self):
        # In 2.0 "add" never overwrites: every base attribute always exists, so adding one
        # is 409 (Glance's _do_add: hasattr(image, name) and json_schema_version == 4), and
        # so is adding a property twice in one patch.
        image = self.create(name="add-20")["id"]
        state = self.state(image)
        for ops in ([{"add": "/name", "value": "x"}], [{"add": "/min_ram", "value": 5}],
                    [{"add": "/new", "value": "v"}, {"add": "/new", "value": "w"}]):
            self.patch(image, ops, media=PATCH_20, expect=409)
        self.assertEqual(self.state(image), state)

    def test_empty_patch_saves_nothing(self):
        # An empty patch is a 200 that saves nothing (Glance saves only `if changes`), so
        # updated_at stays.
        image = self.create(name="empty-patch")["id"]
        state = self.state(image)
        wait_next_second(state[0]["updated_at"])
        self.assertEqual(self.patch(image, []), state[0])
        self.assertEqual(self.state(image), state)

    def test_formats_change_only_while_queued(self):
        image = self.create(disk_format="raw", container_format="bare")["id"]
        patched = self.set_attrs(image, disk_format="qcow2", container_format="ovf")
        self.assertEqual((patched["disk_format"], patched["container_format"]), ("qcow2", "ovf"))
        self.set_attrs(image, disk_format="raw", container_format="bare")
        self.upload(image, b"raw bytes")
        self.patch(image, [{"op": "replace", "path": "/disk_format", "value": "qcow2"}],
                   expect=403)

    def test_owner_and_visibility_changes(self):
        image = self.create()["id"]
        # Only the admin may give an image away or make it public; the owner may make it
        # community, shared or private.
        self.patch(image, [{"op": "replace", "path": "/visibility", "value": "public"}],
                   expect=403)
        for visibility in ("community", "private", "shared"):
            self.assertEqual(self.set_attrs(image, visibility=visibility)["visibility"],
                             visibility)
        self.assertEqual(self.set_attrs(image, user="admin", owner=self.pid("alt"))["owner"],
                         self.pid("alt"))
        self.expect_error("GET", f"/v2/images/{image}", 404, user="demo")
        self.set_attrs(image, user="alt", name="alt's now")

    def test_update_with_the_clients(self):
        image = self.create(name="clients", os_distro="debian", tags=["t"])["id"]
        client = self.glance()
        updated = client.images.update(image, name="via-glanceclient", hw_disk_bus="scsi",
                                       remove_props=["os_distro"])
        self.assertEqual((updated.name, updated.hw_disk_bus), ("via-glanceclient", "scsi"))
        self.assertNotIn("os_distro", self.show(image))
        self.assertEqual(self.show(image)["tags"], ["t"])
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            self.glance("reader").images.update(image, name="reader")
        conn = self.sdk()
        conn.image.update_image(image, name="via-sdk", min_disk=3, os_distro="fedora")
        shown = self.show(image)
        self.assertEqual((shown["name"], shown["min_disk"], shown["os_distro"]),
                         ("via-sdk", 3, "fedora"))
        self.assert_sdk_error(403, self.sdk("reader").image.update_image, image, name="reader")
        self.assertEqual(self.show(image)["name"], "via-sdk")


if __name__ == "__main__":
    unittest.main()
