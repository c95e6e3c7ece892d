"""The benchmarks' databases on the machine's PostgreSQL (127.0.0.1, role root): made from a
migrated template kept between runs, so dj-stripe's minute of migrations is paid once."""

import os
import subprocess

import psycopg


def ensure_postgres() -> None:
    if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
        cluster = os.listdir("/etc/postgresql")[0]
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", cluster, "main", "start"], check=True)


def admin() -> psycopg.Connection:
    return psycopg.connect("postgres://root@127.0.0.1:5432/postgres", autocommit=True)


def create_from(name: str, template: str | None) -> None:
    from django.db import connections

    connections.close_all()  # a template must have no sessions
    with admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))


def use_database(name: str) -> None:
    from django.db import connections

    connections.close_all()
    connections.settings["default"]["NAME"] = name
    connections["default"].settings_dict["NAME"] = name


def migrated_template(db: str) -> str:
    """`<db>_migrated`: an empty database with every migration, made once and kept; a template
    from before a newer migration of Keel's is migrated forward."""
    from django.core.management import call_command

    name = f"{db}_migrated"
    with admin() as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    if not exists:
        create_from(name, None)
    use_database(name)
    print(f"migrating {name} (about a minute the first time) ...", flush=True)
    call_command("migrate", verbosity=0)
    return name
