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
