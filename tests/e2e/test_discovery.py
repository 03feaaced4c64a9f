"""Discovery (glance-api-v2.md §1, §10.1, §11): the version document at / (300) and
/versions (200), /v2.N/ prefixes for every advertised N and the 300 answer for the others,
the member/members schemas as the clients read them, and /v2/info/usage without quotas."""

import re
import unittest

from gaze_api import ApiTestCase, JSON, MEMBER_KEYS

VERSION_ID = re.compile(r"^v2\.(\d+)$")


class DiscoveryTest(ApiTestCase):

    def versions(self):
        resp = self.call("GET", "/versions", user=None)
        self.assertEqual(resp.status, 200, resp)
        self.assertTrue(resp.headers.get("content-type", "").startswith("application/json"),
                        resp.headers)
        return resp.json()

    def advertised(self):
        return [v["id"] for v in self.versions()["versions"]]

    def test_version_documents(self):
        body = self.versions()
        self.assertEqual(list(body), ["versions"], body)
        entries = body["versions"]
        ids = [v["id"] for v in entries]
        self.assertEqual(len(ids), len(set(ids)), ids)
        for entry in entries:
            self.assertEqual(set(entry), {"id", "status", "links"}, entry)
            self.assertRegex(entry["id"], VERSION_ID)
            self.assertIn(entry["status"], ("CURRENT", "SUPPORTED", "EXPERIMENTAL"), entry)
            self.assertEqual(entry["links"], [{"rel": "self", "href": f"{self.stack.url}/v2/"}])
        self.assertEqual([e["status"] for e in entries].count("CURRENT"), 1, ids)
        # docs/decisions.md: a minor is advertised only when it and every one before it is
        # complete; 2.17 adds the location API, which Gaze does not serve, so the list stops
        # at 2.16, newest first.
        self.assertEqual([(e["id"], e["status"]) for e in entries],
                         [("v2.16", "CURRENT")]
                         + [(f"v2.{n}", "SUPPORTED") for n in range(15, -1, -1)])
        # The same document at / (300), before authentication, whatever the token.
        for token in (None, "gaze-not-a-token", self.stack.token("demo")):
            resp = self.call("GET", "/", user=None, token=token)
            self.assertEqual(resp.status, 300, resp)
            self.assertEqual(resp.json(), body)
            resp = self.call("GET", "/versions", user=None, token=token)
            self.assertEqual((resp.status, resp.json()), (200, body))
        # glanceclient's view of it.
        listed = [v.id if hasattr(v, "id") else v["id"] for v in self.glance().versions.list()]
        self.assertEqual(listed, ids)

    def test_advertised_prefixes_route_to_v2(self):
        image = self.create(name="discovery")["id"]
        expected = self.list_set({"limit": 1000})
        advertised = self.advertised()
        for version in advertised:
            resp = self.call("GET", f"/{version}/images?limit=1000", headers=JSON)
            self.assertEqual(resp.status, 200, f"/{version}/images: {resp!r}")
            self.assertEqual({i["id"] for i in resp.json()["images"]}, expected, version)
            resp = self.call("GET", f"/{version}/images/{image}", headers=JSON)
            self.assertEqual((resp.status, resp.json()["id"]), (200, image), version)
            self.assertEqual(self.call("GET", f"/{version}/schemas/member").status, 200)
        # Versions not advertised, and other majors, get the version document (300).
        minors = {int(VERSION_ID.match(v).group(1)) for v in advertised}
        others = [f"v2.{n}" for n in range(0, 20) if n not in minors] + ["v1", "v3", "v2.x"]
        for version in others:
            resp = self.call("GET", f"/{version}/images", headers=JSON)
            self.assertEqual(resp.status, 300, f"/{version}/images: {resp!r}")
            self.assertEqual(resp.json(), self.versions(), version)

    def test_member_schemas(self):
        resp = self.call("GET", "/v2/schemas/member", headers=JSON)
        self.assertEqual(resp.status, 200, resp)
        member = resp.json()
        self.assertEqual(member["name"], "member")
        self.assertEqual(set(member["properties"]), MEMBER_KEYS, member)
        self.assertEqual(member["properties"]["status"]["enum"],
                         ["pending", "accepted", "rejected"])
        for key in MEMBER_KEYS:
            self.assertEqual(member["properties"][key]["type"], "string", key)

        resp = self.call("GET", "/v2/schemas/members", headers=JSON)
        self.assertEqual(resp.status, 200, resp)
        members = resp.json()
        self.assertEqual(members["name"], "members")
        self.assertEqual(members["properties"]["members"]["type"], "array")
        self.assertEqual(members["properties"]["members"]["items"]["properties"],
                         member["properties"])
        self.assertEqual(members["properties"]["schema"], {"type": "string"})
        self.assertIn({"rel": "describedby", "href": "{schema}"}, members["links"])

        for path in ("/v2/schemas/member", "/v2/schemas/members"):
            for method in ("POST", "PUT", "DELETE"):
                resp = self.expect_error(method, path, 405)
                self.assertEqual(resp.headers.get("allow"), "GET", resp.headers)
            # Any authenticated user reads them, readers included.
            self.assertEqual(self.call("GET", path, user="reader").status, 200)
            self.expect_error("GET", path, 401, user=None)

        # What the clients make of them.
        schema = self.glance().schemas.get("member")
        self.assertEqual(set(schema.raw()["properties"]), MEMBER_KEYS)
        conn = self.sdk()
        self.assertEqual(set(conn.image.get_member_schema().properties), MEMBER_KEYS)
        self.assertEqual(conn.image.get_members_schema().properties["members"]["type"], "array")
        # glanceclient builds its member model from the schema and validates against it.
        image = self.create(visibility="shared")["id"]
        created = self.glance().image_members.create(image, self.pid("alt"))
        self.assertEqual(created.status, "pending")

    def test_usage_without_quotas(self):
        for user in ("demo", "admin", "reader"):
            resp = self.call("GET", "/v2/info/usage", user=user, headers=JSON)
            self.assertEqual((resp.status, resp.json()), (200, {"usage": {}}), user)
        self.assertEqual(self.glance().info.get_usage(), {})


if __name__ == "__main__":
    unittest.main()
