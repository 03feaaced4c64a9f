"""Crash safety: SIGKILL one process at a bad moment, start it again, and the system
converges: deletes remove the bytes, a cut-off upload returns the image to `queued`
and leaves no bytes behind (design.md, "Crash safety by design")."""

import os
import socket
import threading
import unittest
import urllib.parse

from gaze_stack import StackTestCase, wait_until

LEASE_SECONDS = 3


class SlowUpload(threading.Thread):
    """PUT /file with a chunked body that trickles in until stopped or cut off, over a raw
    socket so that nothing buffers or retries it."""

    def __init__(self, url, image_id, token):
        super().__init__(daemon=True)
        parts = urllib.parse.urlsplit(url)
        self.address = (parts.hostname, parts.port)
        self.head = (f"PUT /v2/images/{image_id}/file HTTP/1.1\r\n"
                     f"Host: {parts.netloc}\r\nX-Auth-Token: {token}\r\n"
                     "Content-Type: application/octet-stream\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n").encode()
        self.stopped = threading.Event()
        self.sent = 0
        self.error = None

    def run(self):
        chunk = b"\x5a" * 65536
        try:
            with socket.create_connection(self.address, timeout=60) as sock:
                sock.sendall(self.head)
                while not self.stopped.is_set():
                    sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.sent += len(chunk)
                    self.stopped.wait(0.05)  # pacing (~1 MiB/s), not synchronisation
        except OSError as e:
            self.error = e

    def stop(self):
        self.stopped.set()
        self.join(timeout=30)


class CrashTest(StackTestCase):
    stack_options = {"upload_lease_seconds": LEASE_SECONDS, "sweep_interval_ms": 200}

    def call(self, method, path, project="demo", **kwargs):
        return self.stack.request(method, path, token=self.stack.token(project), **kwargs)

    def show(self, image_id):
        resp = self.call("GET", f"/v2/images/{image_id}")
        self.assertEqual(resp.status, 200, resp)
        return resp.json()

    def create_image(self, name):
        resp = self.call("POST", "/v2/images",
                         body={"name": name, "disk_format": "raw", "container_format": "bare"})
        self.assertEqual(resp.status, 201, resp)
        return resp.json()["id"]

    def upload(self, image_id, size=256 * 1024):
        resp = self.call("PUT", f"/v2/images/{image_id}/file", body=os.urandom(size),
                         headers={"Content-Type": "application/octet-stream"})
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(self.show(image_id)["status"], "active")
        files = self.stack.files_of(image_id)
        self.assertEqual(len(files), 1, files)
        return files

    def delete(self, image_id):
        resp = self.call("DELETE", f"/v2/images/{image_id}")
        self.assertEqual(resp.status, 204, resp)
        self.assertEqual(self.call("GET", f"/v2/images/{image_id}").status, 404)

    def active_image(self, name):
        image_id = self.create_image(name)
        self.upload(image_id)
        return image_id

    def test_delete_while_worker_is_dead_completes_when_it_returns(self):
        image_id = self.active_image("crash-worker")
        files = self.stack.files_of(image_id)
        self.stack.kill("task-worker")
        self.delete(image_id)
        # Nobody but the worker deletes bytes: they stay until it is back.
        self.assertEqual(self.stack.files_of(image_id), files)
        self.stack.start_process("task-worker")
        self.stack.wait_no_files(image_id)

    def test_metadata_svc_killed_while_idle(self):
        self.stack.restart("metadata-svc")
        # The gateway and the worker reconnect by themselves.
        wait_until(lambda: self.stack.request("GET", "/readyz").status == 200, 60,
                   "the gateway's /readyz after metadata-svc restarted")
        image_id = self.active_image("crash-metadata-idle")
        self.delete(image_id)
        self.stack.wait_no_files(image_id)

    def test_metadata_svc_killed_right_after_a_delete(self):
        # The delete task sits in the outbox (or in RabbitMQ) when metadata-svc dies.
        image_id = self.active_image("crash-metadata-delete")
        self.delete(image_id)
        self.stack.restart("metadata-svc")
        self.stack.wait_no_files(image_id)

    def test_gateway_killed_mid_upload(self):
        image_id = self.create_image("crash-gateway")
        upload = SlowUpload(self.stack.url, image_id, self.stack.token("demo"))
        self.addCleanup(upload.stop)
        upload.start()

        def partial_file():
            return [f for f in self.stack.files_of(image_id) if f.endswith(".part")
                    and os.path.getsize(os.path.join(self.stack.data_dir, f)) > 0]
        wait_until(lambda: self.show(image_id)["status"] == "saving" and partial_file(), 30,
                   "the upload to be under way (status saving, a non-empty .part file)")

        self.stack.kill("api-gateway")
        upload.stop()
        self.stack.start_process("api-gateway")

        # Once the upload lease has expired, the sweep puts the image back to queued and
        # removes the partial bytes.
        wait_until(lambda: self.show(image_id)["status"] == "queued", LEASE_SECONDS + 30,
                   f"image {image_id} to return to queued after the gateway died")
        image = self.show(image_id)
        self.assertEqual((image["size"], image["checksum"], image["os_hash_value"]),
                         (None, None, None))
        self.stack.wait_no_files(image_id)
        # And it can be uploaded again.
        self.upload(image_id)


if __name__ == "__main__":
    unittest.main()
