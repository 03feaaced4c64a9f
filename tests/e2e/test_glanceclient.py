"""The whole life of an image through python-glanceclient, as nova and the `glance` CLI
use it: create, upload 64 MiB, show, download, list, update, delete."""

import os
import tempfile
import unittest

import glanceclient
import glanceclient.exc

from gaze_stack import StackTestCase, digest_chunks, make_random_file

SIZE = 64 * 1024 * 1024


class GlanceclientLifecycleTest(StackTestCase):
    def client(self, project="demo"):
        return glanceclient.Client("2", endpoint=self.stack.url, token=self.stack.token(project))

    def test_create_upload_download_update_delete(self):
        client = self.client()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "disk.img")
            md5, sha512 = make_random_file(path, SIZE)

            image = client.images.create(name="e2e-glanceclient", disk_format="raw",
                                         container_format="bare")
            self.assertEqual(image.status, "queued")
            self.assertIsNone(image.size)
            self.assertEqual(image.owner, self.stack.project_id("demo"))

            with open(path, "rb") as f:  # glanceclient streams a file object chunked
                client.images.upload(image.id, f)

        shown = client.images.get(image.id)
        self.assertEqual(shown.status, "active")
        self.assertEqual(shown.size, SIZE)
        self.assertEqual(shown.checksum, md5)
        self.assertEqual(shown.os_hash_algo, "sha512")
        self.assertEqual(shown.os_hash_value, sha512)
        self.assertEqual((shown.name, shown.disk_format, shown.container_format),
                         ("e2e-glanceclient", "raw", "bare"))

        # The bytes are in the file store, committed (not a .part file).
        files = self.stack.files_of(image.id)
        self.assertEqual(len(files), 1, files)
        self.assertFalse(files[0].endswith(".part"), files)
        self.assertEqual(os.path.getsize(os.path.join(self.stack.data_dir, files[0])), SIZE)

        # glanceclient checks the stream against os_hash_value itself; we check it too.
        self.assertEqual(digest_chunks(client.images.data(image.id)), (SIZE, md5, sha512))

        self.assertIn(image.id, [i.id for i in client.images.list()])

        client.images.update(image.id, name="e2e-glanceclient-renamed", os_distro="debian")
        shown = client.images.get(image.id)
        self.assertEqual(shown.name, "e2e-glanceclient-renamed")
        self.assertEqual(shown.os_distro, "debian")
        self.assertEqual((shown.status, shown.size, shown.checksum), ("active", SIZE, md5))

        client.images.delete(image.id)
        with self.assertRaises(glanceclient.exc.HTTPNotFound):
            client.images.get(image.id)
        with self.assertRaises(glanceclient.exc.HTTPNotFound):
            client.images.delete(image.id)
        self.assertNotIn(image.id, [i.id for i in client.images.list()])
        # task-worker deletes the bytes asynchronously.
        self.stack.wait_no_files(image.id)


if __name__ == "__main__":
    unittest.main()
