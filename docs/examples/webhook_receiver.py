"""A webhook receiver for trying datapunk exports: prints each POST and answers 200.

    python3 docs/examples/webhook_receiver.py 8080
"""

import http.server
import sys


class Receiver(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        print(f"POST {self.path} Idempotency-Key: {self.headers.get('Idempotency-Key')}")
        print(body.decode(), end="", flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
http.server.HTTPServer(("127.0.0.1", port), Receiver).serve_forever()
