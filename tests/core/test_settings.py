"""Start-up refuses what Keel cannot run on, with a message that says what to do."""

import os
import subprocess
import sys

from django.conf import settings

from config import localdb


def _manage(*args, **env):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=settings.BASE_DIR,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_sqlite_database_url_is_refused_at_start_with_a_clear_message():
    result = _manage("check", DATABASE_URL="sqlite:///db.sqlite3")

    assert result.returncode != 0
    assert "Keel runs on PostgreSQL only" in result.stderr
    assert "Unset DATABASE_URL" in result.stderr


def test_the_tests_run_on_postgresql():
    assert settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"


def test_the_local_server_runner_leaves_a_given_database_url_alone():
    # CI and production bring their own server: the runner starts nothing and passes the URL on.
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "config.localdb",
            "--",
            sys.executable,
            "-c",
            "import os; print(os.environ['DATABASE_URL'])",
        ],
        cwd=settings.BASE_DIR,
        env={**os.environ, "DATABASE_URL": "postgres://someone@db.example:5432/keel"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "postgres://someone@db.example:5432/keel"


def test_the_local_url_points_at_the_socket_of_the_running_server(tmp_path, monkeypatch):
    data = tmp_path / "pgdata"
    data.mkdir()
    monkeypatch.setattr(localdb, "PGDATA", data)
    assert localdb.url() == f"postgres://postgres@/keel?host={data}"

    # A long checkout path puts the socket elsewhere; postmaster.pid says where.
    (data / "postmaster.pid").write_text("123\n/x\n1700000000\n5432\n/run/short\n\n1 2\nready\n")
    assert localdb.url("other") == "postgres://postgres@/other?host=/run/short"


def _settings_of(**env) -> subprocess.CompletedProcess:
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['DISABLE_SERVER_SIDE_CURSORS'], s.DB_PREPARED_STATEMENTS, "
        "d.get('OPTIONS', {}).get('prepare_threshold'))"
    )
    unset = [name for name, value in env.items() if value is None]
    environment = {name: value for name, value in {**os.environ, **env}.items() if name not in unset}
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=settings.BASE_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_database_pooler_fits_the_settings_to_pgbouncer_in_transaction_mode():
    direct = _settings_of(DATABASE_POOLER=None, DB_PREPARED_STATEMENTS=None)
    pooled = _settings_of(DATABASE_POOLER="pgbouncer-transaction", DB_PREPARED_STATEMENTS=None)

    assert direct.stdout.splitlines()[-1].split() == ["False", "True", "5"], direct.stderr
    # No server-side cursors, no prepared statements: nothing that outlives a transaction.
    assert pooled.stdout.splitlines()[-1].split() == ["True", "False", "None"], pooled.stderr


def test_prepared_statements_behind_a_transaction_pooler_or_an_unknown_pooler_are_refused_at_start():
    both = _settings_of(DATABASE_POOLER="pgbouncer-transaction", DB_PREPARED_STATEMENTS="True")
    unknown = _settings_of(DATABASE_POOLER="pgbouncer")

    assert both.returncode != 0 and "Leave DB_PREPARED_STATEMENTS unset" in both.stderr
    assert unknown.returncode != 0 and "pgbouncer-transaction" in unknown.stderr
