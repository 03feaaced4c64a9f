"""The tenant boundary (issue 5, item 6): a generated test over every route × every caller,
against a gateway that authenticates with Keystone.

Routes (api-gateway/routes.cc, all of them, plus version discovery): list (default, and
visibility=all&member_status=all), create (private, shared, public, community), usage, import
discovery, the six schemas, GET / and GET /versions, the task list and one import task; and
per image visibility (private, shared, public, community): show, update (JSON patch),
delete, download, upload, stage, import (web-download), the image's tasks, add tag, delete
tag, deactivate, reactivate, list members, add member, show / update / delete the accepted
member's record, show / update / delete the caller's own record. (POST /v2/tasks, 501, and
DELETE /v2/tasks/{id}, 405, answer the same to every valid caller: test_import.py.)

Callers, all real Keystone tokens: owner (member of the owning project, demo), reader (reader
in the owning project, demo-reader), other (member of another project, alt), accepted,
pending and rejected members of the shared images (their own projects), admin, no token, a
revoked token (the owner's, DELETE /v3/auth/tokens), a truly expired token (the owner's,
from an application credential that expired: Keystone answers 404 to it, 200 with
allow_expired), and a token of a project deleted after the token was issued.

Each of the 1078 cells (98 route variants × 11 callers) asserts the exact status from the
contract (glance-api-v2.md §8, §9, §17.1 defaults; invisible → 404, visible but denied → 403,
no valid token → 401 with WWW-Authenticate naming Keystone), the Glance-shaped error body,
and that no image the caller may not see leaks: none of its id, name, property value or tag,
and no project id the caller has no business knowing, appears in any response body or header.
Fixtures are made once; a cell that should change something gets a fresh image; at the end
every fixture must be exactly as it was. Lists must hold exactly the images §9.2 says.
"""

import secrets
import time
import unittest

from gaze_api import ApiTestCase, JSON, PATCH_21, TITLES
from gaze_keystone import Identities, KeystoneGazeStack
from gaze_stack import wait_until

DOCUMENTED_CELLS = 1078

VISIBILITIES = ("private", "shared", "public", "community")
CALLERS = ("owner", "reader", "other", "accepted", "pending", "rejected", "admin",
           "no_token", "revoked", "expired", "deleted_project")
INVALID = ("no_token", "revoked", "expired", "deleted_project")
MEMBERS = ("accepted", "pending", "rejected")  # member callers, by their member status
DATA = b"tenant-matrix-bytes"


class Image:
    """An image the matrix knows, with the markers that must not leak."""

    def __init__(self, image_id, owner, visibility, name, prop, tag, members=()):
        self.id, self.owner, self.visibility = image_id, owner, visibility
        self.name, self.prop, self.tag = name, prop, tag
        self.members = dict(members)  # project id -> status
        self.deleted = False

    @property
    def markers(self):
        return [m for m in (self.id, self.name, self.prop, self.tag) if m]


# --- expected statuses -----------------------------------------------------------------------
# `c` is a valid caller (invalid ones get 401 before these are asked), `v` the visibility of
# the owner's image the route is aimed at. The fixtures' members are accepted, pending and
# rejected; none of the other callers' projects is a member.


def sees(c, v):
    """§9.1: who sees the owner's image of visibility v."""
    if c == "admin" or v in ("public", "community"):
        return True
    if c in ("owner", "reader"):
        return True
    return v == "shared" and c in MEMBERS


def owner_change(c, v, ok):
    """modify/delete/upload/tags/deactivate/reactivate: A or M(owner)."""
    if not sees(c, v):
        return 404
    return ok if c in ("owner", "admin") else 403


def download(c, v):
    if not sees(c, v):
        return 404
    return 403 if c == "reader" else 200


def list_members(c, v):
    if not sees(c, v):
        return 404
    return 200 if v == "shared" else 403


def add_member(c, v):
    if not sees(c, v):
        return 404
    return 200 if v == "shared" and c in ("owner", "admin") else 403


def show_accepted(c, v):
    if not sees(c, v) or v != "shared":
        return 404
    return 200 if c in ("owner", "reader", "admin", "accepted") else 404


def update_accepted(c, v):
    # §8.1: only the member project itself or an admin; everyone else who sees the image
    # gets 403 — also another member, who cannot read the record (GET is 404). Glance
    # looks the record up first and answers that member 404; Gaze's 403 is the same for
    # every member id, existing or not, so it tells nothing either.
    if not sees(c, v):
        return 404
    if v != "shared":
        return 403
    return 200 if c in ("accepted", "admin") else 403


def delete_accepted(c, v):
    if not sees(c, v):
        return 404
    if v != "shared":
        return 403
    return 204 if c in ("owner", "admin") else 403


def show_self(c, v):
    if not sees(c, v) or v != "shared":
        return 404
    return 200 if c in MEMBERS else 404


def update_self(c, v):
    if not sees(c, v):
        return 404
    if v != "shared":
        return 403
    if c in MEMBERS:
        return 200
    # The owner project may not set member statuses at all (§8.1: 403, before any lookup);
    # the admin may, but its project is no member: no such record.
    return 404 if c == "admin" else 403


def delete_self(c, v):
    if not sees(c, v):
        return 404
    if v != "shared":
        return 403
    return 404 if c in ("owner", "admin") else 403  # policy first; owner/admin: no record


def admin_only(c, v):
    """Glance's tasks_api_access default: role:admin."""
    return 200 if c == "admin" else 403


# web-download from a source no worker may reach (loopback is refused unless allowed): the
# import is accepted, its task fails, and the image returns to queued.
UNREACHABLE_SOURCE = "http://127.0.0.1:9/tenant-matrix.img"


def create(c, v):
    if c == "reader":
        return 403
    if v == "public":
        return 201 if c == "admin" else 403
    return 201


class Route:
    def __init__(self, name, method, path, expect, state=None, body=None, mutating=None,
                 headers=None, check=None, per_visibility=True, needs_token=True):
        self.name, self.method, self.path = name, method, path
        self.expect_fn, self.state, self.body = expect, state, body
        self.mutating = method not in ("GET", "HEAD") if mutating is None else mutating
        self.headers, self.check = headers or {}, check
        self.per_visibility, self.needs_token = per_visibility, needs_token

    def expect(self, caller, visibility):
        if self.needs_token and caller in INVALID:
            return 401
        return self.expect_fn(caller, visibility)


def routes():
    """The route variants. Paths and bodies are callables of (test, caller, image) so each
    cell gets its own ids."""
    image = "/v2/images/{image}"
    return [
        Route("GET /v2/images", "GET", lambda t, c, i: "/v2/images?limit=1000",
              lambda c, v: 200, per_visibility=False, check="list_default"),
        Route("GET /v2/images?visibility=all&member_status=all", "GET",
              lambda t, c, i: "/v2/images?limit=1000&visibility=all&member_status=all",
              lambda c, v: 200, per_visibility=False, check="list_all"),
        *[Route(f"POST /v2/images (visibility {v})", "POST", lambda t, c, i: "/v2/images",
                (lambda vis: lambda c, _: create(c, vis))(v), per_visibility=False,
                body=(lambda vis: lambda t, c, i: {
                    "name": f"mx-new-{secrets.token_hex(5)}", "disk_format": "raw",
                    "container_format": "bare", "visibility": vis})(v),
                check="created") for v in VISIBILITIES],
        Route("GET /v2/info/usage", "GET", lambda t, c, i: "/v2/info/usage",
              lambda c, v: 200, per_visibility=False),
        Route("GET /v2/info/import", "GET", lambda t, c, i: "/v2/info/import",
              lambda c, v: 200, per_visibility=False),
        *[Route(f"GET /v2/schemas/{s}", "GET", (lambda s: lambda t, c, i: f"/v2/schemas/{s}")(s),
                lambda c, v: 200, per_visibility=False)
          for s in ("image", "images", "member", "members", "task", "tasks")],
        Route("GET /v2/tasks", "GET", lambda t, c, i: "/v2/tasks?limit=1000", admin_only,
              per_visibility=False, check="tasks_listed"),
        Route("GET /v2/tasks/{task}", "GET", lambda t, c, i: f"/v2/tasks/{t.task_id}",
              admin_only, per_visibility=False, check="task_shown"),
        Route("GET /", "GET", lambda t, c, i: "/", lambda c, v: 300, per_visibility=False,
              needs_token=False),
        Route("GET /versions", "GET", lambda t, c, i: "/versions", lambda c, v: 200,
              per_visibility=False, needs_token=False),
        # per visibility of the owner's image
        Route(f"GET {image}", "GET", lambda t, c, i: f"/v2/images/{i.id}",
              lambda c, v: 200 if sees(c, v) else 404, state="active", check="shown"),
        Route(f"PATCH {image}", "PATCH", lambda t, c, i: f"/v2/images/{i.id}",
              lambda c, v: owner_change(c, v, 200), state="active",
              body=lambda t, c, i: [{"op": "add", "path": "/mx_patched", "value": "yes"}],
              headers={"Content-Type": PATCH_21}, check="patched"),
        Route(f"DELETE {image}", "DELETE", lambda t, c, i: f"/v2/images/{i.id}",
              lambda c, v: owner_change(c, v, 204), state="active", check="deleted"),
        Route(f"GET {image}/file", "GET", lambda t, c, i: f"/v2/images/{i.id}/file",
              download, state="active", check="downloaded"),
        Route(f"PUT {image}/file", "PUT", lambda t, c, i: f"/v2/images/{i.id}/file",
              lambda c, v: owner_change(c, v, 204), state="queued",
              body=lambda t, c, i: DATA, headers={"Content-Type": "application/octet-stream"},
              check="uploaded"),
        Route(f"PUT {image}/stage", "PUT", lambda t, c, i: f"/v2/images/{i.id}/stage",
              lambda c, v: owner_change(c, v, 204), state="queued",
              body=lambda t, c, i: DATA, headers={"Content-Type": "application/octet-stream"},
              check="staged"),
        Route(f"POST {image}/import", "POST", lambda t, c, i: f"/v2/images/{i.id}/import",
              lambda c, v: owner_change(c, v, 202), state="queued",
              body=lambda t, c, i: {"method": {"name": "web-download",
                                               "uri": UNREACHABLE_SOURCE}},
              check="import_started"),
        Route(f"GET {image}/tasks", "GET", lambda t, c, i: f"/v2/images/{i.id}/tasks",
              lambda c, v: 200 if sees(c, v) else 404, state="active", check="no_tasks"),
        Route(f"PUT {image}/tags/{{tag}}", "PUT",
              lambda t, c, i: f"/v2/images/{i.id}/tags/mx-newtag-{secrets.token_hex(4)}",
              lambda c, v: owner_change(c, v, 204), state="active"),
        Route(f"DELETE {image}/tags/{{tag}}", "DELETE",
              lambda t, c, i: f"/v2/images/{i.id}/tags/{i.tag}",
              lambda c, v: owner_change(c, v, 204), state="active", check="untagged"),
        Route(f"POST {image}/actions/deactivate", "POST",
              lambda t, c, i: f"/v2/images/{i.id}/actions/deactivate",
              lambda c, v: owner_change(c, v, 204), state="active", check="deactivated"),
        Route(f"POST {image}/actions/reactivate", "POST",
              lambda t, c, i: f"/v2/images/{i.id}/actions/reactivate",
              lambda c, v: owner_change(c, v, 204), state="deactivated", check="reactivated"),
        Route(f"GET {image}/members", "GET", lambda t, c, i: f"/v2/images/{i.id}/members",
              list_members, state="active", check="members"),
        Route(f"POST {image}/members", "POST", lambda t, c, i: f"/v2/images/{i.id}/members",
              add_member, state="active",
              body=lambda t, c, i: {"member": f"mx-newmember-{secrets.token_hex(4)}"},
              check="member_added"),
        Route(f"GET {image}/members/{{accepted}}", "GET",
              lambda t, c, i: f"/v2/images/{i.id}/members/{t.project['accepted']}",
              show_accepted, state="active", check="member_shown"),
        Route(f"PUT {image}/members/{{accepted}}", "PUT",
              lambda t, c, i: f"/v2/images/{i.id}/members/{t.project['accepted']}",
              update_accepted, state="active", body=lambda t, c, i: {"status": "accepted"},
              check="member_updated"),
        Route(f"DELETE {image}/members/{{accepted}}", "DELETE",
              lambda t, c, i: f"/v2/images/{i.id}/members/{t.project['accepted']}",
              delete_accepted, state="active", check="member_deleted"),
        Route(f"GET {image}/members/{{own project}}", "GET",
              lambda t, c, i: f"/v2/images/{i.id}/members/{t.project[c]}",
              show_self, state="active", check="member_shown"),
        Route(f"PUT {image}/members/{{own project}}", "PUT",
              lambda t, c, i: f"/v2/images/{i.id}/members/{t.project[c]}",
              update_self, state="active",
              body=lambda t, c, i: {"status": c if c in MEMBERS else "accepted"},
              check="member_updated"),
        Route(f"DELETE {image}/members/{{own project}}", "DELETE",
              lambda t, c, i: f"/v2/images/{i.id}/members/{t.project[c]}",
              delete_self, state="active", check="member_deleted"),
    ]


def cells():
    """[(route, visibility or None, caller)] in the order they run."""
    out = []
    for route in routes():
        for visibility in (VISIBILITIES if route.per_visibility else (None,)):
            for caller in CALLERS:
                out.append((route, visibility, caller))
    return out


class TenantMatrixTest(ApiTestCase):
    stack_class = KeystoneGazeStack

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cleanups = []
        try:
            cls.set_up_identities()
            cls.set_up_images()
        except BaseException:
            cls.tear_down_fixtures()
            cls.stack.stop(check=False)
            raise

    @classmethod
    def tearDownClass(cls):
        try:
            cls.tear_down_fixtures()
        finally:
            super().tearDownClass()

    @classmethod
    def tear_down_fixtures(cls):
        problems = []
        for cleanup in reversed(cls.cleanups):
            try:
                cleanup()
            except (AssertionError, OSError) as e:
                problems.append(str(e))
        cls.cleanups = []
        if problems:
            raise AssertionError("\n".join(problems))

    # -- fixtures

    @classmethod
    def set_up_identities(cls):
        started = time.monotonic()
        ks = cls.stack.keystone
        identities = Identities(ks, "gaze-e2e-mx")
        cls.cleanups.append(identities.cleanup)
        # The expired token first: its credential expires while the rest is set up.
        owner_token = ks.password_token("demo")
        expired, delete_credential = ks.app_credential_token(owner_token, 4)
        cls.cleanups.append(delete_credential)
        revoked = ks.password_token("demo")
        ks.revoke(revoked)
        cls.tokens = {"owner": owner_token, "reader": ks.password_token("demo-reader"),
                      "other": ks.password_token("alt"), "admin": ks.password_token("admin"),
                      "no_token": None, "revoked": revoked, "expired": expired}
        accounts = {c: identities.account(c) for c in (*MEMBERS, "deleted_project")}
        for caller in MEMBERS:
            cls.tokens[caller] = accounts[caller].token(ks)
        gone = accounts["deleted_project"]
        cls.tokens["deleted_project"] = gone.token(ks)
        ks.delete_project(gone.project_id)
        cls.project = {c: t.project_id for c, t in cls.tokens.items() if t is not None}
        cls.project["no_token"] = "no-project"
        cls.project["deleted_project"] = gone.project_id
        cls.all_projects = {p for c, p in cls.project.items() if c != "no_token"}
        assert cls.project["owner"] == cls.project["reader"] == cls.project["revoked"]
        # None of the invalid tokens may have reached the gateway: it would cache them.
        for caller in ("revoked", "deleted_project"):
            assert ks.validate(cls.tokens[caller]) == 404, caller
        cls.identity_seconds = time.monotonic() - started

    @classmethod
    def request_as(cls, caller, method, path, body=None, headers=None):
        return cls.stack.request(method, path, token=cls.tokens[caller], body=body,
                                 headers={**JSON, **(headers or {})})

    @classmethod
    def must(cls, caller, method, path, status, body=None, headers=None):
        resp = cls.request_as(caller, method, path, body, headers)
        if resp.status != status:
            raise AssertionError(f"setting up, {caller}: {method} {path} -> {resp!r}")
        return resp

    @classmethod
    def make_image(cls, visibility, state, creator="owner", owner=None):
        """An image of creator's project (or of owner, set by the admin) with markers;
        shared images get the three members with their statuses."""
        mark = secrets.token_hex(5)
        name, prop, tag = f"mx-{visibility}-{state}-{mark}", f"mxv-{mark}", f"mxt-{mark}"
        body = {"name": name, "disk_format": "raw", "container_format": "bare",
                "visibility": "shared" if visibility == "public" else visibility,
                "mx_secret": prop, "tags": [tag]}
        if owner is not None:
            body["owner"] = owner
            creator = "admin"
        created = cls.must(creator, "POST", "/v2/images", 201, body).json()
        image = Image(created["id"], created["owner"], visibility, name, prop, tag)
        cls.images[image.id] = image
        base = f"/v2/images/{image.id}"
        if visibility == "public":
            cls.must("admin", "PATCH", base, 200,
                     [{"op": "replace", "path": "/visibility", "value": "public"}],
                     {"Content-Type": PATCH_21})
        if state != "queued":
            cls.must("admin", "PUT", f"{base}/file", 204, DATA,
                     {"Content-Type": "application/octet-stream"})
        if state == "deactivated":
            cls.must("admin", "POST", f"{base}/actions/deactivate", 204)
        if visibility == "shared" and creator == "owner" and owner is None:
            for caller in MEMBERS:
                cls.must("admin", "POST", f"{base}/members", 200,
                         {"member": cls.project[caller]})
                if caller != "pending":
                    cls.must("admin", "PUT", f"{base}/members/{cls.project[caller]}", 200,
                             {"status": caller})
                image.members[cls.project[caller]] = caller
        return image

    @classmethod
    def make_imported_image(cls):
        """A private image of the owner's, imported with glance-direct: it has a task."""
        image = cls.make_image("private", "queued")
        base = f"/v2/images/{image.id}"
        cls.must("owner", "PUT", f"{base}/stage", 204, DATA,
                 {"Content-Type": "application/octet-stream"})
        cls.must("owner", "POST", f"{base}/import", 202, {"method": {"name": "glance-direct"}})
        wait_until(lambda: cls.must("owner", "GET", base, 200).json()["status"] == "active",
                   60, "the glance-direct import to finish", interval=0.2)
        return image

    @classmethod
    def set_up_images(cls):
        started = time.monotonic()
        cls.images = {}
        cls.fixtures = {(v, s): cls.make_image(v, s) for v in VISIBILITIES
                        for s in ("active", "queued", "deactivated")}
        # Other projects' images, which must never show up where they are not visible.
        cls.foreign = [cls.make_image("private", "active", "other"),
                       cls.make_image("shared", "active", "other"),
                       cls.make_image("private", "active", "admin")]
        cls.foreign += [cls.make_image("private", "active", c) for c in MEMBERS]
        cls.foreign.append(cls.make_image("private", "active",
                                          owner=cls.project["deleted_project"]))
        cls.task_image = cls.make_imported_image()
        cls.task_id = cls.must("owner", "GET", f"/v2/images/{cls.task_image.id}/tasks",
                               200).json()["tasks"][0]["id"]
        cls.snapshot = {i.id: cls.state_of(i.id) for i in cls.fixtures.values()}
        wait_until(lambda: cls.stack.keystone.validate(cls.tokens["expired"]) == 404, 60,
                   "the application credential's token to expire", interval=0.2)
        assert cls.stack.keystone.validate(cls.tokens["expired"], allow_expired=True) == 200
        cls.image_seconds = time.monotonic() - started

    @classmethod
    def state_of(cls, image_id):
        image = cls.must("admin", "GET", f"/v2/images/{image_id}", 200).json()
        members = None
        if image["visibility"] == "shared":
            members = sorted((m["member_id"], m["status"], m["updated_at"]) for m in cls.must(
                "admin", "GET", f"/v2/images/{image_id}/members", 200).json()["members"])
        return image, members

    def fresh_image(self, visibility, state):
        return self.make_image(visibility, state)

    def discard(self, image):
        if not image.deleted:
            status = self.request_as("admin", "DELETE", f"/v2/images/{image.id}").status
            if status not in (204, 404):  # 404: a cell deleted it
                raise AssertionError(f"could not delete {image.name}: {status}")
            image.deleted = True

    # -- what may be seen

    def visible(self, caller, image):
        if caller in INVALID or image.deleted:
            return False
        if caller == "admin" or image.visibility in ("public", "community"):
            return True
        if image.owner == self.project[caller]:
            return True
        return image.visibility == "shared" and self.project[caller] in image.members

    def listed(self, caller, everything):
        """§9.2: the known images a list shows (everything: visibility=all&member_status=all)."""
        mine = self.project[caller]
        out = set()
        for image in self.images.values():
            if image.deleted:
                continue
            if caller == "admin":
                if everything or image.visibility != "community" or image.owner == mine:
                    out.add(image.id)
                continue
            status = image.members.get(mine)
            if (image.visibility == "public" or image.owner == mine
                    or (image.visibility == "community" and everything)
                    or (image.visibility == "shared" and status is not None
                        and (everything or status == "accepted"))):
                out.add(image.id)
        return out

    def forbidden(self, caller, sent):
        """Strings that must not appear in an answer to caller: the markers of every image
        it may not see, and project ids it has no business knowing, minus what it sent."""
        out = set()
        for image in self.images.values():
            if not self.visible(caller, image):
                out.update(image.markers)
        if caller != "admin":
            known = set()
            if caller not in INVALID:
                known = {self.project[caller], self.project["owner"]}
                if caller in ("owner", "reader"):
                    known |= {self.project[c] for c in MEMBERS}
            out |= self.all_projects - known
        return {s for s in out if s not in sent}

    # -- the cells

    def run_cell(self, route, visibility, caller):
        expected = route.expect(caller, visibility)
        image, fresh = None, False
        if route.per_visibility:
            fresh = route.mutating and 200 <= expected < 300
            image = (self.fresh_image(visibility, route.state) if fresh
                     else self.fixtures[(visibility, route.state)])
        path = route.path(self, caller, image)
        body = route.body(self, caller, image) if route.body else None
        resp = self.request_as(caller, route.method, path, body, route.headers)
        problems = []
        if resp.status != expected:
            problems.append(f"status {resp.status}, expected {expected}: {resp.body[:160]!r}")
        elif resp.status >= 400:
            problems += self.error_problems(resp)
        if resp.status == 401 and resp.headers.get("www-authenticate") != (
                f'Keystone uri="{self.stack.keystone_url}"'):
            problems.append(f"401 with WWW-Authenticate {resp.headers.get('www-authenticate')!r}")
        # Anything the response names that the caller must not know.
        created = None
        if route.check == "created" and resp.status == 201:
            data = resp.json()
            created = Image(data["id"], data["owner"], data["visibility"], data["name"],
                            None, None)
            self.images[created.id] = created
        sent = path + repr(body)
        text = resp.body.decode(errors="replace") + "\n" + "\n".join(
            f"{k}: {v}" for k, v in resp.headers.items())
        leaked = sorted(s for s in self.forbidden(caller, sent) if s in text)
        if leaked:
            problems.append(f"leaks {leaked} in {text[:300]!r}")
        if not problems and resp.status == expected and 200 <= expected < 300 and route.check:
            problems += getattr(self, f"check_{route.check}")(caller, image, resp, body)
        if created is not None:
            self.discard(created)
        if fresh:
            self.discard(image)
        return resp.status, problems

    def error_problems(self, resp):
        try:
            body = resp.json()
        except ValueError:
            return [f"error body is not JSON: {resp.body[:200]!r}"]
        code = f"{resp.status} {TITLES.get(resp.status, '?')}"
        if set(body) != {"message", "code", "title"} or body["code"] != code:
            return [f"error body {body} is not webob's for {code}"]
        return []

    # -- checks of successful cells

    def check_list(self, caller, resp, everything):
        found = {i["id"] for i in resp.json()["images"]} & set(self.images)
        expected = self.listed(caller, everything)
        if found != expected:
            names = {i: self.images[i].name for i in found ^ expected}
            return [f"list: extra {sorted(names[i] for i in found - expected)}, "
                    f"missing {sorted(names[i] for i in expected - found)}"]
        return []

    def check_list_default(self, caller, image, resp, body):
        return self.check_list(caller, resp, everything=False)

    def check_list_all(self, caller, image, resp, body):
        return self.check_list(caller, resp, everything=True)

    def check_created(self, caller, image, resp, body):
        data = resp.json()
        want = (self.project[caller], body["visibility"], body["name"])
        got = (data["owner"], data["visibility"], data["name"])
        location = resp.headers.get("location", "")
        problems = [] if got == want else [f"created {got}, expected {want}"]
        if location != f"{self.stack.url}/v2/images/{data['id']}":
            problems.append(f"Location {location!r}")
        return problems

    def check_shown(self, caller, image, resp, body):
        data = resp.json()
        got = (data["id"], data["name"], data.get("mx_secret"), data["tags"])
        want = (image.id, image.name, image.prop, [image.tag])
        return [] if got == want else [f"shown {got}, expected {want}"]

    def check_downloaded(self, caller, image, resp, body):
        return [] if resp.body == DATA else [f"downloaded {resp.body[:50]!r}"]

    def admin_view(self, image):
        return self.must("admin", "GET", f"/v2/images/{image.id}", 200).json()

    def check_patched(self, caller, image, resp, body):
        return [] if self.admin_view(image).get("mx_patched") == "yes" else ["not patched"]

    def check_deleted(self, caller, image, resp, body):
        image.deleted = True
        status = self.request_as("admin", "GET", f"/v2/images/{image.id}").status
        return [] if status == 404 else [f"deleted image shows {status} to the admin"]

    def check_uploaded(self, caller, image, resp, body):
        data = self.admin_view(image)
        return [] if (data["status"], data["size"]) == ("active", len(DATA)) else [
            f"after the upload: {data['status']}, {data['size']}"]

    def check_staged(self, caller, image, resp, body):
        data = self.admin_view(image)
        return [] if data["status"] == "uploading" else [f"{data['status']} after staging"]

    def check_import_started(self, caller, image, resp, body):
        tasks = self.must("admin", "GET", f"/v2/images/{image.id}/tasks", 200).json()["tasks"]
        if [t["input"]["import_req"]["method"]["uri"] for t in tasks] != [UNREACHABLE_SOURCE]:
            return [f"tasks after the import: {tasks}"]
        return []

    def check_no_tasks(self, caller, image, resp, body):
        tasks = resp.json()["tasks"]
        return [] if tasks == [] else [f"tasks of a fixture: {tasks}"]

    def check_tasks_listed(self, caller, image, resp, body):
        ids = [t["id"] for t in resp.json()["tasks"]]
        return [] if self.task_id in ids else [f"{self.task_id} not in {ids}"]

    def check_task_shown(self, caller, image, resp, body):
        task = resp.json()
        got = (task["id"], task["type"], task["status"], task["owner"],
               task["input"]["image_id"])
        want = (self.task_id, "api_image_import", "success", self.project["owner"],
                self.task_image.id)
        return [] if got == want else [f"task {got}, expected {want}"]

    def check_untagged(self, caller, image, resp, body):
        tags = self.admin_view(image)["tags"]
        return [] if tags == [] else [f"tags left: {tags}"]

    def check_deactivated(self, caller, image, resp, body):
        status = self.admin_view(image)["status"]
        return [] if status == "deactivated" else [f"status {status} after deactivate"]

    def check_reactivated(self, caller, image, resp, body):
        status = self.admin_view(image)["status"]
        return [] if status == "active" else [f"status {status} after reactivate"]

    def check_members(self, caller, image, resp, body):
        got = sorted((m["member_id"], m["status"]) for m in resp.json()["members"])
        if caller in ("owner", "reader", "admin"):
            want = sorted(image.members.items())
        else:
            want = [(self.project[caller], caller)]
        return [] if got == want else [f"members {got}, expected {want}"]

    def check_member_added(self, caller, image, resp, body):
        data = resp.json()
        got = (data["member_id"], data["status"], data["image_id"])
        want = (body["member"], "pending", image.id)
        return [] if got == want else [f"added {got}, expected {want}"]

    def check_member_shown(self, caller, image, resp, body):
        data = resp.json()
        member = resp.json()["member_id"]
        got = (data["image_id"], data["status"])
        want = (image.id, image.members.get(member))
        return [] if got == want else [f"member {got}, expected {want}"]

    def check_member_updated(self, caller, image, resp, body):
        data = resp.json()
        return [] if data["status"] == body["status"] else [f"member now {data}"]

    def check_member_deleted(self, caller, image, resp, body):
        members = [m["member_id"] for m in self.must(
            "admin", "GET", f"/v2/images/{image.id}/members", 200).json()["members"]]
        return [] if self.project["accepted"] not in members else ["member still there"]

    # -- the test

    def test_leak_detector_is_not_blind(self):
        # The checks the cells make catch what they are meant to catch.
        private = self.fixtures[("private", "active")]
        forbidden = self.forbidden("other", sent="")
        for marker in private.markers + [self.project["accepted"], self.project["admin"]]:
            self.assertIn(marker, forbidden)
        self.assertNotIn(self.fixtures[("public", "active")].name, forbidden)
        self.assertNotIn(private.id, self.forbidden("other", sent=f"/v2/images/{private.id}"))
        # The admin may see everything but deleted images (other tests may have run).
        self.assertEqual(self.forbidden("admin", sent=""),
                         {m for i in self.images.values() if i.deleted for m in i.markers})
        self.assertGreaterEqual(len(self.listed("owner", False)), 12)
        self.assertIn(self.fixtures[("shared", "active")].id, self.listed("accepted", False))
        self.assertNotIn(self.fixtures[("shared", "active")].id, self.listed("pending", False))
        self.assertIn(self.fixtures[("shared", "active")].id, self.listed("pending", True))

    def test_documented_cell_count(self):
        self.assertEqual(len(cells()), DOCUMENTED_CELLS,
                         "update DOCUMENTED_CELLS and the module docstring")
        self.assertIn(f"{DOCUMENTED_CELLS} cells", __doc__.replace("\n", " "))

    def test_every_route_and_caller(self):
        started = time.monotonic()
        all_cells = cells()
        problems, table = [], {}
        for route, visibility, caller in all_cells:
            status, found = self.run_cell(route, visibility, caller)
            row = route.name + (f" [{visibility}]" if visibility else "")
            table.setdefault(row, {})[caller] = status
            problems += [f"{row} as {caller}: {p}" for p in found]
        after = {i.id: self.state_of(i.id) for i in self.fixtures.values()}
        for image_id, before in self.snapshot.items():
            if after[image_id] != before:
                problems.append(f"fixture {self.images[image_id].name} changed:\n"
                                f"  before {before}\n  after  {after[image_id]}")
        width = max(len(r) for r in table)
        lines = [f"{'':{width}}  " + " ".join(f"{c[:8]:>8}" for c in CALLERS)]
        lines += [f"{row:{width}}  " + " ".join(f"{statuses[c]:>8}" for c in CALLERS)
                  for row, statuses in table.items()]
        print(f"\ntenant matrix: {len(all_cells)} cells ({len(table)} route variants x "
              f"{len(CALLERS)} callers) in {time.monotonic() - started:.1f}s; set-up "
              f"{self.identity_seconds:.1f}s (Keystone) + {self.image_seconds:.1f}s (images)"
              f"\n" + "\n".join(lines))
        self.assertEqual(problems, [], f"{len(problems)} of {len(all_cells)} cells wrong:\n"
                         + "\n".join(problems))


if __name__ == "__main__":
    unittest.main()
