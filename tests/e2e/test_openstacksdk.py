"""The whole life of an image through openstacksdk (what the `openstack` CLI, ansible and
many tools use), authenticated with a static token against the /v2 endpoint."""

import os
import tempfile
import unittest

import openstack
import openstack.exceptions

from gaze_stack import StackTestCase, digest_file, make_random_file

SIZE = 64 * 1024 * 1024


class OpenstacksdkLifecycleTest(StackTestCase):
    def connect(self, project="demo"):
        # The endpoint must include /v2: from the bare root the SDK follows the version
        # document and then looks for "images" in the wrong place.
        return openstack.connection.Connection(
            auth_type="admin_token",
            auth={"endpoint": f"{self.stack.url}/v2", "token": self.stack.token(project)},
            image_api_version="2")

    def test_create_upload_download_update_delete(self):
        conn = self.connect()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "disk.img")
            md5, sha512 = make_random_file(path, SIZE)

            # Creates (recording md5 in owner_specified.openstack.md5), then uploads with
            # PUT /file. (Given a filename instead, the SDK leaves the file open.)
            with open(path, "rb") as f:
                image = conn.image.create_image(
                    "e2e-sdk", data=f, disk_format="raw", container_format="bare", md5=md5,
                    allow_duplicates=True)

            shown = conn.image.get_image(image.id)
            self.assertEqual(shown.status, "active")
            self.assertEqual(shown.size, SIZE)
            self.assertEqual(shown.checksum, md5)
            self.assertEqual(shown.hash_algo, "sha512")
            self.assertEqual(shown.hash_value, sha512)
            self.assertEqual(shown.owner_id, self.stack.project_id("demo"))
            self.assertEqual(shown.properties.get("owner_specified.openstack.md5"), md5)

            # The SDK checks the download against Content-MD5 / checksum itself.
            out = os.path.join(tmp, "download.img")
            conn.image.download_image(image, output=out, chunk_size=1 << 20)
            self.assertEqual(digest_file(out), (SIZE, md5, sha512))

        self.assertIn(image.id, [i.id for i in conn.image.images()])

        conn.image.update_image(image, name="e2e-sdk-renamed", os_distro="debian")
        shown = conn.image.get_image(image.id)
        self.assertEqual(shown.name, "e2e-sdk-renamed")
        self.assertEqual(shown.os_distro, "debian")
        self.assertEqual((shown.status, shown.size, shown.checksum), ("active", SIZE, md5))

        conn.image.delete_image(image, ignore_missing=False)
        with self.assertRaises(openstack.exceptions.ResourceNotFound):
            conn.image.get_image(image.id)
        self.assertNotIn(image.id, [i.id for i in conn.image.images()])
        self.stack.wait_no_files(image.id)


if __name__ == "__main__":
    unittest.main()
