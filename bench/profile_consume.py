"""Where a consumption's time goes: CPU per request, in-process, Keel vs the ceiling.

    .venv/bin/python bench/profile_consume.py [--requests 3000] [--profile keel]

Calls each side's WSGI application directly (no HTTP, no server), one request
after another on one persistent database connection, and reports per request:
the Python process's CPU, the PostgreSQL backend's CPU (from /proc, same
machine), and wall time: medians of --rounds alternating runs. With --profile
keel (or ceiling) it prints the top of a cProfile of that side too
(PROFILE_SORT=tottime ranks by self time). Uses the benchmark's database
(`keel_bench`, which bench/credits_consume.py creates).
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.credits_consume import DATABASE_URL, ensure_database  # noqa: E402


def _clock_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def prepare() -> dict:
    """An organization with an API key and one huge grant (Keel's settings, own process)."""
    code = (
        "import json, uuid; from bench.credits_consume import setup_django, make_org; setup_django();"
        "t, u, grants, key = make_org(f'profile-{uuid.uuid4().hex[:8]}');"
        "print(json.dumps({'slug': t.slug, 'key': key, 'grant': str(grants[0].id)}))"
    )
    env = {**os.environ, "DATABASE_URL": DATABASE_URL, "DJANGO_SETTINGS_MODULE": "bench.settings"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(side: str, target: dict, requests: int, profile: bool) -> dict:
    os.environ["DATABASE_URL"] = DATABASE_URL
    os.environ["CONN_MAX_AGE"] = "600"
    if side == "keel":
        os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
        from config.wsgi import application

        path, headers = (
            f"/api/v1/orgs/{target['slug']}/credits/consume/",
            {"HTTP_AUTHORIZATION": f"Bearer {target['key']}"},
        )
    else:
        from bench.ceiling_wsgi import application

        path, headers = "/bench/raw-consume/", {"HTTP_X_GRANT": target["grant"]}
    from django.db import connection

    body = b'{"amount": 1, "description": "bench"}'
    statuses = []

    def start_response(status, response_headers, exc_info=None):
        statuses.append(status)

    def one(n: int) -> None:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_IDEMPOTENCY_KEY": f"profile-{time.time_ns()}-{n}",
            **headers,
        }
        for _chunk in application(environ, start_response):
            pass

    for n in range(200):  # warm: imports, the connection, prepared statements
        one(n)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        backend = cursor.fetchone()[0]
    ticks = os.sysconf("SC_CLK_TCK")
    profiler = cProfile.Profile(time.process_time) if profile else None
    backend_before, cpu_before, wall_before = _clock_ticks(backend), time.process_time(), time.perf_counter()
    if profiler:
        profiler.enable()
    for n in range(requests):
        one(n)
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - wall_before
    cpu = time.process_time() - cpu_before
    backend_cpu = (_clock_ticks(backend) - backend_before) / ticks
    assert set(statuses) == {"201 Created"}, set(statuses)
    result = {
        "python_ms": cpu / requests * 1000,
        "postgres_ms": backend_cpu / requests * 1000,
        "wall_ms": wall / requests * 1000,
    }
    if profiler:
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(45)
        result["profile"] = stream.getvalue()
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per side; medians are reported")
    parser.add_argument("--profile", choices=["keel", "ceiling"])
    parser.add_argument("--side", choices=["keel", "ceiling"], help=argparse.SUPPRESS)  # internal: one side
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        result = measure(args.side, json.loads(args.target), args.requests, args.profile == args.side)
        print(json.dumps(result))
        return
    ensure_database(fresh=False)
    target = prepare()
    runs: dict[str, list[dict]] = {"ceiling": [], "keel": []}
    for _round in range(args.rounds):  # alternating, so both sides see the same machine
        for side in ("ceiling", "keel"):
            command = [sys.executable, __file__, "--side", side, "--target", json.dumps(target)]
            command += ["--requests", str(args.requests)] + (["--profile", args.profile] if args.profile else [])
            out = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True).stdout
            runs[side].append(json.loads(out.strip().splitlines()[-1]))
    results = {
        side: {
            **{key: statistics.median(r[key] for r in side_runs) for key in ("python_ms", "postgres_ms", "wall_ms")},
            **({"profile": side_runs[-1]["profile"]} if "profile" in side_runs[-1] else {}),
        }
        for side, side_runs in runs.items()
    }
    for side, r in results.items():
        print(
            f"{side:8} python {r['python_ms']:.3f} ms  postgres {r['postgres_ms']:.3f} ms  wall {r['wall_ms']:.3f} ms"
        )
        if "profile" in r:
            print(r["profile"])
    total = {side: r["python_ms"] + r["postgres_ms"] for side, r in results.items()}
    print(
        f"CPU per request (python + postgres): Keel {total['keel']:.3f} ms, ceiling {total['ceiling']:.3f} ms;"
        f" ceiling / Keel {total['ceiling'] / total['keel']:.0%}"
    )


if __name__ == "__main__":
    main()
