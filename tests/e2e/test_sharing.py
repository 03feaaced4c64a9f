"""Visibility and sharing (glance-api-v2.md §8.1, §9, §19 flow 4): who sees, downloads and
lists public / community / shared / private images, the members API with every error, and
what member status and switching to private do, over raw HTTP, python-glanceclient
(client.image_members) and openstacksdk (add_member, update_member, ...)."""

import io
import os
import unittest

import glanceclient.exc
import openstack.exceptions

from gaze_api import ACCEPTS, ApiTestCase, JSON, wait_next_second

VISIBILITIES = ("public", "community", "shared", "private")


class SharingTest(ApiTestCase):

    def demo_images(self):
        """One active image of demo's per visibility (public made so by the admin), and
        their bytes."""
        images, data = {}, {}
        for visibility in VISIBILITIES:
            data[visibility] = os.urandom(1000)
            created = visibility if visibility != "public" else "shared"
            image = self.create_active(data=data[visibility], name=f"share-{visibility}",
                                       visibility=created)
            if visibility == "public":
                self.set_attrs(image["id"], user="admin", visibility="public")
            images[visibility] = self.show(image["id"])
            self.assertEqual(images[visibility]["visibility"], visibility)
        return images, data

    # -- the matrix of §9

    def test_visibility_matrix(self):
        images, data = self.demo_images()
        shared = images["shared"]["id"]
        self.add_member(shared, self.pid("alt"))
        problems = []

        def expect(user, visibility, show, download, listed, listed_all):
            image = images[visibility]
            base = f"/v2/images/{image['id']}"
            what = f"{user} on demo's {visibility} image"
            resp = self.call("GET", base, user=user, headers=JSON)
            if resp.status != show:
                problems.append(f"{what}: show {resp.status}, expected {show}")
            elif show == 404:
                self.assert_error(resp, 404, JSON, what)
            resp = self.call("GET", f"{base}/file", user=user, headers=JSON)
            if resp.status != download:
                problems.append(f"{what}: download {resp.status}, expected {download}")
            elif download == 200 and resp.body != data[visibility]:
                problems.append(f"{what}: download returned other bytes")
            elif download >= 400:
                self.assert_error(resp, download, JSON, f"{what}: download")
            for params, expected in (({"limit": 1000}, listed),
                                     ({"limit": 1000, "visibility": "all",
                                       "member_status": "all"}, listed_all)):
                found = image["id"] in self.list_set(params, user=user)
                if found != expected:
                    problems.append(f"{what}: in list {params} is {found}, expected {expected}")

        for status in ("pending", "accepted", "rejected"):
            if status != "pending":
                self.set_member_status(shared, "alt", status)
            self.assertEqual(self.members(shared), [(self.pid("alt"), status)])
            matrix = {
                # user: {visibility: (show, download, default list, visibility=all list)}
                "demo": {v: (200, 200, True, True) for v in VISIBILITIES},
                "demo2": {v: (200, 200, True, True) for v in VISIBILITIES},
                "reader": {v: (200, 403, True, True) for v in VISIBILITIES},
                "admin": {"public": (200, 200, True, True),
                          "community": (200, 200, False, True),
                          "shared": (200, 200, True, True),
                          "private": (200, 200, True, True)},
                "alt": {"public": (200, 200, True, True),
                        "community": (200, 200, False, True),
                        "shared": (200, 200, status == "accepted", True),
                        "private": (404, 404, False, False)},
                "alt_reader": {"public": (200, 403, True, True),
                               "community": (200, 403, False, True),
                               "shared": (200, 403, status == "accepted", True),
                               "private": (404, 404, False, False)},
                "third": {"public": (200, 200, True, True),
                          "community": (200, 200, False, True),
                          "shared": (404, 404, False, False),
                          "private": (404, 404, False, False)},
            }
            before = len(problems)
            for user, row in matrix.items():
                for visibility, expected in row.items():
                    expect(user, visibility, *expected)
            for i in range(before, len(problems)):
                problems[i] = f"[alt's member status {status}] {problems[i]}"
            # member_status selects which shared-with-me images a list returns.
            for asked in ("pending", "accepted", "rejected", "all"):
                for visibility in ("shared", None):
                    params = {"member_status": asked, "limit": 1000}
                    if visibility:
                        params["visibility"] = visibility
                    found = shared in self.list_set(params, user="alt")
                    if found != (asked in ("all", status)):
                        problems.append(f"[{status}] alt: shared image in list {params}: {found}")
        self.assertEqual(problems, [], "\n".join(problems))

    def test_invisible_image_is_404_on_every_subresource(self):
        images, _ = self.demo_images()
        for visibility in ("shared", "private"):
            image_id = images[visibility]["id"]
            state = self.state(image_id)
            base = f"/v2/images/{image_id}"
            for method, path, body in (
                    ("GET", f"{base}/members", None),
                    ("POST", f"{base}/members", {"member": self.pid("third")}),
                    ("GET", f"{base}/members/{self.pid('third')}", None),
                    ("PUT", f"{base}/members/{self.pid('third')}", {"status": "accepted"}),
                    ("DELETE", f"{base}/members/{self.pid('third')}", None),
                    ("PUT", f"{base}/tags/mine", None),
                    ("DELETE", f"{base}/tags/mine", None),
                    ("POST", f"{base}/actions/deactivate", None),
                    ("POST", f"{base}/actions/reactivate", None),
                    ("DELETE", base, None)):
                for accept in ACCEPTS:
                    self.expect_error(method, path, 404, user="third", accept=accept, body=body)
            self.assertEqual(self.state(image_id), state)

    # -- the members API

    def test_add_member(self):
        images, _ = self.demo_images()
        shared = images["shared"]["id"]
        base = f"/v2/images/{shared}/members"
        member = self.add_member(shared, self.pid("alt"))
        self.assert_member(member, shared, self.pid("alt"), "pending")
        # Any string is a member id (there is no project lookup); a member of the owning
        # project and the admin may add members too.
        self.add_member(shared, "not-a-known-project", user="demo2")
        self.add_member(shared, self.pid("other"), user="admin")
        state = self.state(shared)
        self.assertEqual(len(state[1]), 3, state)

        for accept in ACCEPTS:
            self.expect_error("POST", base, 409, accept=accept, body={"member": self.pid("alt")},
                              what="adding a member twice")
        for body in ({}, {"member": ""}, {"members": self.pid("third")}):
            self.expect_error("POST", base, 400, body=body, what=f"add member {body}")
        self.expect_error("POST", base, 400, what="add member without a body")
        # alt (a member, who sees the image) and the owner project's reader may not add.
        for user in ("alt", "reader", "alt_reader"):
            self.expect_error("POST", base, 403, user=user, body={"member": self.pid("third")})
        # Only shared images have members, whoever asks.
        for visibility in ("private", "public", "community"):
            for user in ("demo", "admin"):
                for accept in ACCEPTS:
                    self.expect_error("POST", f"/v2/images/{images[visibility]['id']}/members",
                                      403, user=user, accept=accept,
                                      body={"member": self.pid("third")},
                                      what=f"{user} adds a member to a {visibility} image")
                self.expect_error("GET", f"/v2/images/{images[visibility]['id']}/members",
                                  403, user=user, what=f"{user} lists members of {visibility}")
        self.assertEqual(self.state(shared), state)
        for visibility in ("private", "public", "community"):
            self.expect_error("GET", f"/v2/images/{images[visibility]['id']}/members/"
                              f"{self.pid('third')}", 404)

    def test_list_and_show_members(self):
        image = self.create_active(visibility="shared")["id"]
        base = f"/v2/images/{image}/members"
        for member in ("alt", "other"):
            self.add_member(image, self.pid(member))
        everyone = sorted([(self.pid("alt"), "pending"), (self.pid("other"), "pending")])
        # The owner project (members and readers) and the admin see every member; a member
        # project sees only its own record.
        for user in ("demo", "demo2", "reader", "admin"):
            self.assertEqual(self.members(image, user=user), everyone, user)
        for user in ("alt", "alt_reader"):
            self.assertEqual(self.members(image, user=user), [(self.pid("alt"), "pending")], user)
        body = self.expect("GET", base, 200, headers=JSON).json()
        self.assertEqual(set(body), {"members", "schema"}, body)
        self.assertEqual(body["schema"], "/v2/schemas/members")
        for member in body["members"]:
            self.assert_member(member, image, member["member_id"], "pending")
        self.expect_error("GET", base, 404, user="third")

        one = f"{base}/{self.pid('alt')}"
        for user in ("demo", "reader", "alt", "alt_reader", "admin"):
            self.assert_member(self.expect("GET", one, 200, user=user, headers=JSON).json(),
                               image, self.pid("alt"), "pending")
        # Anyone else's record, an unknown member and an invisible image: 404.
        self.expect_error("GET", f"{base}/{self.pid('other')}", 404, user="alt")
        self.expect_error("GET", one, 404, user="third")
        self.expect_error("GET", f"{base}/{self.pid('third')}", 404)
        self.expect_error("GET", f"{base}/no-such-member", 404, user="admin")

    def test_member_status_changes(self):
        image = self.create_active(visibility="shared")["id"]
        alt = self.pid("alt")
        path = f"/v2/images/{image}/members/{alt}"
        self.add_member(image, alt)
        self.add_member(image, self.pid("other"))
        for status in ("accepted", "rejected", "pending", "accepted"):
            member = self.set_member_status(image, "alt", status)
            self.assert_member(member, image, alt, status)
        state = self.state(image)
        member = self.expect("GET", path, 200, user="alt", headers=JSON).json()
        wait_next_second(member["updated_at"])
        # The owner may not decide for the member; neither may a reader of the member
        # project, nor another member; bad or missing status is 400.
        for user in ("demo", "demo2", "reader", "alt_reader"):
            for accept in ACCEPTS:
                self.expect_error("PUT", path, 403, user=user, accept=accept,
                                  body={"status": "rejected"})
        self.expect_error("PUT", path, 404, user="third", body={"status": "rejected"})
        for body in ({"status": "maybe"}, {"status": "Accepted"}, {"status": ""}, {},
                     {"status": None}):
            self.expect_error("PUT", path, 400, user="alt", body=body, what=f"PUT {body}")
        self.expect_error("PUT", f"/v2/images/{image}/members/no-such-member", 404, user="admin",
                          body={"status": "accepted"})
        self.assertEqual(self.state(image), state)
        self.assertEqual(self.expect("GET", path, 200, user="alt", headers=JSON).json(), member)
        # The admin may; a change shows in the member's updated_at.
        changed = self.set_member_status(image, "alt", "rejected", user="admin")
        self.assertIn((alt, "rejected"), self.members(image))
        self.assertEqual(changed["created_at"], member["created_at"])
        self.assertGreater(changed["updated_at"], member["updated_at"])

    def test_delete_member(self):
        image = self.create_active(visibility="shared")["id"]
        alt = self.pid("alt")
        path = f"/v2/images/{image}/members/{alt}"
        for member in (alt, self.pid("other")):
            self.add_member(image, member)
        self.set_member_status(image, "alt", "accepted")
        state = self.state(image)
        # A member cannot remove itself; readers cannot; others do not see the image.
        for user in ("alt", "alt_reader", "reader"):
            for accept in ACCEPTS:
                self.expect_error("DELETE", path, 403, user=user, accept=accept)
        self.expect_error("DELETE", path, 404, user="third")
        self.expect_error("DELETE", f"/v2/images/{image}/members/{self.pid('third')}", 404)
        self.assertEqual(self.state(image), state)
        self.assertIn(image, self.list_set({"limit": 1000}, user="alt"))

        self.expect("DELETE", path, 204)
        self.assertEqual(self.members(image), [(self.pid("other"), "pending")])
        self.expect_error("GET", f"/v2/images/{image}", 404, user="alt")
        self.assertNotIn(image, self.list_set({"limit": 1000, "visibility": "all",
                                               "member_status": "all"}, user="alt"))
        self.expect_error("DELETE", path, 404, what="deleting a member twice")
        # Re-adding revives the member as pending; the admin may remove members too.
        self.assert_member(self.add_member(image, alt), image, alt, "pending")
        self.expect("GET", f"/v2/images/{image}", 200, user="alt")
        self.expect("DELETE", path, 204, user="admin")
        self.assertEqual(self.members(image), [(self.pid("other"), "pending")])

    def test_private_image_with_members_grants_nothing(self):
        image = self.create_active(data=b"shared bytes", visibility="shared")["id"]
        alt = self.pid("alt")
        self.add_member(image, alt)
        self.set_member_status(image, "alt", "accepted")
        self.assertIn(image, self.list_set({"limit": 1000}, user="alt"))

        self.set_attrs(image, visibility="private")
        for path in (f"/v2/images/{image}", f"/v2/images/{image}/file",
                     f"/v2/images/{image}/members", f"/v2/images/{image}/members/{alt}"):
            self.expect_error("GET", path, 404, user="alt")
        self.expect_error("PUT", f"/v2/images/{image}/members/{alt}", 404, user="alt",
                          body={"status": "rejected"})
        self.assertNotIn(image, self.list_set({"limit": 1000, "visibility": "all",
                                               "member_status": "all"}, user="alt"))
        # The rows are kept but out of reach: the members API answers 403 on a private
        # image (404 for a single member).
        state = self.state(image)
        for user in ("demo", "admin"):
            self.expect_error("GET", f"/v2/images/{image}/members", 403, user=user)
            self.expect_error("GET", f"/v2/images/{image}/members/{alt}", 404, user=user)
            self.expect_error("DELETE", f"/v2/images/{image}/members/{alt}", 403, user=user)
            self.expect_error("POST", f"/v2/images/{image}/members", 403, user=user,
                              body={"member": self.pid("third")})
        self.expect_error("PUT", f"/v2/images/{image}/members/{alt}", 403, user="admin",
                          body={"status": "rejected"})
        self.assertEqual(self.state(image), state)

        # Back to shared: the membership is alive again, accepted as it was.
        self.set_attrs(image, visibility="shared")
        self.assertEqual(self.members(image), [(alt, "accepted")])
        self.assertIn(image, self.list_set({"limit": 1000}, user="alt"))
        self.assertEqual(self.download(image, user="alt"), b"shared bytes")

    # -- through the clients

    def test_flow_4_with_glanceclient(self):
        owner, member = self.glance("demo"), self.glance("alt")
        alt = self.pid("alt")
        image = owner.images.create(name="e2e-flow4", disk_format="raw",
                                    container_format="bare", visibility="private")
        owner.images.upload(image.id, io.BytesIO(b"flow four"))
        owner.images.update(image.id, visibility="shared")
        self.assertEqual(owner.images.get(image.id).visibility, "shared")

        created = owner.image_members.create(image.id, alt)
        self.assertEqual((created.member_id, created.image_id, created.status),
                         (alt, image.id, "pending"))
        # pending: alt can see and download it, but its list does not show it.
        self.assertEqual(member.images.get(image.id).id, image.id)
        self.assertEqual(b"".join(member.images.data(image.id)), b"flow four")
        self.assertNotIn(image.id, [i.id for i in member.images.list()])
        self.assertIn(image.id, [i.id for i in member.images.list(
            filters={"member_status": "pending"})])

        updated = member.image_members.update(image.id, alt, "accepted")
        self.assertEqual(updated.status, "accepted")
        self.assertIn(image.id, [i.id for i in member.images.list()])
        self.assertEqual([(m.member_id, m.status) for m in member.image_members.list(image.id)],
                         [(alt, "accepted")])
        self.assertEqual(member.image_members.get(image.id, alt).status, "accepted")

        # The errors, as glanceclient raises them.
        with self.assertRaises(glanceclient.exc.HTTPConflict):
            owner.image_members.create(image.id, alt)
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            member.image_members.create(image.id, self.pid("third"))
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            member.image_members.delete(image.id, alt)
        with self.assertRaises(glanceclient.exc.HTTPForbidden):
            owner.image_members.update(image.id, alt, "rejected")
        with self.assertRaises(glanceclient.exc.HTTPBadRequest):
            member.image_members.update(image.id, alt, "maybe")
        with self.assertRaises(glanceclient.exc.HTTPNotFound):
            list(self.glance("third").image_members.list(image.id))
        self.assertEqual(self.members(image.id), [(alt, "accepted")])

        owner.image_members.delete(image.id, alt)
        with self.assertRaises(glanceclient.exc.HTTPNotFound):
            member.images.get(image.id)
        self.assertEqual(list(owner.image_members.list(image.id)), [])

    def test_members_with_openstacksdk(self):
        owner, member = self.sdk("demo").image, self.sdk("alt").image
        alt = self.pid("alt")
        image = self.create_active(visibility="shared")["id"]
        private = self.create(visibility="private")["id"]

        added = owner.add_member(image, member=alt)
        self.assertEqual(added.status, "pending")
        self.assertEqual([m.status for m in owner.members(image)], ["pending"])
        self.assertEqual(owner.get_member(alt, image).status, "pending")
        self.assertEqual(member.get_image(image).id, image)

        self.assertEqual(member.update_member(alt, image, status="accepted").status, "accepted")
        self.assertEqual(self.members(image), [(alt, "accepted")])
        self.assertIn(image, [i.id for i in member.images()])

        self.assert_sdk_error(409, owner.add_member, image, member=alt)
        self.assert_sdk_error(403, owner.add_member, private, member=alt)
        self.assert_sdk_error(403, owner.update_member, alt, image, status="rejected")
        self.assert_sdk_error(403, member.remove_member, alt, image, ignore_missing=False)
        self.assert_sdk_error(404, self.sdk("third").image.get_member, alt, image)
        self.assertEqual(self.members(image), [(alt, "accepted")])

        owner.remove_member(alt, image, ignore_missing=False)
        self.assertEqual(list(owner.members(image)), [])
        with self.assertRaises(openstack.exceptions.ResourceNotFound):
            member.get_image(image)
        with self.assertRaises(openstack.exceptions.ResourceNotFound):
            owner.remove_member(alt, image, ignore_missing=False)


if __name__ == "__main__":
    unittest.main()
