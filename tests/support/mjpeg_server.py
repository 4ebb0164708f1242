"""A real HTTP MJPEG server on loopback, as IP cameras serve it: multipart/x-mixed-replace JPEG frames.

usage: python mjpeg_server.py PORT CLIP [FPS]     prints "ready" once it listens on http://127.0.0.1:PORT/
"""

import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2


class MjpegHandler(BaseHTTPRequestHandler):
    clip = ""
    fps = 25.0

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        cap = cv2.VideoCapture(self.clip)
        try:
            while True:
                ok, image = cap.read()
                if not ok:
                    return
                jpeg = cv2.imencode(".jpg", image)[1].tobytes()
                head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                self.wfile.write(head + jpeg + b"\r\n")
                time.sleep(1.0 / self.fps)
        except (BrokenPipeError, ConnectionResetError):
            return
        finally:
            cap.release()

    def log_message(self, *args) -> None:
        pass


def main() -> None:
    MjpegHandler.clip = sys.argv[2]
    MjpegHandler.fps = float(sys.argv[3]) if len(sys.argv) > 3 else 25.0
    server = ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), MjpegHandler)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
