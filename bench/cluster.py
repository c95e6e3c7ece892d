"""Keel on many servers, on loopback: two gunicorn app servers behind nginx, PgBouncer, Redis,
the Stripe sandbox, then bench/load.py through the balancer (docs/performance.md, "Many
servers"; docs/deploy.md, "Many servers").

    .venv/bin/python bench/cluster.py [--duration 60] [--connections 32] [--write-docs]
    make bench-load

Everything it starts is its own and is stopped when it ends, on Ctrl-C and on failure too:

* PostgreSQL: a primary of its own (the machine's PostgreSQL programs, `initdb` in the run's
  directory, archiving its WAL), with the database restored from a migrated template kept
  between runs on the machine's service (127.0.0.1:5432, started if it is down;
  bench/databases.py, shared with the other benchmarks), so dj-stripe's minute of migrations is
  paid once; after the run, a `pg_basebackup` of it and a restore drill (the backup replays the
  WAL archive on another port and must hold the same data);
* PgBouncer (Debian's package) in transaction pooling mode in front of it; the app servers
  connect through it, with `DATABASE_POOLER=pgbouncer-transaction`;
* Redis: the machine's, on 127.0.0.1:6379, databases `--redis-db` (cache, sessions, rate limits)
  and the next one (Celery's broker), both flushed at the start;
* the Stripe sandbox (`python -m stripe_sandbox`), which the app servers call as they would
  call Stripe;
* two gunicorn app servers (`config.wsgi`, DEBUG off, the same SECRET_KEY, the production
  environment of docs/deploy.md), each on its own port;
* a Celery worker (`celery -A config worker`) when Celery is installed and configured;
* nginx (Debian's package) balancing round-robin across both, adding X-Forwarded-For
  (`TRUSTED_PROXIES=1`) and X-Forwarded-Proto (TLS ends at the balancer in production), and
  naming the server that answered in `X-Upstream` (for the throttle check).

Before the servers start it runs the deploy commands of docs/deploy.md; after the load, every
cron command twice, then the by-hand ones, and checks the ledger and the webhook grants again.
Missing Debian packages (nginx, pgbouncer) are installed with apt-get, as `make chromium` does.
Seeded: `--orgs` organizations, each with an owner who has a password, an API key and credits
(every fourth with overdraft allowed and 20 credits, so the run overdraws it); one user
for the throttle check; the example catalogue (plans, packs) at the sandbox and in `prices`;
and Stripe flows (a plan bought and renewed, a pack bought) played at the sandbox with the
webhook endpoint disabled, the events Keel handles recorded for load.py's webhook stream.

nginx is the balancer because one program and one configuration serve both deployments of
docs/deploy.md: the reverse proxy of one server (one `server` line in the upstream) and the
balancer of many (two lines), so the configuration the docs show is the one that ran here.
"""

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent
DB = os.environ.get("BENCH_LOAD_DB", "keel_bench_load")
# The machine's PostgreSQL service keeps the migrated template (bench/databases.py).
SERVICE_URL = f"postgres://root@127.0.0.1:5432/{DB}"
SECRET_KEY = "bench-load-only-" + "k" * 48
SANDBOX_KEY = "sk_test_KeelSandboxLocalKey00000000"
PASSWORD = "load test password 1234"
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:cluster:start -->", "<!-- bench:cluster:end -->"
# dj-stripe's uuid for the endpoint row `billing_setup_webhook` writes at deploy (the load's
# stream goes to the recording shop's endpoint, whose secret the plan carries).
WEBHOOK_UUID = "0c8a1f7e-3b2d-4e5f-9a6b-7c8d9e0f1a2b"
# What docs/deploy.md says to run, in its order: once at each deploy, from cron (each run twice
# here, to show a second run is harmless), and by hand. `migrate` goes straight to PostgreSQL
# (True), the rest through PgBouncer as the app servers do.
DEPLOY = [
    (["check", "--deploy"], False),
    (["migrate", "--noinput"], True),
    (["collectstatic", "--noinput", "-v0"], False),
    (["billing_setup_webhook", "--uuid", WEBHOOK_UUID], False),
    (["sync_prices"], False),
    (["createsuperuser", "--noinput", "--username", "ops", "--email", "ops@load.localhost"], False),
]
CRON = [["expire_credits"], ["expire_invitations"], ["sync_prices"], ["billing_reconcile"], ["clearsessions"]]
BY_HAND = [
    ["create_api_key", "--org", "load-0", "--user", "load-0", "--name", "ops"],
    ["email_announce", "--type", "product_updates", "--subject", "Load test", "--message", "Nothing to see here."],
]


def _pg_bin() -> Path:
    """The machine's PostgreSQL programs (Debian's postgresql package, the newest installed)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else Path("/usr/lib/postgresql/missing/bin")


PG_BIN = _pg_bin()
DEBIAN_PACKAGES = {"nginx": "/usr/sbin/nginx", "pgbouncer": "/usr/sbin/pgbouncer"}


class Failed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install_packages() -> None:
    """Debian's nginx and pgbouncer when missing (root, or through sudo), refreshing the package
    lists only if the first try fails."""
    missing = [name for name, path in DEBIAN_PACKAGES.items() if not os.path.exists(path)]
    if not missing:
        return
    print(f"installing Debian packages: {' '.join(missing)} ...", flush=True)
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [*sudo, "apt-get", "install", "-y", "-q", *missing]
    if subprocess.run(command, env=env).returncode != 0:
        subprocess.run([*sudo, "apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(command, env=env, check=True)


def version_of(command: list[str], pattern: str) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "?"
    match = re.search(pattern, out.stdout + out.stderr)
    return match.group(1) if match else "?"


class Cluster:
    """The processes of one run; `stop()` ends them all (each in its own process group)."""

    def __init__(self, args):
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="keel-cluster-"))
        # PgBouncer runs as `postgres` (it refuses root) and writes its log and pid here.
        self.dir.chmod(0o777)
        self.procs: list[tuple[str, subprocess.Popen]] = []
        names = ("primary", "restored", "pgbouncer", "sandbox", "app1", "app2", "balancer")
        self.ports = {name: free_port() for name in names}
        self.direct_url = f"postgres://root@127.0.0.1:{self.ports['primary']}/{DB}"

    # --- processes ---------------------------------------------------------------------------

    def spawn(self, name: str, command: list, env: dict | None = None, stop_signal=signal.SIGTERM):
        with open(self.dir / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(
                [str(part) for part in command],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.procs.append((name, proc, stop_signal))
        return proc

    def stop(self, only: str | None = None) -> None:
        """Stop every process, the last started first (or only `only`); PostgreSQL by SIGINT (its
        fast shutdown: SIGTERM would wait for every client to leave)."""
        procs = [entry for entry in self.procs if only is None or entry[0] == only]
        for _, proc, stop_signal in reversed(procs):
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, stop_signal)
        deadline = time.monotonic() + 30
        for _, proc, _ in reversed(procs):
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self.procs = [entry for entry in self.procs if entry not in procs]

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.dir / f"{name}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def wait_http(self, name: str, proc: subprocess.Popen, urls: list[str], timeout: float = 60) -> str:
        """Poll until one of `urls` answers 200 (the first that exists: /readyz, else /healthz)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise Failed(f"{name} stopped at start:\n{self.log_tail(name)}")
            for url in urls:
                try:
                    # As the balancer asks: TLS ended there (SECURE_SSL_REDIRECT is on).
                    request = urllib.request.Request(url, headers={"X-Forwarded-Proto": "https"})
                    with opener.open(request, timeout=2) as response:
                        if response.status == 200:
                            return url
                except urllib.error.HTTPError as error:
                    if error.code != 404:  # a 404: this check does not exist yet, try the next
                        break
                except OSError:
                    break
            time.sleep(0.2)
        raise Failed(f"{name} did not answer {urls[0]} in {timeout:.0f} s:\n{self.log_tail(name)}")

    # --- the pieces --------------------------------------------------------------------------

    def app_env(self) -> dict:
        """The app servers' environment: production settings (docs/deploy.md), on loopback."""
        redis_db = self.args.redis_db
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "STRIPE_", "DATABASE_"))},
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DJANGO_ENV": "production",
            "DEBUG": "False",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SITE_URL": f"https://127.0.0.1:{self.ports['balancer']}",
            "CSRF_TRUSTED_ORIGINS": f"https://127.0.0.1:{self.ports['balancer']}",
            "DATABASE_URL": f"postgres://root@127.0.0.1:{self.ports['pgbouncer']}/{DB}",
            "CONN_MAX_AGE": "600",
            # No server-side cursors, no prepared statements (docs/deploy.md, "PgBouncer").
            "DATABASE_POOLER": "pgbouncer-transaction",
            "REDIS_URL": f"redis://127.0.0.1:6379/{redis_db}",
            "CELERY_BROKER_URL": f"redis://127.0.0.1:6379/{redis_db + 1}",
            "BEHIND_PROXY": "True",
            "TRUSTED_PROXIES": "1",
            "SECURE_SSL_REDIRECT": "True",
            "SECURE_HSTS_SECONDS": "31536000",
            "STATIC_MANIFEST": "True",
            "EMAIL_URL": "dummymail://",
            "AXES_FAILURE_LIMIT": str(self.args.axes_failure_limit),
            "STRIPE_SECRET_KEY": SANDBOX_KEY,
            "STRIPE_LIVE_MODE": "False",
            "STRIPE_API_BASE": f"http://127.0.0.1:{self.ports['sandbox']}",
            "STRIPE_WEBHOOK_SECRET": "whsec_bench_load_unused",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }

    def manage(self, args: list[str], *, direct: bool = False) -> dict:
        """`manage.py ARGS` with the app servers' environment; its status, time and last line."""
        env = self.app_env()
        env["DJANGO_SUPERUSER_PASSWORD"] = PASSWORD
        if direct:
            env["DATABASE_URL"] = self.direct_url
        started = time.monotonic()
        out = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True)
        with open(self.dir / "manage.log", "a") as log:
            log.write(f"$ manage.py {' '.join(args)}\n{out.stdout}{out.stderr}\n")
        lines = [line for line in (out.stdout + out.stderr).splitlines() if line.strip()]
        if args[0] == "create_api_key" and out.returncode == 0:
            lines = ["(the new key, printed once; left out here)"]
        return {
            "command": " ".join(args),
            "codes": sorted(set(re.findall(r"\((\w+\.[WE]\d+)\)", out.stdout + out.stderr))),
            "status": out.returncode,
            "seconds": time.monotonic() - started,
            "last": lines[-1].strip() if lines else "",
        }

    def redis_flush(self) -> None:
        for db in (self.args.redis_db, self.args.redis_db + 1):
            out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-n", str(db), "FLUSHDB"], capture_output=True)
            if out.returncode != 0 or b"OK" not in out.stdout:
                raise Failed(f"Redis on 127.0.0.1:6379 did not flush db {db}: {out.stdout!r} {out.stderr!r}")

    # --- PostgreSQL: the primary, its WAL archive, a base backup and a restore drill -----------

    def as_postgres(self, command: list) -> list:
        """PostgreSQL's programs refuse root: as root they run as the `postgres` user."""
        return (["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []) + [str(c) for c in command]

    def pg_conf(self, port: int) -> str:
        return (
            f"\n# bench/cluster.py\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
            f"unix_socket_directories = '{self.dir}'\nmax_connections = 200\n"
        )

    def wait_postgres(self, name: str, proc, port: int, *, promoted: bool = False, timeout: float = 60) -> None:
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise Failed(f"PostgreSQL ({name}) stopped:\n{self.log_tail(name)}")
            try:
                with psycopg.connect(f"postgres://root@127.0.0.1:{port}/postgres", connect_timeout=2) as conn:
                    if not promoted or not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]:
                        return
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                raise Failed(f"PostgreSQL ({name}) was not ready in {timeout:.0f} s:\n{self.log_tail(name)}")
            time.sleep(0.3)

    def start_primary(self, template: str) -> None:
        """A PostgreSQL primary of its own (the machine's PostgreSQL programs), archiving its WAL,
        with the benchmark's database restored from the migrated template's dump."""
        data, archive = self.dir / "pg-primary", self.dir / "wal-archive"
        subprocess.run(self.as_postgres(["mkdir", "-p", archive]), check=True)
        initdb = [PG_BIN / "initdb", "-D", data, "-U", "root", "--auth=trust", "-E", "UTF8", "--no-instructions"]
        subprocess.run(self.as_postgres(initdb), check=True, capture_output=True)
        with open(data / "postgresql.conf", "a") as conf:
            conf.write(self.pg_conf(self.ports["primary"]))
            # Continuous archiving (docs/deploy.md, "Backups"): every finished WAL segment is copied.
            conf.write(
                "wal_level = replica\narchive_mode = on\n"
                f"archive_command = 'test ! -f {archive}/%f && cp %p {archive}/%f'\n"
            )
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n"
        )
        proc = self.spawn("primary", self.as_postgres([PG_BIN / "postgres", "-D", data]), stop_signal=signal.SIGINT)
        self.wait_postgres("primary", proc, self.ports["primary"])
        dump = self.dir / "template.dump"
        service = ["-h", "127.0.0.1", "-p", "5432", "-U", "root"]
        primary = ["-h", "127.0.0.1", "-p", str(self.ports["primary"]), "-U", "root"]
        subprocess.run([PG_BIN / "pg_dump", *service, "-Fc", "-f", dump, template], check=True)
        subprocess.run([PG_BIN / "psql", *primary, "-d", "postgres", "-qc", f'CREATE DATABASE "{DB}"'], check=True)
        subprocess.run([PG_BIN / "pg_restore", *primary, "-d", DB, "--no-owner", "--exit-on-error", dump], check=True)

    def snapshot(self, port: int) -> dict:
        import psycopg

        with psycopg.connect(f"postgres://root@127.0.0.1:{port}/{DB}") as conn:
            row = conn.execute(
                "SELECT (SELECT COUNT(*) FROM credit_transactions), (SELECT COALESCE(SUM(credits), 0)"
                " FROM credit_transactions), (SELECT COUNT(*) FROM credits), (SELECT COUNT(*) FROM api_keys),"
                " (SELECT COUNT(*) FROM tenants), (SELECT COUNT(*) FROM djstripe_event)"
            ).fetchone()
        keys = ("ledger rows", "ledger sum", "grants", "API keys", "organizations", "Stripe events")
        return dict(zip(keys, row, strict=True))

    def backup_drill(self, between: list[list[str]]) -> dict:
        """pg_basebackup of the live primary; then `between` (commands whose writes only the WAL
        archive holds); then a restore: the base backup started on another port replays the
        archive and is promoted; its data must equal the primary's."""
        import psycopg

        base, archive = self.dir / "basebackup", self.dir / "wal-archive"
        started = time.monotonic()
        command = [PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", self.ports["primary"], "-U", "root"]
        command += ["-D", base, "-Fp", "-Xs", "-c", "fast"]
        subprocess.run(self.as_postgres(command), check=True, capture_output=True)
        backup_seconds = time.monotonic() - started
        size = sum(f.stat().st_size for f in base.rglob("*") if f.is_file())
        at_backup = self.snapshot(self.ports["primary"])
        runs = [self.manage(args) for args in between]
        with psycopg.connect(f"postgres://root@127.0.0.1:{self.ports['primary']}/postgres", autocommit=True) as conn:
            segment = conn.execute("SELECT pg_walfile_name(pg_current_wal_lsn())").fetchone()[0]
            conn.execute("SELECT pg_switch_wal()")
            deadline = time.monotonic() + 30
            while (conn.execute("SELECT last_archived_wal FROM pg_stat_archiver").fetchone()[0] or "") < segment:
                if time.monotonic() > deadline:
                    raise Failed("the primary did not archive its WAL in 30 s")
                time.sleep(0.2)
        primary = self.snapshot(self.ports["primary"])
        with open(base / "postgresql.conf", "a") as conf:
            conf.write(self.pg_conf(self.ports["restored"]))
            conf.write(f"archive_mode = off\nrestore_command = 'cp {archive}/%f %p'\n")
        (base / "recovery.signal").touch()
        started = time.monotonic()
        proc = self.spawn("restored", self.as_postgres([PG_BIN / "postgres", "-D", base]), stop_signal=signal.SIGINT)
        self.wait_postgres("restored", proc, self.ports["restored"], promoted=True)
        restore_seconds = time.monotonic() - started
        restored = self.snapshot(self.ports["restored"])
        self.stop(only="restored")
        return {
            "backup_seconds": backup_seconds,
            "backup_mb": size / 1e6,
            "restore_seconds": restore_seconds,
            "at_backup": at_backup,
            "primary": primary,
            "restored": restored,
            "ok": primary == restored,
            "runs": runs,
        }

    def start_sandbox(self) -> None:
        port = self.ports["sandbox"]
        proc = self.spawn("sandbox", [sys.executable, "-m", "stripe_sandbox", "--port", str(port), "--quiet"])
        deadline = time.monotonic() + 20
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/v1/account", headers={"Authorization": f"Bearer {SANDBOX_KEY}"}
        )
        while True:
            if proc.poll() is not None:
                raise Failed(f"the Stripe sandbox stopped:\n{self.log_tail('sandbox')}")
            try:
                urllib.request.urlopen(request, timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise Failed("the Stripe sandbox did not answer") from None
                time.sleep(0.1)

    def pgbouncer_config(self) -> str:
        return f"""\
;; PgBouncer in transaction pooling mode in front of PostgreSQL (docs/deploy.md, "PgBouncer").
[databases]
{DB} = host=127.0.0.1 port={self.ports["primary"]} dbname={DB}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.ports["pgbouncer"]}
unix_socket_dir =
auth_type = trust
auth_file = {self.dir}/userlist.txt
pool_mode = transaction
default_pool_size = {self.args.pool_size}
max_client_conn = 400
server_reset_query =
ignore_startup_parameters = extra_float_digits,options
logfile = {self.dir}/pgbouncer-own.log
pidfile = {self.dir}/pgbouncer.pid
log_connections = 0
log_disconnections = 0
"""

    def start_pgbouncer(self) -> None:
        (self.dir / "userlist.txt").write_text('"root" ""\n')
        (self.dir / "pgbouncer.ini").write_text(self.pgbouncer_config())
        for name in ("userlist.txt", "pgbouncer.ini"):
            (self.dir / name).chmod(0o644)
        command = ["pgbouncer", str(self.dir / "pgbouncer.ini")]
        if os.geteuid() == 0:
            command[1:1] = ["-u", "postgres"]
        proc = self.spawn("pgbouncer", command)
        import psycopg

        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise Failed(f"PgBouncer stopped:\n{self.log_tail('pgbouncer')}")
            try:
                with psycopg.connect(
                    f"postgres://root@127.0.0.1:{self.ports['pgbouncer']}/{DB}", prepare_threshold=None
                ) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise Failed(f"PgBouncer did not answer:\n{self.log_tail('pgbouncer')}") from None
                time.sleep(0.2)

    def start_apps(self) -> dict:
        env = self.app_env()
        checks = {}
        for name in ("app1", "app2"):
            port = self.ports[name]
            command = [str(BIN / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}"]
            command += ["--worker-class", "gthread", "--workers", str(self.args.workers)]
            command += ["--threads", str(self.args.threads), "--backlog", "256", "--log-level", "warning"]
            # Longer than nginx keeps an idle upstream connection (keepalive_timeout 60s): with
            # gunicorn's default of 2 s it closes connections nginx is about to reuse (502s).
            command += ["--keep-alive", "75"]
            proc = self.spawn(name, command, env)
            base = f"http://127.0.0.1:{port}"
            # A load balancer's check: /readyz (database and cache), else /healthz until it exists.
            checks[name] = self.wait_http(name, proc, [f"{base}/readyz", f"{base}/healthz"])
        celery = BIN / "celery"
        if celery.exists() and (ROOT / "config" / "celery.py").exists():
            self.spawn("celery", [str(celery), "-A", "config", "worker", "--concurrency", "1", "-l", "warning"], env)
            checks["celery"] = "celery -A config worker"
        return checks

    def nginx_config(self) -> str:
        return f"""\
# nginx in front of the app servers (docs/deploy.md): round-robin, X-Forwarded-For appended.
worker_processes 1;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx-error.log warn;
user root;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {self.dir}/nginx-body;
    proxy_temp_path {self.dir}/nginx-proxy;
    fastcgi_temp_path {self.dir}/nginx-fastcgi;
    uwsgi_temp_path {self.dir}/nginx-uwsgi;
    scgi_temp_path {self.dir}/nginx-scgi;
    keepalive_requests 100000;
    client_max_body_size 2m;

    upstream keel {{
        server 127.0.0.1:{self.ports["app1"]} max_fails=3 fail_timeout=10s;
        server 127.0.0.1:{self.ports["app2"]} max_fails=3 fail_timeout=10s;
        keepalive 64;
        keepalive_timeout 60s;
    }}

    server {{
        listen 127.0.0.1:{self.ports["balancer"]};
        location / {{
            proxy_pass http://keel;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto https;
            proxy_set_header X-Request-ID $request_id;
            proxy_next_upstream error timeout;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""

    def start_nginx(self) -> None:
        path = self.dir / "nginx.conf"
        path.write_text(self.nginx_config())
        command = ["nginx", "-c", str(path), "-p", str(self.dir), "-g", "daemon off;"]
        proc = self.spawn("nginx", command)
        self.wait_http("nginx", proc, [f"http://127.0.0.1:{self.ports['balancer']}/healthz"])


# --- data ---------------------------------------------------------------------------------------


def django_setup(cluster: Cluster) -> None:
    os.environ.update(
        DATABASE_URL=SERVICE_URL,
        DJANGO_SETTINGS_MODULE="bench.settings",
        SECRET_KEY=SECRET_KEY,
        STRIPE_SECRET_KEY=SANDBOX_KEY,
        STRIPE_API_BASE=f"http://127.0.0.1:{cluster.ports['sandbox']}",
        EMAIL_URL="memorymail://",
    )
    import django

    django.setup()


def migrated_template() -> str:
    """The migrated template on the machine's service, made once (bench/databases.py)."""
    from django.db import connections

    from bench.databases import ensure_postgres, migrated_template

    ensure_postgres()
    template = migrated_template(DB)
    connections.close_all()
    return template


def use_primary(cluster: Cluster) -> None:
    from django.db import connections

    connections.close_all()
    for settings_dict in (connections.settings["default"], connections["default"].settings_dict):
        settings_dict.update(HOST="127.0.0.1", PORT=cluster.ports["primary"], NAME=DB)


def seed(cluster: Cluster, args) -> dict:
    """Organizations, users, keys and credits for the run; the catalogue; recorded webhooks."""
    import stripe

    from accounts.services import user_create
    from credits.models import CreditMode
    from credits.services import credits_grant
    from credits.services.api_keys import api_key_create
    from credits.services.overdraft import tenant_overdraft_configure
    from organizations.services import tenant_create

    orgs = []
    for i in range(args.orgs):
        slug = f"load-{i}"
        user = user_create(username=slug, email=f"{slug}@load.localhost", password=PASSWORD, email_verified=True)
        tenant = tenant_create(owner=user, name=f"Load {i}", slug=slug)
        overdraft = i % 4 == 3
        if overdraft:
            tenant = tenant_overdraft_configure(tenant=tenant, enabled=True, limit=1_000_000)
        credits_grant(
            tenant=tenant,
            user=user,
            amount=20 if overdraft else 100_000_000,
            mode=CreditMode.GRANT,
            source_type="bench",
            source_id=f"{slug}-grant",
        )
        _, key = api_key_create(tenant=tenant, user=user, name="load")
        orgs.append({"slug": slug, "tenant_id": str(tenant.id), "username": slug, "key": key, "overdraft": overdraft})
    user_create(username="load-throttle", email="throttle@load.localhost", password=PASSWORD, email_verified=True)

    stripe.api_key, stripe.api_base = SANDBOX_KEY, f"http://127.0.0.1:{cluster.ports['sandbox']}"
    from django.conf import settings

    stripe.api_version = settings.STRIPE_API_VERSION
    webhooks = record_webhooks(cluster, args.webhook_flows)
    return {
        "balancer": f"http://127.0.0.1:{cluster.ports['balancer']}",
        "servers": [f"http://127.0.0.1:{cluster.ports[name]}" for name in ("app1", "app2")],
        "database_url": cluster.direct_url,
        "password": PASSWORD,
        "orgs": orgs,
        "throttle_user": "load-throttle",
        "axes_failure_limit": args.axes_failure_limit,
        "webhooks": webhooks,
    }


def record_webhooks(cluster: Cluster, flows: int) -> dict:
    """Per flow, a new organization buys the starter plan (renewed once) and a 1,000-credit
    pack at the sandbox; the events are recorded in order (the endpoint is disabled, so none is
    delivered), with the grants each paid session and invoice must give, once."""
    import stripe

    from billing.models import Price
    from billing.services.checkout import checkout_start
    from billing.webhooks import HANDLED
    from organizations.models import TenantMember
    from organizations.services import tenant_create
    from tests.billing.recording import recording_shop
    from tests.factories import UserFactory

    sandbox = f"http://127.0.0.1:{cluster.ports['sandbox']}/_sandbox"

    def control(path: str, **body) -> dict:
        request = urllib.request.Request(
            sandbox + path, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    shop = recording_shop()
    credits_of = {p.provider_price_id: int(p.raw_data["metadata"]["credits"]) for p in Price.objects.all()}
    expected = {}
    for n in range(flows):
        user = UserFactory(username=f"load-buyer-{n}")
        tenant = tenant_create(owner=user, name=f"Load buyer {n}", slug=f"load-buyer-{n}")
        member = TenantMember.objects.get(tenant=tenant, user=user)
        sessions = {}
        for key in ("keel_starter_monthly", "keel_credits_1000"):
            result = checkout_start(
                member=member, provider_price_id=shop.prices[key], success_url="https://k/s", cancel_url="https://k/c"
            )
            control(f"/checkout/sessions/{result.id}/complete", card="succeeds")
            sessions[key] = result.id
        subscription = stripe.checkout.Session.retrieve(sessions["keel_starter_monthly"]).subscription
        control(f"/subscriptions/{subscription}/advance")
        expected[f"checkout_session:{sessions['keel_credits_1000']}"] = credits_of[shop.prices["keel_credits_1000"]]
        for invoice in stripe.Invoice.list(subscription=subscription, limit=100).auto_paging_iter():
            if invoice.status == "paid":
                expected[f"invoice:{invoice.id}"] = credits_of[shop.prices["keel_starter_monthly"]]
    # The events Keel handles: what `billing_setup_webhook --create-at-stripe` subscribes to.
    events = [e for e in stripe.Event.list(limit=100).auto_paging_iter() if e.type in HANDLED]
    payloads = [json.dumps(json.loads(str(event))) for event in reversed(events)]
    print(f"recorded {len(payloads)} Stripe events from {flows} flows ({len(expected)} paid objects)", flush=True)
    return {"path": shop.url, "secret": shop.secret, "events": payloads, "expected_grants": expected}


# --- report -------------------------------------------------------------------------------------


def machine() -> dict:
    mem_kb = 0
    with contextlib.suppress(OSError, AttributeError):
        mem_kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = ""
    with contextlib.suppress(OSError, AttributeError):
        cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text()).group(1).strip()
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(mem_kb / 1024 / 1024),
        "python": platform.python_version(),
        "nginx": version_of(["nginx", "-v"], r"nginx/([\d.]+)"),
        "pgbouncer": version_of(["pgbouncer", "--version"], r"PgBouncer ([\d.]+)"),
        "redis": version_of(["redis-server", "--version"], r"v=([\d.]+)"),
        "postgresql": version_of(
            ["psql", "-h", "127.0.0.1", "-U", "root", "-d", "postgres", "-tAc", "SHOW server_version"], r"([\d.]+)"
        ),
        "gunicorn": version_of([str(BIN / "gunicorn"), "--version"], r"gunicorn.*?([\d.]+)"),
    }


def markdown(results: dict, info: dict, args, checks: dict) -> str:
    m = info
    readiness = ", ".join(sorted({re.sub(r"http://[^/]+", "", v) for k, v in checks.items() if k != "celery"}))
    worker = "a Celery worker (`celery -A config worker --concurrency 1`); " if "celery" in checks else ""
    lines = [
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {args.duration:g} s, "
        f"{args.connections} connections through nginx; {m['cores']} cores ({m['cpu']}), {m['memory_gb']} GB, "
        "everything on the same machine (client, nginx, both app servers, PgBouncer, PostgreSQL, Redis, the sandbox).",
        *(
            [
                "",
                f"**A {args.duration:g}-second smoke run, not the measurement**: `make bench-load` runs 60 s "
                "on a machine with nothing else on it.",
            ]
            if args.duration < 60
            else []
        ),
        "",
        f"Configuration: nginx {m['nginx']} (round-robin, upstream keep-alive); 2 x gunicorn {m['gunicorn']} "
        f"`config.wsgi`, {args.workers} gthread workers x {args.threads} threads each, DEBUG off, one SECRET_KEY; "
        f"PgBouncer {m['pgbouncer']}, transaction pooling, {args.pool_size} server connections; "
        f"PostgreSQL {m['postgresql']} (a primary of its own, archiving its WAL); "
        f"Redis {m['redis']} (db {args.redis_db}, broker db {args.redis_db + 1}); {worker}the Stripe sandbox; "
        f"Python {m['python']}. "
        f"Readiness checked per server at {readiness}.",
        "",
        f"Mix per connection: {results['mix_text']}. Client: {results['client']}.",
        "",
        "| route | requests | req/s | p50 ms | p99 ms | unexpected |",
        "|---|---|---|---|---|---|",
    ]
    for route, row in results["routes"].items():
        lines.append(
            f"| {route} | {row['requests']:,} | {row['rps']:.1f} | {row['p50_ms']:.1f} | {row['p99_ms']:.1f} |"
            f" {row['unexpected']} |"
        )
    total = results["total"]
    lines.append(
        f"| **total** | **{total['requests']:,}** | **{total['rps']:.1f}** | {total['p50_ms']:.1f} |"
        f" {total['p99_ms']:.1f} | **{total['unexpected']}** |"
    )
    servers = results.get("served_by", {})
    if servers:
        lines += ["", "Answered by: " + ", ".join(f"{k}: {v:,}" for k, v in sorted(servers.items())) + "."]
    if results.get("unexpected_samples"):
        lines += ["", "Unexpected answers (first few): " + "; ".join(results["unexpected_samples"])]
    lines += ["", "Invariants after the run:", ""]
    lines += [f"- {'holds' if ok else '**VIOLATED**'}: {text}" for ok, text in results["invariants"]]
    commands = results["commands"]
    lines += [
        "",
        "The commands of docs/deploy.md, run against this cluster (through PgBouncer; `migrate` straight to "
        "PostgreSQL); each cron command twice, after the load:",
        "",
    ]
    lines += ["| when | command | exit status | seconds | last line of output |", "|---|---|---|---|---|"]

    def row(when, run):
        last = run["last"].replace("|", "\\|")[:90] + (f": {', '.join(run['codes'])}" if run["codes"] else "")
        return f"| {when} | `manage.py {run['command']}` | {run['status']} | {run['seconds']:.1f} | {last} |"

    lines += [row("deploy", run) for run in commands["deploy"]]
    lines += [row(f"cron, run {n + 1}", run) for pair in commands["cron"] for n, run in enumerate(pair)]
    lines += [row("by hand", run) for run in commands["by_hand"]]
    lines += ["", "After the cron commands:", ""]
    lines += [f"- {'holds' if ok else '**VIOLATED**'}: {text}" for ok, text in results["after_cron"]]
    backup = results["backup"]
    lines += [
        "",
        f"Backup and restore drill: `pg_basebackup -Fp -Xs -c fast` of the live primary, {backup['backup_mb']:.0f} MB "
        f"in {backup['backup_seconds']:.1f} s; then the by-hand commands wrote to the primary, which archived its WAL; "
        f"the backup, started with `restore_command` on the archive, replayed it and was promoted in "
        f"{backup['restore_seconds']:.1f} s. Primary and restored copy: "
        + ("**equal**" if backup["ok"] else "**DIFFER**")
        + f" ({', '.join(f'{k} {v:,}' for k, v in backup['restored'].items())}; at the base backup: "
        + ", ".join(f"{k} {v:,}" for k, v in backup["at_backup"].items() if v != backup["restored"][k])
        + ", so the rest came from the WAL archive).",
    ]
    lines += ["", "The sign-in throttle across both servers (one account, one client address, through nginx):", ""]
    lines += ["| attempt | password | answered by | status | |", "|---|---|---|---|---|"]
    for row in results["throttle"]["attempts"]:
        lines.append(f"| {row['n']} | {row['password']} | {row['server']} | {row['status']} | {row['meaning']} |")
    lines += ["", results["throttle"]["verdict"]]
    return "\n".join(lines)


def write_docs(block: str) -> None:
    text = DOCS.read_text()
    wrapped = f"{START}\n{block}\n{END}"
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), lambda _: wrapped, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + wrapped + "\n"
    DOCS.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=60, help="seconds of traffic")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--orgs", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per app server")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument("--pool-size", type=int, default=20, help="PgBouncer's server connections")
    parser.add_argument("--redis-db", type=int, default=12, help="Redis database (and the next one, the broker)")
    parser.add_argument("--webhook-flows", type=int, default=10, help="Stripe flows recorded for the webhook stream")
    parser.add_argument("--axes-failure-limit", type=int, default=int(os.environ.get("AXES_FAILURE_LIMIT", 5)))
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    parser.add_argument("--keep-logs", action="store_true", help="keep the run directory (logs, configs)")
    args = parser.parse_args()

    install_packages()
    cluster = Cluster(args)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    # Ctrl-C and SIGTERM stop everything (SIGINT too when it arrived ignored, as in a background job).
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    status = 1
    try:
        cluster.redis_flush()
        cluster.start_sandbox()
        django_setup(cluster)
        template = migrated_template()
        cluster.start_primary(template)
        use_primary(cluster)
        print("seeding ...", flush=True)
        plan = seed(cluster, args)
        from django.db import connections

        connections.close_all()
        cluster.start_pgbouncer()
        print("deploy commands ...", flush=True)
        deploy = [cluster.manage(args, direct=direct) for args, direct in DEPLOY]
        failed = [run for run in deploy if run["status"] != 0]
        if failed:
            raise Failed(f"deploy commands failed: {failed} (see {cluster.dir}/manage.log)")
        checks = cluster.start_apps()
        cluster.start_nginx()
        plan_path = cluster.dir / "plan.json"
        out_path = cluster.dir / "results.json"
        plan_path.write_text(json.dumps(plan))
        print(f"cluster up in {cluster.dir}: nginx {plan['balancer']} -> {', '.join(plan['servers'])}", flush=True)
        command = [sys.executable, str(ROOT / "bench" / "load.py"), "--plan", str(plan_path), "--out", str(out_path)]
        command += ["--duration", str(args.duration), "--connections", str(args.connections)]
        load = subprocess.run(command, cwd=ROOT)
        if not out_path.exists():
            raise Failed(f"bench/load.py wrote no results (exit status {load.returncode})")
        results = json.loads(out_path.read_text())
        print("cron commands, each twice ...", flush=True)
        cron = [[cluster.manage(args) for _ in range(2)] for args in CRON]
        from bench.load import after_cron

        results["after_cron"] = after_cron(cluster.direct_url, plan["webhooks"]["expected_grants"])
        print("base backup, the by-hand commands, restore drill ...", flush=True)
        drill = cluster.backup_drill(BY_HAND)
        by_hand = drill.pop("runs")
        results["backup"] = drill
        results["commands"] = {"deploy": deploy, "cron": cron, "by_hand": by_hand}
        commands_ok = all(run["status"] == 0 for run in [*(r for pair in cron for r in pair), *by_hand])
        if not commands_ok or not drill["ok"] or not all(ok for ok, _ in results["after_cron"]):
            load = subprocess.CompletedProcess(load.args, 1)
        block = markdown(results, machine(), args, checks)
        print(block)
        if args.write_docs:
            write_docs(block)
        status = load.returncode
    except Failed as error:
        print(f"error: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        print("interrupted: stopping the cluster", file=sys.stderr)
        status = 130
    finally:
        cluster.stop()
        if args.keep_logs or status not in (0, 130):
            print(f"logs and configs kept in {cluster.dir}", file=sys.stderr)
        else:
            shutil.rmtree(cluster.dir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
