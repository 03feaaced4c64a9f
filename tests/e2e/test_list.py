"""GET /v2/images: every filter, both sort syntaxes, limit/marker paging with first/next
links, and the 400/403 answers to bad parameters (glance-api-v2.md §3.4, §9.2), over raw
HTTP, python-glanceclient (page_size paging) and openstacksdk (images(...) filters).

One stack and one fixture for the whole class (built in setUpClass and never modified by
the tests), so every expected answer is computed from a model of §9.2 over images whose
every attribute is known."""

import concurrent.futures
import datetime
import hashlib
import os
import time
import unittest
import urllib.parse
import uuid

from gaze_api import ApiTestCase, JSON, parse_link
from gaze_stack import wait_until

BULK = 30  # images tagged "bulk": more than the default page of 25


def iso(ts):
    """An API timestamp as an aware datetime."""
    return datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)


def fmt(dt, offset_hours=None):
    """dt as ISO 8601: with Z, with an explicit +hh:mm offset, or naive (offset "")."""
    if offset_hours is None:
        return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if offset_hours == "":
        return dt.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    tz = datetime.timezone(datetime.timedelta(hours=offset_hours))
    return dt.astimezone(tz).isoformat()


OPS = {"gt": lambda a, b: a > b, "gte": lambda a, b: a >= b, "lt": lambda a, b: a < b,
       "lte": lambda a, b: a <= b, "eq": lambda a, b: a == b, "neq": lambda a, b: a != b}


class ListTest(ApiTestCase):
    """Fixture (owner: what it is):
      alpha (demo): active 100 B, raw/bare, shared, tags red+blue, os_distro=debian,
                    build=42, min_ram 512, min_disk 1
      beta (demo): queued qcow2/bare, protected, tags red, os_distro=ubuntu, build=42
      "gamma,delta" (demo): queued vhd/ovf, private, tag blue
      hidden (demo): queued, private, os_hidden
      delta (demo): active 300 B, community, tag green
      "a:b" (demo): queued ami/ami
      epsilon (admin): active 200 B, public, min_disk 10
      zeta (alt): private; eta (alt): community
      theta / iota / kappa (alt): shared with demo, pending / accepted / rejected
      bulk-N (demo, 30 images): active 1-11 B, names with duplicates, tag bulk,
                    container bare/ovf alternating
      late (demo): created at least one second after all the others, tag late
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            cls.build_fixture(cls())
        except BaseException:
            cls.stack.stop(check=False)
            raise

    @classmethod
    def build_fixture(cls, t):
        fx = {}
        alpha_data = os.urandom(100)
        fx["alpha"] = t.create_active(
            data=alpha_data, name="alpha", tags=["red", "blue"], os_distro="debian",
            build="42", min_ram=512, min_disk=1)
        cls.alpha_md5 = hashlib.md5(alpha_data).hexdigest()
        cls.alpha_sha512 = hashlib.sha512(alpha_data).hexdigest()
        fx["beta"] = t.create(name="beta", disk_format="qcow2", protected=True, tags=["red"],
                              os_distro="ubuntu", build="42")
        fx["gamma,delta"] = t.create(name="gamma,delta", disk_format="vhd",
                                     container_format="ovf", visibility="private",
                                     tags=["blue"])
        fx["hidden"] = t.create(name="hidden", visibility="private", os_hidden=True)
        fx["delta"] = t.create_active(data=os.urandom(300), name="delta",
                                      visibility="community", tags=["green"])
        fx["a:b"] = t.create(name="a:b", disk_format="ami", container_format="ami")
        fx["epsilon"] = t.create_active(user="admin", data=os.urandom(200), name="epsilon",
                                        visibility="public", min_disk=10)
        fx["zeta"] = t.create(user="alt", name="zeta", visibility="private")
        fx["eta"] = t.create(user="alt", name="eta", visibility="community")
        cls.member_status = {}
        for name, status in (("theta", "pending"), ("iota", "accepted"),
                             ("kappa", "rejected")):
            fx[name] = t.create(user="alt", name=name, visibility="shared")
            t.add_member(fx[name]["id"], t.pid("demo"), user="alt")
            if status != "pending":
                t.set_member_status(fx[name]["id"], "demo", status)
            cls.member_status[fx[name]["id"]] = {t.pid("demo"): status}
        cls.bulk = []
        for i in range(BULK):
            image = t.create(name=f"bulk-{i % 7}", visibility="private", tags=["bulk"],
                             container_format=("bare", "ovf")[i % 2])
            t.upload(image["id"], b"b" * ((i * 37) % 11 + 1))
            cls.bulk.append(image["id"])
        # "late" is created once the clock has moved on a whole second past everything
        # else, so that time filters have images on both sides of a pivot.
        last = max(iso(t.show(i)[key]) for i in [i["id"] for i in fx.values()] + cls.bulk
                   for key in ("created_at", "updated_at"))
        wait_until(lambda: datetime.datetime.now(datetime.timezone.utc)
                   >= last + datetime.timedelta(seconds=1.05), 5, "the clock to move on")
        fx["late"] = t.create(name="late", tags=["late"])
        # Every image as the admin sees it now, by id: the model the tests compute from.
        cls.images = {}
        for image in list(fx.values()) + [{"id": i} for i in cls.bulk]:
            cls.images[image["id"]] = t.show(image["id"])
        cls.fx = {name: cls.images[image["id"]] for name, image in fx.items()}

    # -- the model of §9.2

    def expected(self, user="demo", visibility=None, member_status="accepted",
                 os_hidden=False, where=lambda image: True):
        project = self.pid(user)
        admin = user == "admin"
        result = set()
        for image in self.images.values():
            if image["os_hidden"] != os_hidden:
                continue
            own = image["owner"] == project
            vis = image["visibility"]
            if admin or vis in ("public", "community") or own:
                candidate = True
            elif vis == "shared":
                status = self.member_status.get(image["id"], {}).get(project)
                candidate = status is not None and member_status in ("all", status)
            else:
                candidate = False
            if not candidate:
                continue
            if visibility is None:
                if vis == "community" and not own:
                    continue
            elif visibility != "all" and vis != visibility:
                continue
            if where(image):
                result.add(image["id"])
        return result

    def ids(self, *names):
        return {self.fx[n]["id"] for n in names}

    def describe(self, ids):
        return "\n".join(sorted(
            f"  {i} {self.images[i]['name']!r} created {self.images[i]['created_at']} "
            f"updated {self.images[i]['updated_at']}" if i in self.images else f"  {i} (?)"
            for i in ids))

    def check(self, params, expected, user="demo"):
        got = self.list_set(params, user=user)
        if got != expected:
            self.fail(f"{user}: GET /v2/images?{urllib.parse.urlencode(params)}\n"
                      f"listed but not expected:\n{self.describe(got - expected)}\n"
                      f"expected but not listed:\n{self.describe(expected - got)}")

    def bad(self, params, status=400, user="demo"):
        query = urllib.parse.urlencode(params)
        self.expect_error("GET", f"/v2/images?{query}", status, user=user)

    # -- visibility, member_status, owner

    def test_default_list_per_user(self):
        for user in ("demo", "alt", "admin", "third"):
            self.check({"limit": 1000}, self.expected(user), user=user)
        # Spelled out once: what demo's default list holds of the named fixture.
        named = self.list_set({"limit": 1000}) & {i["id"] for i in self.fx.values()}
        self.assertEqual(named, self.ids("alpha", "beta", "gamma,delta", "delta", "a:b",
                                         "epsilon", "iota", "late"))

    def test_visibility_filter(self):
        for user in ("demo", "alt", "admin"):
            for visibility in ("public", "private", "shared", "community", "all"):
                self.check({"visibility": visibility, "limit": 1000},
                           self.expected(user, visibility=visibility), user=user)
        self.assertEqual(self.list_set({"visibility": "community"}), self.ids("delta", "eta"))
        self.assertEqual(self.list_set({"visibility": "public"}), self.ids("epsilon"))
        for value in ("bogus", "Public", ""):
            self.bad({"visibility": value})

    def test_member_status_filter(self):
        for status in ("pending", "accepted", "rejected", "all"):
            for visibility in (None, "shared", "all"):
                params = {"member_status": status, "limit": 1000}
                if visibility:
                    params["visibility"] = visibility
                self.check(params, self.expected(visibility=visibility, member_status=status))
        self.assertEqual(self.list_set({"visibility": "shared", "member_status": "pending"})
                         - {i for i in self.images if self.images[i]["owner"] == self.pid("demo")},
                         self.ids("theta"))
        # Admins see every shared image whatever member_status says.
        self.check({"visibility": "shared", "member_status": "pending"},
                   self.expected("admin", visibility="shared"), user="admin")
        for value in ("bogus", "Accepted"):
            self.bad({"member_status": value})

    def test_owner_filter(self):
        alt = self.pid("alt")
        self.assertEqual(self.list_set({"owner": alt}), self.ids("iota"))
        self.assertEqual(self.list_set({"owner": alt, "visibility": "all"}),
                         self.ids("eta", "iota"))
        self.assertEqual(self.list_set({"owner": alt, "visibility": "all",
                                        "member_status": "all"}),
                         self.ids("eta", "theta", "iota", "kappa"))
        self.check({"owner": alt}, self.expected("admin", where=lambda i: i["owner"] == alt),
                   user="admin")
        self.assertEqual(self.list_set({"owner": "no-such-project"}), set())

    # -- exact-match filters and in:

    def test_name_filter(self):
        self.assertEqual(self.list_set({"name": "alpha"}), self.ids("alpha"))
        self.assertEqual(self.list_set({"name": "eq:alpha"}), self.ids("alpha"))
        self.assertEqual(self.list_set({"name": "in:alpha,beta"}), self.ids("alpha", "beta"))
        self.assertEqual(self.list_set({"name": 'in:alpha,"gamma,delta"'}),
                         self.ids("alpha", "gamma,delta"))
        self.assertEqual(self.list_set({"name": 'in:"gamma,delta",beta'}),
                         self.ids("gamma,delta", "beta"))
        # A value with a colon needs eq: (Glance reads "a:b" as operator "a", value "b").
        self.assertEqual(self.list_set({"name": "eq:a:b"}), self.ids("a:b"))
        self.bad({"name": "a:b"})
        self.assertEqual(self.list_set({"name": "bulk-3"}),
                         {i for i in self.bulk if self.images[i]["name"] == "bulk-3"})
        self.assertEqual(self.list_set({"name": "zeta"}), set())  # alt's private image
        self.assertEqual(self.list_set({"name": "nothing"}), set())
        for value in ("gt:alpha", "neq:alpha", 'in:alpha,"gamma', 'in:al"pha"',
                      'in:"alpha"beta'):
            self.bad({"name": value})

    def test_id_filter(self):
        alpha, beta, zeta = (self.fx[n]["id"] for n in ("alpha", "beta", "zeta"))
        self.assertEqual(self.list_set({"id": alpha}), {alpha})
        self.assertEqual(self.list_set({"id": f"eq:{alpha}"}), {alpha})
        self.assertEqual(self.list_set({"id": f"in:{alpha},{beta},{zeta}"}), {alpha, beta})
        self.assertEqual(self.list_set({"id": zeta}), set())
        self.assertEqual(self.list_set({"id": zeta}, user="alt"), {zeta})
        self.bad({"id": f"lt:{alpha}"})

    def test_status_and_format_filters(self):
        for key, values in (("status", ("active", "queued")),
                            ("disk_format", ("raw", "qcow2", "vhd", "ami")),
                            ("container_format", ("bare", "ovf", "ami"))):
            for value in values:
                expect = self.expected(where=lambda i: i[key] == value)
                self.check({key: value, "limit": 1000}, expect)
                self.check({key: f"eq:{value}", "limit": 1000}, expect)
            expect = self.expected(where=lambda i: i[key] in values[:2])
            self.check({key: f"in:{values[0]},{values[1]}", "limit": 1000}, expect)
            self.bad({key: f"gte:{values[0]}"})
        self.assertEqual(self.list_set({"disk_format": "vhd"}), self.ids("gamma,delta"))
        # Exact match: a value no image has matches nothing (Glance does no enum check on
        # these filters: they are plain column comparisons), alone or in an in: list.
        self.assertEqual(self.list_set({"status": "deleted"}), set())
        for key, good in (("disk_format", "raw"), ("container_format", "bare"),
                          ("status", "active")):
            self.assertEqual(self.list_set({key: "bogus"}), set(), key)
            self.check({key: f"in:{good},bogus", "limit": 1000},
                       self.expected(where=lambda i: i[key] == good))

    def test_tag_filter_is_an_and(self):
        self.assertEqual(self.list_set({"tag": "red"}), self.ids("alpha", "beta"))
        self.assertEqual(self.list_set({"tag": "blue"}), self.ids("alpha", "gamma,delta"))
        self.assertEqual(self.list_set([("tag", "red"), ("tag", "blue")]), self.ids("alpha"))
        self.assertEqual(self.list_set([("tag", "red"), ("tag", "green")]), set())
        self.assertEqual(self.list_set({"tag": "green"}), self.ids("delta"))
        self.assertEqual(self.list_set({"tag": "bulk", "limit": 100}), set(self.bulk))
        self.assertEqual(self.list_set({"tag": "nope"}), set())

    def test_size_filters(self):
        def sized(lo=None, hi=None):
            return self.expected(where=lambda i: i["size"] is not None
                                 and (lo is None or i["size"] >= lo)
                                 and (hi is None or i["size"] <= hi))
        self.assertEqual(self.list_set({"size_min": 150}), self.ids("delta", "epsilon"))
        self.assertEqual(self.list_set({"size_min": 200}), self.ids("delta", "epsilon"))
        self.assertEqual(self.list_set({"size_min": 201}), self.ids("delta"))
        self.assertEqual(self.list_set({"size_min": 100, "size_max": 200}),
                         self.ids("alpha", "epsilon"))
        self.check({"size_max": 11, "limit": 1000}, sized(hi=11))
        self.assertEqual(sized(hi=11), set(self.bulk))
        self.check({"size_min": 5, "size_max": 7, "limit": 1000}, sized(5, 7))
        for params in ({"size_min": "abc"}, {"size_max": "1.5"}, {"size_min": ""}):
            self.bad(params)

    def test_os_hidden_filter(self):
        hidden = self.fx["hidden"]["id"]
        self.assertNotIn(hidden, self.list_set({"limit": 1000}))
        self.assertEqual(self.list_set({"os_hidden": "true"}), {hidden})
        self.check({"os_hidden": "false", "limit": 1000}, self.expected())
        # Hidden for the admin too, unless asked.
        self.assertNotIn(hidden, self.list_set({"limit": 1000}, user="admin"))
        self.assertEqual(self.list_set({"os_hidden": "true"}, user="admin"), {hidden})
        # Other projects do not see demo's private hidden image either way.
        self.assertEqual(self.list_set({"os_hidden": "true"}, user="alt"), set())
        # It is still shown by id.
        self.assertTrue(self.show(hidden, user="demo")["os_hidden"])
        self.bad({"os_hidden": "maybe"})

    def test_protected_filter(self):
        self.assertEqual(self.list_set({"protected": "true"}), self.ids("beta"))
        self.check({"protected": "false", "limit": 1000},
                   self.expected(where=lambda i: not i["protected"]))
        self.bad({"protected": "maybe"})

    def test_property_checksum_and_min_filters(self):
        self.assertEqual(self.list_set({"os_distro": "debian"}), self.ids("alpha"))
        self.assertEqual(self.list_set({"os_distro": "ubuntu"}), self.ids("beta"))
        self.assertEqual(self.list_set({"build": "42"}), self.ids("alpha", "beta"))
        self.assertEqual(self.list_set({"build": "42", "os_distro": "ubuntu"}), self.ids("beta"))
        self.assertEqual(self.list_set({"build": "43"}), set())
        self.assertEqual(self.list_set({"no_such_property": "x"}), set())
        self.assertEqual(self.list_set({"checksum": self.alpha_md5}), self.ids("alpha"))
        self.assertEqual(self.list_set({"checksum": "0" * 32}), set())
        self.assertEqual(self.list_set({"os_hash_value": self.alpha_sha512}), self.ids("alpha"))
        self.assertEqual(self.list_set({"min_ram": 512}), self.ids("alpha"))
        self.assertEqual(self.list_set({"min_disk": 1}), self.ids("alpha"))
        self.assertEqual(self.list_set({"min_disk": 10}), self.ids("epsilon"))
        self.check({"min_ram": 0, "limit": 1000}, self.expected(where=lambda i: i["min_ram"] == 0))
        # A combination of filters is an AND.
        self.assertEqual(self.list_set({"tag": "red", "status": "active"}), self.ids("alpha"))
        self.assertEqual(self.list_set({"visibility": "public", "min_disk": 10}),
                         self.ids("epsilon"))

    def test_changes_since_is_400(self):
        self.bad({"changes-since": "2020-01-01T00:00:00Z"})

    # -- created_at / updated_at

    def test_time_filters_split_at_a_second(self):
        # "late" is alone in its second, a second after everything else: gte/lt at that
        # second split the list whatever the precision of the stored times.
        late = self.fx["late"]
        for field in ("created_at", "updated_at"):
            pivot = iso(late[field])
            older = self.expected(where=lambda i: i["id"] != late["id"])
            for spelled in (fmt(pivot), fmt(pivot, 2), fmt(pivot, -5), fmt(pivot, "")):
                self.check({field: f"gte:{spelled}", "limit": 1000}, self.ids("late"))
                self.check({field: f"lt:{spelled}", "limit": 1000}, older)
            # Two conditions on the same field combine (a range).
            hour_ago, next_second = (fmt(pivot - datetime.timedelta(hours=1)),
                                     fmt(pivot + datetime.timedelta(seconds=1)))
            self.check([(field, f"gte:{fmt(pivot)}"), (field, f"lt:{next_second}"),
                        ("limit", 1000)], self.ids("late"))
            self.check([(field, f"gte:{hour_ago}"), (field, f"lt:{fmt(pivot)}"),
                        ("limit", 1000)], older)
            self.check({field: f"gt:{next_second}"}, set())

    def test_time_filters_every_operator(self):
        # An image's timestamp is what the API shows (whole seconds, as Glance stores
        # them): created_at=eq:<shown value> finds it, gt:<shown value> does not, etc.
        problems = []
        for field in ("created_at", "updated_at"):
            for pivot_image in (self.fx["alpha"], self.fx["late"]):
                pivot = iso(pivot_image[field])
                for op, compare in OPS.items():
                    expect = self.expected(where=lambda i: compare(iso(i[field]), pivot))
                    spellings = [f"{op}:{s}" for s in (fmt(pivot), fmt(pivot, 2),
                                                       fmt(pivot, -5), fmt(pivot, ""))]
                    if op == "eq":
                        spellings.append(fmt(pivot))  # a bare timestamp means eq
                    for value in spellings:
                        got = self.list_set({field: value, "limit": 1000})
                        if got != expect:
                            problems.append(
                                f"{field}={value} (pivot {pivot_image['name']}): "
                                f"{len(got - expect)} unexpected, {len(expect - got)} missing; "
                                f"unexpected e.g.\n{self.describe(list(got - expect)[:2])}\n"
                                f"missing e.g.\n{self.describe(list(expect - got)[:2])}")
        if problems:
            self.fail(f"{len(problems)} time filters answered wrongly:\n" + "\n".join(problems))

    def test_time_filters_bad_values(self):
        for field in ("created_at", "updated_at"):
            for value in ("gt:yesterday", "yesterday", "gt:2026-13-45T00:00:00Z",
                          "foo:2026-01-01T00:00:00Z", "gt:", "between:2026-01-01T00:00:00Z"):
                self.bad({field: value})

    # -- sorting

    def sort_values(self, image, key):
        return image[key]

    def assert_sorted(self, ids, keys, what):
        for a, b in zip(ids, ids[1:]):
            ia, ib = self.images[a], self.images[b]
            for key, direction in keys:
                va, vb = ia[key], ib[key]
                if va == vb:
                    continue
                ok = va < vb if direction == "asc" else va > vb
                self.assertTrue(ok, f"{what}: {key} {va!r} before {vb!r} ({direction})")
                break

    def test_sort_both_syntaxes_multiple_keys(self):
        bulk = set(self.bulk)
        cases = [
            ("sort", "name:asc,size:desc", [("name", "asc"), ("size", "desc")]),
            ("sort", "size:asc,name", [("size", "asc"), ("name", "desc")]),  # missing dir = desc
            ("sort", "container_format:desc,size:asc,id:asc",
             [("container_format", "desc"), ("size", "asc"), ("id", "asc")]),
            ("old", [("name", "asc"), ("size", "desc")], [("name", "asc"), ("size", "desc")]),
            ("old", [("size", "asc"), ("name", None)], [("size", "asc"), ("name", "asc")]),
            ("old", [("name", None), ("size", None)], [("name", "desc"), ("size", "desc")]),
        ]
        for syntax, spec, keys in cases:
            if syntax == "sort":
                params = [("tag", "bulk"), ("sort", spec)]
            else:
                params = [("tag", "bulk")] + [("sort_key", k) for k, _ in spec]
                params += [("sort_dir", d) for _, d in spec if d]
            what = urllib.parse.urlencode(params)
            ids = self.list_ids(params + [("limit", 100)])
            self.assertEqual(set(ids), bulk, what)
            self.assertEqual(len(ids), BULK, what)
            self.assert_sorted(ids, keys, what)
            # Keyset paging gives the same sequence, page by page (ties included).
            self.assertEqual(self.list_ids(params + [("limit", 4)]), ids, f"{what} by 4")
        # The two syntaxes agree exactly, tie-breakers included.
        self.assertEqual(
            self.list_ids({"tag": "bulk", "sort": "name:asc,size:desc", "limit": 100}),
            self.list_ids([("tag", "bulk"), ("sort_key", "name"), ("sort_key", "size"),
                           ("sort_dir", "asc"), ("sort_dir", "desc"), ("limit", 100)]))

    def test_sort_every_key(self):
        for key in ("name", "status", "container_format", "disk_format", "size", "id",
                    "created_at", "updated_at"):
            for direction in ("asc", "desc"):
                params = {"tag": "bulk", "sort": f"{key}:{direction}", "limit": 100}
                ids = self.list_ids(params)
                self.assertEqual(set(ids), set(self.bulk))
                self.assert_sorted(ids, [(key, direction)], str(params))

    def test_default_sort_is_created_at_desc(self):
        ids = self.list_ids({"limit": 1000})
        self.assert_sorted(ids, [("created_at", "desc")], "default order")
        self.assertEqual(ids[0], self.fx["late"]["id"])

    def test_bad_sort_parameters(self):
        for params in ({"sort_key": "owner"}, {"sort_key": "min_ram"}, {"sort_key": "bogus"},
                       {"sort_dir": "up"}, {"sort": "name:up"}, {"sort": "bogus:asc"},
                       {"sort": "name:asc", "sort_key": "size"},
                       {"sort": "name:asc", "sort_dir": "asc"},
                       [("sort_key", "name"), ("sort_key", "size"), ("sort_key", "id"),
                        ("sort_dir", "asc"), ("sort_dir", "desc")]):
            self.bad(params)

    # -- limit, marker, links

    def test_default_page_is_25_with_links(self):
        body = self.list_page()
        self.assertGreater(len(self.expected()), 25)
        self.assertEqual(len(body["images"]), 25)
        self.assertEqual(body["first"], "/v2/images")
        self.assertEqual(body["schema"], "/v2/schemas/images")
        path, query = parse_link(body["next"])
        self.assertEqual((path, query), ("/v2/images", {"marker": [body["images"][-1]["id"]]}))
        # Following next until the end lists everything once, in order.
        self.assertEqual(self.list_ids(), self.list_ids({"limit": 1000}))

    def test_first_and_next_links_keep_the_query(self):
        params = {"tag": "bulk", "sort": "name:asc,size:desc", "limit": 7}
        body = self.list_page(params)
        self.assertEqual(len(body["images"]), 7)
        expect = {k: [str(v)] for k, v in params.items()}
        self.assertEqual(parse_link(body["first"]), ("/v2/images", expect))
        self.assertEqual(parse_link(body["next"]),
                         ("/v2/images", {**expect, "marker": [body["images"][-1]["id"]]}))
        # On the next page, first drops the marker again.
        resp = self.call("GET", body["next"], headers=JSON)
        self.assertEqual(resp.status, 200, resp)
        page2 = resp.json()
        self.assertEqual(parse_link(page2["first"]), ("/v2/images", expect))
        self.assertEqual(parse_link(page2["next"])[1]["marker"], [page2["images"][-1]["id"]])
        self.assertFalse({i["id"] for i in page2["images"]} & {i["id"] for i in body["images"]})

    def test_last_page_and_exact_fit(self):
        # A page shorter than limit has no next link.
        body = self.list_page({"tag": "bulk", "limit": BULK + 1})
        self.assertEqual(len(body["images"]), BULK)
        self.assertNotIn("next", body)
        # A full page has one even when nothing follows (Glance counts the page, it does
        # not look ahead); following it gives an empty page without next.
        body = self.list_page({"tag": "bulk", "limit": BULK})
        self.assertEqual(len(body["images"]), BULK)
        self.assertIn("next", body)
        resp = self.call("GET", body["next"], headers=JSON)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json()["images"], [])
        self.assertNotIn("next", resp.json())
        # limit=1 walks the list one image at a time.
        self.assertEqual(self.list_ids({"tag": "bulk", "limit": 1}),
                         self.list_ids({"tag": "bulk", "limit": 100}))

    def test_marker(self):
        ordered = self.list_ids({"tag": "bulk", "sort": "size:asc", "limit": 100})
        after = self.list_ids({"tag": "bulk", "sort": "size:asc", "limit": 100,
                               "marker": ordered[9]})
        self.assertEqual(after, ordered[10:])
        # Unknown marker: 400. Another project's private image: 403. A deleted image: 400.
        self.bad({"marker": str(uuid.uuid4())}, 400)
        self.bad({"marker": "not-an-image"}, 400)
        self.bad({"marker": self.fx["zeta"]["id"]}, 403)
        doomed = self.create(name="doomed")
        self.delete(doomed["id"])
        self.bad({"marker": doomed["id"]}, 400)
        # The owner may use it: the list continues after it.
        zeta = self.fx["zeta"]["id"]
        ordered = self.list_ids({"limit": 1000}, user="alt")
        self.assertEqual(self.list_ids({"marker": zeta, "limit": 1000}, user="alt"),
                         ordered[ordered.index(zeta) + 1:])

    def test_bad_limit(self):
        for value in ("-1", "abc", "1.5", ""):
            self.bad({"limit": value})

    # -- the clients

    def test_glanceclient_paging_and_filters(self):
        client = self.glance()
        got = [i.id for i in client.images.list(page_size=7, filters={"tag": ["bulk"]})]
        self.assertEqual(sorted(got), sorted(self.bulk))
        self.assertEqual(len(got), BULK)
        got = [i.id for i in client.images.list(page_size=3, limit=10, filters={"tag": ["bulk"]})]
        self.assertEqual(len(set(got)), 10)
        got = {i.id for i in client.images.list(filters={"tag": ["red", "blue"]})}
        self.assertEqual(got, self.ids("alpha"))
        got = [i.id for i in client.images.list(sort="name:asc,size:desc", page_size=4,
                                                 filters={"tag": ["bulk"]})]
        self.assertEqual(got, self.list_ids({"tag": "bulk", "sort": "name:asc,size:desc",
                                              "limit": 100}))
        got = [i.id for i in client.images.list(sort_key=["size", "name"], sort_dir=["asc", "desc"],
                                                 filters={"tag": ["bulk"]})]
        self.assertEqual(got, self.list_ids({"tag": "bulk", "sort": "size:asc,name:desc",
                                              "limit": 100}))
        got = {i.id for i in client.images.list(filters={"visibility": "shared",
                                                         "member_status": "pending"})}
        self.assertEqual(got, self.expected(visibility="shared", member_status="pending"))
        got = {i.id for i in client.images.list(filters={"os_hidden": "true"})}
        self.assertEqual(got, self.ids("hidden"))
        got = {i.id for i in client.images.list(filters={"name": 'in:alpha,"gamma,delta"'})}
        self.assertEqual(got, self.ids("alpha", "gamma,delta"))
        pivot = self.fx["late"]["created_at"]
        got = {i.id for i in client.images.list(filters={"created_at": f"gte:{pivot}"})}
        self.assertEqual(got, self.ids("late"), f"created_at=gte:{pivot}:\n"
                         f"{self.describe(got - self.ids('late'))}")
        with self.assertRaises(Exception) as ctx:  # glanceclient raises HTTPBadRequest
            list(client.images.list(filters={"visibility": "bogus"}))
        self.assertEqual(getattr(ctx.exception, "code", None), 400, repr(ctx.exception))

    def test_openstacksdk_filters(self):
        conn = self.sdk()
        image = conn.image

        def ids(**query):
            found = [i.id for i in image.images(**query)]
            self.assertEqual(len(found), len(set(found)), query)
            return set(found)

        self.assertEqual(ids(tag="bulk", limit=7), set(self.bulk))
        self.assertEqual(ids(name="alpha"), self.ids("alpha"))
        self.assertEqual(ids(tag=["red", "blue"]), self.ids("alpha"))
        self.assertEqual(ids(visibility="community"), self.ids("delta", "eta"))
        self.assertEqual(ids(owner=self.pid("alt")), self.ids("iota"))
        self.assertEqual(ids(visibility="shared", member_status="rejected")
                         - {i for i in self.images if self.images[i]["owner"] == self.pid("demo")},
                         self.ids("kappa"))
        self.assertEqual(ids(status="queued", protected="true"), self.ids("beta"))
        self.assertEqual(ids(size_min=150, size_max=250), self.ids("epsilon"))
        # What `openstack image list --hidden` sends: os_hidden=True.
        self.assertEqual(ids(is_hidden=True), self.ids("hidden"))
        pivot = self.fx["late"]["updated_at"]
        got = ids(updated_at=f"gte:{pivot}")
        self.assertEqual(got, self.ids("late"), f"updated_at=gte:{pivot}:\n"
                         f"{self.describe(got - self.ids('late'))}")
        ordered = [i.id for i in image.images(tag="bulk", sort="size:asc,name:desc", limit=5)]
        self.assertEqual(ordered, self.list_ids({"tag": "bulk", "sort": "size:asc,name:desc",
                                                  "limit": 100}))
        ordered = [i.id for i in image.images(tag="bulk", sort_key="name", sort_dir="asc")]
        self.assertEqual(ordered, self.list_ids({"tag": "bulk", "sort": "name:asc",
                                                  "limit": 100}))
        self.assert_sdk_error(400, lambda: list(image.images(sort_key="bogus")))


class ListPageSizeClampTest(ApiTestCase):
    """limit is clamped to 1000 (api_limit_max): needs more than 1000 images."""

    COUNT = 1001

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            t = cls()
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                cls.ids_created = set(pool.map(
                    lambda i: t.create(user="third", name=f"many-{i}")["id"], range(cls.COUNT)))
        except BaseException:
            cls.stack.stop(check=False)
            raise

    def test_limit_is_clamped_to_1000(self):
        for limit in (1001, 5000, 10 ** 9):
            body = self.list_page({"limit": limit}, user="third")
            self.assertEqual(len(body["images"]), 1000, limit)
            self.assertIn("next", body)
            resp = self.call("GET", body["next"], user="third", headers=JSON)
            self.assertEqual(resp.status, 200, resp)
            self.assertEqual(len(resp.json()["images"]), 1)
            self.assertNotIn("next", resp.json())
        self.assertEqual(len(self.list_page({"limit": 1000}, user="third")["images"]), 1000)
        self.assertEqual(len(self.list_page(user="third")["images"]), 25)

    def test_glanceclient_lists_everything(self):
        started = time.monotonic()
        for page_size in (5000, None):
            kwargs = {"page_size": page_size} if page_size else {}
            got = [i.id for i in self.glance("third").images.list(**kwargs)]
            self.assertEqual(len(got), self.COUNT)
            self.assertEqual(set(got), self.ids_created)
        self.assertLess(time.monotonic() - started, 60)


if __name__ == "__main__":
    unittest.main()
