#!/usr/bin/env python3
"""STAND-IN for the reference server (rdar-lab/messaging-system, Python).

This is NOT the original code. The original could not be fetched here; this
is a minimal re-implementation of its architecture as the project's seed
document describes it (server_main.py, bytes_buffer.py, model.py,
storage_manager.py, db_storage_manager.py, request_handler.py,
request_reader.py / response_writer.py / payload parsers), so that the
Sealpost benchmark can measure the reference's throughput with the same
load generator, on the same machine, in the same run. See README.md beside
this file for what is taken from the seed and what is assumed.

Protocol (version 2), all integers little-endian:
  request:  client id (16) | version (1) | code (1) | payload size (4) | payload
  response: version (1) | code (2) | payload size (4) | payload
  100 register  name (255, NUL-padded) + public key (160) -> 1000 client id
  101 list      -> 1001 for every other client: id (16) + name (255)
  102 key       client id (16) -> 1002 client id + public key (160)
  103 send      dest (16) | type (1) | size (4) | content -> 1003 dest + msg id (4)
  104 pull      -> 1004 for each waiting: sender (16) | id (4) | type (1) | size (4) | content
  9000          general error
One request per TCP connection; the server closes after answering.

Python 3 standard library only: socketserver (a thread per connection),
sqlite3 with its default settings (rollback journal, synchronous=FULL),
one commit per request.
"""

import argparse
import os
import socket
import socketserver
import sqlite3
import struct
import sys
import threading
import time
import uuid

# ---------------------------------------------------------------- model.py

SERVER_VERSION = 2
REQUEST_HEADER = struct.Struct("<16sBBI")  # 22 bytes
RESPONSE_HEADER = struct.Struct("<BHI")  # 7 bytes
NAME_LEN = 255
PUBLIC_KEY_LEN = 160
CLIENT_ID_LEN = 16

REGISTER, LIST, PUBLIC_KEY, SEND, PULL = 100, 101, 102, 103, 104
REGISTERED, CLIENT_LIST, PUBLIC_KEY_OK, STORED, MESSAGES = 1000, 1001, 1002, 1003, 1004
ERROR = 9000
FILE_MESSAGE = 4

# Contents above this size are streamed (to disk for files); below it they
# are read into memory.
STREAM_PIECE = 64 * 1024


class ProtocolFailure(Exception):
    """A request that gets the general error 9000."""


class Request:
    def __init__(self, client_id, version, code, payload_size):
        self.client_id = client_id
        self.version = version
        self.code = code
        self.payload_size = payload_size


# --------------------------------------------------------- bytes_buffer.py


class SocketByteBuffer:
    """Reads exact byte counts from a socket, or streams them elsewhere."""

    def __init__(self, sock):
        self.sock = sock

    def read(self, n):
        chunks = []
        while n > 0:
            chunk = self.sock.recv(min(n, STREAM_PIECE))
            if not chunk:
                raise ProtocolFailure("connection closed mid-request")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def copy_to_file(self, n, f):
        while n > 0:
            chunk = self.sock.recv(min(n, STREAM_PIECE))
            if not chunk:
                raise ProtocolFailure("connection closed mid-request")
            f.write(chunk)
            n -= len(chunk)


# ------------------------------------------------------ storage_manager.py


class StorageManager:
    def register(self, name, public_key):
        raise NotImplementedError

    def clients(self):
        raise NotImplementedError

    def client(self, client_id):
        raise NotImplementedError

    def store_message(self, to_client, from_client, msg_type, content, content_file):
        raise NotImplementedError

    def take_messages(self, client_id):
        raise NotImplementedError

    def delete_messages(self, client_id, ids):
        raise NotImplementedError


# --------------------------------------------------- db_storage_manager.py


class DbStorageManager(StorageManager):
    """SQLite with the sqlite3 module's defaults; one shared connection
    behind a lock, one commit per change."""

    def __init__(self, path):
        self.lock = threading.Lock()
        self.conn = sqlite3.connect(path, check_same_thread=False)
        with self.lock:
            self.conn.executescript(
                """
                CREATE TABLE IF NOT EXISTS clients (
                    ID BLOB PRIMARY KEY,
                    UserName TEXT UNIQUE NOT NULL,
                    PublicKey BLOB NOT NULL,
                    LastSeen REAL NOT NULL
                );
                CREATE TABLE IF NOT EXISTS messages (
                    ID INTEGER PRIMARY KEY AUTOINCREMENT,
                    ToClient BLOB NOT NULL,
                    FromClient BLOB NOT NULL,
                    Type INTEGER NOT NULL,
                    Content BLOB,
                    ContentFile TEXT,
                    Size INTEGER NOT NULL
                );
                """
            )
            self.conn.commit()

    def _touch(self, client_id):
        cur = self.conn.execute(
            "UPDATE clients SET LastSeen = ? WHERE ID = ?", (time.time(), client_id)
        )
        return cur.rowcount == 1

    def register(self, name, public_key):
        client_id = uuid.uuid4().bytes
        with self.lock:
            try:
                self.conn.execute(
                    "INSERT INTO clients (ID, UserName, PublicKey, LastSeen) VALUES (?, ?, ?, ?)",
                    (client_id, name, public_key, time.time()),
                )
                self.conn.commit()
            except sqlite3.IntegrityError:
                self.conn.rollback()
                raise ProtocolFailure("name taken")
        return client_id

    def clients(self, requester):
        with self.lock:
            if not self._touch(requester):
                self.conn.rollback()
                raise ProtocolFailure("unknown requester")
            rows = self.conn.execute("SELECT ID, UserName FROM clients").fetchall()
            self.conn.commit()
        return [r for r in rows if r[0] != requester]

    def public_key(self, requester, client_id):
        with self.lock:
            if not self._touch(requester):
                self.conn.rollback()
                raise ProtocolFailure("unknown requester")
            row = self.conn.execute(
                "SELECT PublicKey FROM clients WHERE ID = ?", (client_id,)
            ).fetchone()
            self.conn.commit()
        if row is None:
            raise ProtocolFailure("unknown client")
        return row[0]

    def store_message(self, requester, to_client, msg_type, content, content_file, size):
        with self.lock:
            if not self._touch(requester):
                self.conn.rollback()
                raise ProtocolFailure("unknown requester")
            if self.conn.execute("SELECT 1 FROM clients WHERE ID = ?", (to_client,)).fetchone() is None:
                self.conn.rollback()
                raise ProtocolFailure("unknown destination")
            cur = self.conn.execute(
                "INSERT INTO messages (ToClient, FromClient, Type, Content, ContentFile, Size) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (to_client, requester, msg_type, content, content_file, size),
            )
            self.conn.commit()
            return cur.lastrowid

    def waiting(self, requester):
        with self.lock:
            if not self._touch(requester):
                self.conn.rollback()
                raise ProtocolFailure("unknown requester")
            rows = self.conn.execute(
                "SELECT ID, FromClient, Type, Content, ContentFile, Size FROM messages "
                "WHERE ToClient = ? ORDER BY ID",
                (requester,),
            ).fetchall()
            self.conn.commit()
        return rows

    def delete_messages(self, ids):
        if not ids:
            return
        with self.lock:
            self.conn.executemany("DELETE FROM messages WHERE ID = ?", [(i,) for i in ids])
            self.conn.commit()


# --------------------------------- request_reader.py / response_writer.py


def read_request(buf):
    header = buf.read(REQUEST_HEADER.size)
    client_id, version, code, size = REQUEST_HEADER.unpack(header)
    return Request(client_id, version, code, size)


def write_response(sock, code, payload=b""):
    sock.sendall(RESPONSE_HEADER.pack(SERVER_VERSION, code, len(payload)) + payload)


# ----------------------------------------------------- request_handler.py


class RequestHandler(socketserver.BaseRequestHandler):
    storage = None  # set by server_main
    files_dir = None

    def handle(self):
        sock = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = SocketByteBuffer(sock)
        try:
            request = read_request(buf)
            self.dispatch(sock, buf, request)
        except ProtocolFailure:
            try:
                write_response(sock, ERROR)
            except OSError:
                pass
        except (OSError, struct.error):
            pass

    def dispatch(self, sock, buf, req):
        st = self.storage
        if req.code == REGISTER:
            if req.payload_size != NAME_LEN + PUBLIC_KEY_LEN:
                raise ProtocolFailure("bad register size")
            payload = buf.read(req.payload_size)
            raw_name = payload[:NAME_LEN]
            if b"\0" not in raw_name:
                raise ProtocolFailure("name not terminated")
            name = raw_name.split(b"\0", 1)[0].decode("utf-8", "replace")
            if not name:
                raise ProtocolFailure("empty name")
            client_id = st.register(name, payload[NAME_LEN:])
            write_response(sock, REGISTERED, client_id)
        elif req.code == LIST:
            rows = st.clients(req.client_id)
            out = bytearray()
            for cid, name in rows:
                out += cid + name.encode("utf-8")[: NAME_LEN - 1].ljust(NAME_LEN, b"\0")
            write_response(sock, CLIENT_LIST, bytes(out))
        elif req.code == PUBLIC_KEY:
            if req.payload_size != CLIENT_ID_LEN:
                raise ProtocolFailure("bad key request size")
            target = buf.read(CLIENT_ID_LEN)
            key = st.public_key(req.client_id, target)
            write_response(sock, PUBLIC_KEY_OK, target + key)
        elif req.code == SEND:
            if req.payload_size < 21:
                raise ProtocolFailure("bad send size")
            to_client, msg_type, size = struct.unpack("<16sBI", buf.read(21))
            if size != req.payload_size - 21:
                raise ProtocolFailure("content size mismatch")
            content, content_file = None, None
            if msg_type == FILE_MESSAGE:
                content_file = os.path.join(self.files_dir, uuid.uuid4().hex)
                with open(content_file, "wb") as f:
                    buf.copy_to_file(size, f)
            else:
                content = buf.read(size)
            msg_id = st.store_message(req.client_id, to_client, msg_type, content, content_file, size)
            write_response(sock, STORED, to_client + struct.pack("<I", msg_id & 0xFFFFFFFF))
        elif req.code == PULL:
            rows = st.waiting(req.client_id)
            total = sum(25 + r[5] for r in rows)
            sock.sendall(RESPONSE_HEADER.pack(SERVER_VERSION, MESSAGES, total))
            for msg_id, sender, msg_type, content, content_file, size in rows:
                sock.sendall(sender + struct.pack("<IBI", msg_id & 0xFFFFFFFF, msg_type, size))
                if content_file is not None:
                    with open(content_file, "rb") as f:
                        while True:
                            piece = f.read(STREAM_PIECE)
                            if not piece:
                                break
                            sock.sendall(piece)
                elif content:
                    sock.sendall(content)
            # Delivered once the whole answer is written.
            st.delete_messages([r[0] for r in rows])
            for r in rows:
                if r[4] is not None:
                    try:
                        os.remove(r[4])
                    except OSError:
                        pass
        else:
            raise ProtocolFailure("unknown request code")


# ---------------------------------------------------------- server_main.py


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    # Generous on purpose (socketserver's default is 5): a small backlog
    # would make loopback clients wait for SYN retransmits and understate
    # the reference's throughput.
    request_queue_size = 1024


def read_port_info():
    try:
        with open("port.info") as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return 1357


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=None, help="default: port.info, else 1357")
    parser.add_argument("--db", default="server.db")
    parser.add_argument("--files", default="files")
    args = parser.parse_args()
    os.makedirs(args.files, exist_ok=True)
    RequestHandler.storage = DbStorageManager(args.db)
    RequestHandler.files_dir = args.files
    port = read_port_info() if args.port is None else args.port
    with Server((args.host, port), RequestHandler) as server:
        host, port = server.server_address[:2]
        print(f"reference stand-in listening address={host}:{port}", file=sys.stderr, flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
