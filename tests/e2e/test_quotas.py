"""Limits and quotas (glance-api-v2.md §14, §5.1, §8, §10.1): per-image limits on
properties, tags and members, and per-project quotas from metadata-svc's --quota_file
(image_count_total, image_size_total, image_count_uploading), each 413 with a Glance-shaped
body and nothing changed; two concurrent uploads cannot both squeeze under
image_size_total; GET /v2/info/usage before and after.

Quotas per project (a different project per resource, so the tests do not interfere):
demo: image_size_total 2 MiB; alt: image_count_total 3; third: image_count_uploading 1;
other: image_size_total 3 MiB (the concurrency test). Every project also has generous
limits on the other resources, so /v2/info/usage reports all four."""

import concurrent.futures
import io
import os
import unittest

import glanceclient.exc

from gaze_api import (ApiTestCase, HeldUpload, JSON, MiB, wait_for_status)
from gaze_stack import wait_until

PROPERTIES, TAGS, MEMBERS = 3, 3, 2
RESOURCES = ("image_size_total", "image_stage_total", "image_count_total",
             "image_count_uploading")
GENEROUS = {"image_size_total": 1000, "image_stage_total": 1000, "image_count_total": 1000,
            "image_count_uploading": 100}


def quota_file(stack):
    limits = {"demo": {"image_size_total": 2}, "alt": {"image_count_total": 3},
              "third": {"image_count_uploading": 1}, "other": {"image_size_total": 3}}
    return {"projects": {stack.project_id(p): {**GENEROUS, **l} for p, l in limits.items()}}


class QuotaTest(ApiTestCase):
    stack_options = {"quota_file": quota_file, "image_property_quota": PROPERTIES,
                     "image_tag_quota": TAGS, "image_member_quota": MEMBERS,
                     "image_size_cap": 16 * MiB}

    def usage(self, user):
        resp = self.call("GET", "/v2/info/usage", user=user, headers=JSON)
        self.assertEqual(resp.status, 200, resp)
        body = resp.json()
        self.assertEqual(list(body), ["usage"], body)
        return body["usage"]

    def assert_usage(self, user, resource, limit, usage):
        report = self.usage(user)
        self.assertEqual(set(report), set(RESOURCES), report)
        self.assertEqual(report[resource], {"limit": limit, "usage": usage}, report)

    def count_of(self, user):
        return len(self.list_ids({"owner": self.pid(user), "limit": 1000}, user=user))

    def assert_queued_without_data(self, image_id, what):
        image = self.show(image_id)
        self.assertEqual((image["status"], image["size"], image["checksum"],
                          image["os_hash_value"]), ("queued", None, None, None),
                         f"{what}: {image}")
        self.stack.wait_no_files(image_id, timeout=15)

    # -- per-image limits

    def test_property_limit(self):
        before = self.count_of("demo")
        resp = self.create(expect=413, p1="1", p2="2", p3="3", p4="4")
        self.assert_error(resp, 413, JSON, "create with 4 properties")
        self.assertEqual(self.count_of("demo"), before)

        image = self.create(p1="1", p2="2", p3="3")
        state = self.state(image["id"])
        self.patch(image["id"], [{"op": "add", "path": "/p4", "value": "4"}], expect=413)
        self.patch(image["id"], [{"op": "replace", "path": "/p1", "value": "x"},
                                 {"op": "add", "path": "/p4", "value": "4"}], expect=413)
        self.assertEqual(self.state(image["id"]), state)
        with self.assertRaises(glanceclient.exc.HTTPOverLimit):
            self.glance().images.update(image["id"], p5="5")
        self.assert_sdk_error(413, self.sdk().image.update_image, image["id"], p6="6")
        self.assertEqual(self.state(image["id"]), state)
        # At the limit, changing and swapping properties is fine; base attributes and tags
        # do not count.
        image = self.patch(image["id"], [{"op": "replace", "path": "/p1", "value": "x"},
                                         {"op": "remove", "path": "/p2"},
                                         {"op": "add", "path": "/p4", "value": "4"},
                                         {"op": "replace", "path": "/min_ram", "value": 64},
                                         {"op": "replace", "path": "/tags", "value": ["a"]}])
        self.assertEqual((image["p1"], image["p3"], image["p4"], image["min_ram"]),
                         ("x", "3", "4", 64))
        self.assertNotIn("p2", image)

    def test_tag_limit(self):
        resp = self.create(expect=413, tags=["a", "b", "c", "d"])
        self.assert_error(resp, 413, JSON, "create with 4 tags")
        image = self.create(tags=["a", "b", "c"])
        base = f"/v2/images/{image['id']}/tags"
        state = self.state(image["id"])
        self.expect_error("PUT", f"{base}/d", 413)
        self.patch(image["id"], [{"op": "replace", "path": "/tags",
                                  "value": ["a", "b", "c", "d"]}], expect=413)
        with self.assertRaises(glanceclient.exc.HTTPOverLimit):
            self.glance().image_tags.update(image["id"], "e")
        self.assert_sdk_error(413, self.sdk().image.add_tag, image["id"], "f")
        self.assertEqual(self.state(image["id"]), state)
        # Re-adding a present tag is not one more.
        self.expect("PUT", f"{base}/a", 204)
        self.expect("DELETE", f"{base}/c", 204)
        self.expect("PUT", f"{base}/d", 204)
        self.assertEqual(sorted(self.show(image["id"])["tags"]), ["a", "b", "d"])

    def test_member_limit(self):
        image = self.create(visibility="shared")
        for member in ("alt", "third"):
            self.add_member(image["id"], self.pid(member))
        state = self.state(image["id"])
        self.expect_error("POST", f"/v2/images/{image['id']}/members", 413,
                          body={"member": self.pid("other")})
        with self.assertRaises(glanceclient.exc.HTTPOverLimit):
            self.glance().image_members.create(image["id"], "someone-else")
        self.assert_sdk_error(413, self.sdk().image.add_member, image["id"], member="another")
        self.assertEqual(self.state(image["id"]), state)
        self.expect_error("GET", f"/v2/images/{image['id']}", 404, user="other")
        # Removing one makes room.
        self.expect("DELETE", f"/v2/images/{image['id']}/members/{self.pid('third')}", 204)
        self.add_member(image["id"], self.pid("other"))
        self.assertEqual([m for m, _ in self.members(image["id"])],
                         sorted([self.pid("alt"), self.pid("other")]))

    # -- per-project quotas

    def test_image_count_total(self):
        self.assert_usage("alt", "image_count_total", 3, 0)
        images = [self.create(user="alt", name=f"count-{i}") for i in range(2)]
        # One image left under the quota and four creates at once: exactly one gets it.
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            results = list(pool.map(
                lambda i: self.call("POST", "/v2/images", user="alt", headers=JSON,
                                    body={"name": f"count-race-{i}"}), range(4)))
        self.assertEqual(sorted(r.status for r in results), [201, 413, 413, 413], results)
        images += [r.json() for r in results if r.status == 201]
        self.assert_usage("alt", "image_count_total", 3, 3)
        resp = self.create(user="alt", expect=413, name="count-over")
        self.assert_error(resp, 413, JSON, "a 4th image over image_count_total 3")
        self.assertIn("image_count_total", resp.json()["message"])
        with self.assertRaises(glanceclient.exc.HTTPOverLimit):
            self.glance("alt").images.create(name="count-over", disk_format="raw",
                                             container_format="bare")
        self.assertEqual(self.count_of("alt"), 3)
        self.assert_usage("alt", "image_count_total", 3, 3)
        # Other projects are not limited by alt's quota.
        self.create(user="demo", name="not-alt")
        # A deleted image does not count.
        self.delete(images[0]["id"], user="alt")
        self.assert_usage("alt", "image_count_total", 3, 2)
        self.create(user="alt", name="count-again")
        self.assert_usage("alt", "image_count_total", 3, 3)

    def test_image_size_total(self):
        self.assert_usage("demo", "image_size_total", 2, 0)
        first = self.create(name="size-1")
        self.upload(first["id"], os.urandom(MiB))
        self.assert_usage("demo", "image_size_total", 2, 1)

        # 1 MiB stored + 2 MiB > 2 MiB: refused up front with a declared size, and while
        # streaming without one; the image goes back to queued with no bytes.
        over = self.create(name="size-over")
        for chunked in (False, True):
            data = os.urandom(2 * MiB)
            body = iter([data[i:i + 65536] for i in range(0, len(data), 65536)]) if chunked \
                else data
            what = f"a 2 MiB upload ({'chunked' if chunked else 'Content-Length'}) over 1 MiB left"
            resp = self.upload(over["id"], body, expect=413)
            self.assert_error(resp, 413, JSON, what)
            self.assertIn("image_size_total", resp.json()["message"], what)
            self.assert_queued_without_data(over["id"], what)
        self.assert_usage("demo", "image_size_total", 2, 1)

        # Exactly up to the limit is allowed.
        second = self.create(name="size-2")
        self.upload(second["id"], os.urandom(MiB))
        self.assert_usage("demo", "image_size_total", 2, 2)
        # Deleting frees the space.
        self.delete(first["id"])
        self.assert_usage("demo", "image_size_total", 2, 1)
        self.upload(over["id"], os.urandom(MiB))
        self.assertEqual(self.show(over["id"])["status"], "active")
        self.assert_usage("demo", "image_size_total", 2, 2)

    def test_glanceclient_gets_the_413_of_a_streamed_upload(self):
        # glanceclient (like every requests-based client) sends the whole body before it
        # reads the answer: a server that refuses an upload part-way must keep reading
        # (and discarding) the rest, or the client sees a broken pipe instead of the 413.
        # 32 MiB is more than the socket buffers absorb. Over image_size_total (demo has
        # at most 2 MiB left) and over --image_size_cap (16 MiB, alt has no size quota):
        for user in ("demo", "alt"):
            image = self.create(user=user, name="streamed-over")
            try:
                self.glance(user).images.upload(image["id"], io.BytesIO(os.urandom(32 * MiB)))
            except glanceclient.exc.HTTPOverLimit:
                pass
            except glanceclient.exc.CommunicationError as e:
                self.fail(f"{user}: glanceclient did not get the 413, the connection broke: {e}")
            else:
                self.fail(f"{user}: a 32 MiB upload over the limit succeeded")
            self.assert_queued_without_data(image["id"], f"{user}: streamed upload")
            self.delete(image["id"], user=user)

    def test_image_count_uploading(self):
        self.assert_usage("third", "image_count_uploading", 1, 0)
        held_image = self.create(user="third", name="uploading-1")
        other = self.create(user="third", name="uploading-2")
        held = HeldUpload(self.stack.url, held_image["id"], self.stack.token("third"),
                          total=MiB, first=64 * 1024).start()
        self.addCleanup(held.close)
        wait_for_status(self, held_image["id"], {"saving"}, also=held.responded)
        self.assertFalse(held.responded(), held.finish() if held.responded() else "")
        self.assert_usage("third", "image_count_uploading", 1, 1)

        resp = self.upload(other["id"], os.urandom(1000), user="third", expect=413)
        self.assert_error(resp, 413, JSON, "a second upload over image_count_uploading 1")
        self.assertIn("image_count_uploading", resp.json()["message"])
        self.assert_queued_without_data(other["id"], "second upload")

        status, body = held.finish()
        self.assertEqual(status, 204, body)
        self.assert_usage("third", "image_count_uploading", 1, 0)
        self.upload(other["id"], os.urandom(1000), user="third")
        self.assertEqual(self.show(other["id"])["status"], "active")

        # Two uploads starting together with one slot free: exactly one proceeds.
        images = [self.create(user="third", name=f"uploading-race-{i}") for i in range(2)]
        uploads = [HeldUpload(self.stack.url, image["id"], self.stack.token("third"),
                              total=MiB, first=64 * 1024).start() for image in images]
        for upload in uploads:
            self.addCleanup(upload.close)
        wait_until(lambda: all(u.responded() or self.show(i["id"])["status"] == "saving"
                               for u, i in zip(uploads, images)), 30,
                   "both uploads to be under way or refused")
        results = [u.finish() for u in uploads]
        self.assertEqual(sorted(status for status, _ in results), [204, 413], results)
        loser = images[0] if results[0][0] == 413 else images[1]
        self.assert_queued_without_data(loser["id"], "the upload over image_count_uploading")
        self.assert_usage("third", "image_count_uploading", 1, 0)

    def test_concurrent_uploads_cannot_both_fit(self):
        # 3 MiB for "other"; two uploads of 2 MiB each, both under way at the same time:
        # either fits alone, together they do not. Exactly one may succeed.
        for chunked in (False, True):
            what = "chunked" if chunked else "Content-Length"
            self.assert_usage("other", "image_size_total", 3, 0)
            images = [self.create(user="other", name=f"race-{i}") for i in range(2)]
            uploads = [HeldUpload(self.stack.url, image["id"], self.stack.token("other"),
                                  total=2 * MiB, first=MiB, chunked=chunked).start()
                       for image in images]
            for upload in uploads:
                self.addCleanup(upload.close)
            # Both are under way (saving), or one was refused before it got there.
            wait_until(lambda: all(u.responded() or self.show(i["id"])["status"] == "saving"
                                   for u, i in zip(uploads, images)), 30,
                       "both uploads to be under way")
            results = [u.finish() for u in uploads]
            statuses = sorted(status for status, _ in results)
            self.assertEqual(statuses, [204, 413], f"{what}: {results}")
            winner, loser = (images if results[0][0] == 204 else images[::-1])
            won = self.show(winner["id"])
            self.assertEqual((won["status"], won["size"]), ("active", 2 * MiB), what)
            self.assert_queued_without_data(loser["id"], f"{what}: the refused upload")
            self.assert_usage("other", "image_size_total", 3, 2)
            for image in images:
                self.delete(image["id"], user="other")

    def test_usage_report(self):
        usage = self.usage("demo")
        self.assertEqual(set(usage), set(RESOURCES), usage)
        for resource in RESOURCES:
            self.assertEqual(set(usage[resource]), {"limit", "usage"}, usage)
            self.assertIsInstance(usage[resource]["usage"], int, usage)
        self.assertEqual(usage["image_size_total"]["limit"], 2)
        self.assertEqual(usage["image_stage_total"], {"limit": 1000, "usage": 0})
        # Each project gets its own numbers; glanceclient reads the same.
        self.assertEqual(self.usage("alt")["image_count_total"]["limit"], 3)
        self.assertEqual(self.glance("third").info.get_usage(), self.usage("third"))
        # A project without quotas has nothing to report.
        self.assertEqual(self.usage("admin"), {})
        self.expect_error("GET", "/v2/info/usage", 401, user=None, token="gaze-not-a-token")


if __name__ == "__main__":
    unittest.main()
