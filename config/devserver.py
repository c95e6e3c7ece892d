"""What `make run` runs (inside config.localdb, so DATABASE_URL is set): the site, with payments
wired to Stripe when keys are configured, else to the local Stripe sandbox.

    python -m config.devserver [--host 127.0.0.1] [--port 8000] [--sandbox-port 12111]

With no STRIPE_SECRET_KEY (in the environment or .env) it starts `python -m stripe_sandbox`
beside the site, sending signed webhooks to dj-stripe's view, and runs every command with

    STRIPE_SECRET_KEY=sk_test_KeelSandboxLocalKey00000000   (any sk_test_ key works there)
    STRIPE_API_BASE=http://127.0.0.1:12111
    STRIPE_WEBHOOK_SECRET=whsec_...                          (new for each run)

then: migrate (first: a fresh clone has no tables), billing_setup_webhook (dj-stripe's row
with the uuid of the sandbox's webhook URL and its secret), billing_catalog (the example
catalogue, created in the sandbox), sync_prices, seed_demo and runserver. SITE_URL defaults
to http://HOST:PORT. The sandbox keeps its state in memory, so each run starts from the
catalogue alone. It stops when runserver does: Ctrl-C reaches both (one process group),
SIGTERM is passed on, and on Linux both get SIGTERM if this process is killed.

With STRIPE_SECRET_KEY set, payments go to Stripe (or to STRIPE_API_BASE): no sandbox and no
catalogue; sync_prices reads the account's prices, and billing_setup_webhook runs when
STRIPE_WEBHOOK_SECRET is set (e.g. the secret `stripe listen` prints).

Nothing here imports Django: the settings read the environment once, at import, so the
variables are decided first and every command is a child process.
"""

import argparse
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# dj-stripe accepts keys shaped like Stripe's: a prefix and 24+ letters or digits.
SANDBOX_KEY = "sk_test_KeelSandboxLocalKey00000000"
# dj-stripe's uuid of the sandbox's endpoint (the last part of the webhook URL): fixed, so
# that re-runs update one row. Events are trusted by their signature, whose secret is new
# for every run, not by this uuid.
SANDBOX_WEBHOOK_UUID = "6b2f3c0e-5d1a-4c8e-9f47-0a6d2b8e1c35"
# Retries come sooner than the sandbox's default, so the catalogue's events reach the site
# once runserver is up.
SANDBOX_RETRY_BACKOFF = "1,2,5,10,30,60,120"


def read_dotenv() -> None:
    """`.env` as the settings read it (the environment wins)."""
    import environ

    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def local_host(host: str) -> str:
    """An address this machine reaches the server on (0.0.0.0 listens on all of them)."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


def sandbox_environment(*, sandbox_port: int, secret: str) -> dict[str, str]:
    """The variables that point the site's commands at the sandbox."""
    return {
        "STRIPE_SECRET_KEY": SANDBOX_KEY,
        "STRIPE_LIVE_MODE": "False",
        "STRIPE_API_BASE": f"http://127.0.0.1:{sandbox_port}",
        "STRIPE_WEBHOOK_SECRET": secret,
    }


def sandbox_webhook_url(host: str, port: int) -> str:
    return f"http://{local_host(host)}:{port}/stripe/webhook/{SANDBOX_WEBHOOK_UUID}/"


def setup_commands(*, sandbox: bool, webhook_secret: bool) -> list[list[str]]:
    """The manage.py commands run before runserver; with real keys, those that may fail
    (Stripe unreachable) only warn."""
    if sandbox:
        return [
            ["migrate", "--noinput"],
            ["billing_setup_webhook", "--uuid", SANDBOX_WEBHOOK_UUID],
            ["billing_catalog"],
            ["sync_prices"],
            ["seed_demo"],
        ]
    return [
        ["migrate", "--noinput"],
        *([["billing_setup_webhook"]] if webhook_secret else []),
        ["sync_prices"],
        ["seed_demo"],
    ]


def _child_setup() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """Ctrl-C ends the child (this process ignores SIGINT, and an ignored signal stays ignored
    across exec); on Linux the child gets SIGTERM if this process dies (killed, say), so no
    sandbox or runserver is left behind."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


class SandboxFailed(RuntimeError):
    pass


def start_sandbox(*, sandbox_port: int, webhook_url: str, secret: str, timeout: float = 15.0) -> subprocess.Popen:
    """`python -m stripe_sandbox` on sandbox_port, answering once this returns."""
    if port_in_use(sandbox_port):
        raise SandboxFailed(
            f"Port {sandbox_port} is in use (a `make sandbox` or another `make run`?): stop it, or choose "
            "another port with `make run SANDBOX_PORT=...`."
        )
    command = [sys.executable, "-m", "stripe_sandbox", "--port", str(sandbox_port), "--quiet"]
    command += ["--webhook", webhook_url, "--webhook-secret", secret, "--retry-backoff", SANDBOX_RETRY_BACKOFF]
    process = subprocess.Popen(command, cwd=BASE_DIR, preexec_fn=_child_setup)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        f"http://127.0.0.1:{sandbox_port}/v1/account", headers={"Authorization": f"Bearer {SANDBOX_KEY}"}
    )
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise SandboxFailed(f"The Stripe sandbox stopped at start (exit status {process.returncode}).")
        try:
            with opener.open(request, timeout=1):
                return process
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                stop(process)
                message = f"The Stripe sandbox did not answer on port {sandbox_port} in {timeout:.0f} s."
                raise SandboxFailed(message) from None
            time.sleep(0.1)


def stop(process: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def banner(*, sandbox: bool, env: dict[str, str], host: str, port: int) -> str:
    if sandbox:
        base = env["STRIPE_API_BASE"]
        return "\n".join(
            [
                f"Payments go to the local Stripe sandbox at {base} (no Stripe account; nothing reaches Stripe).",
                f"  Its checkout pages are under {base}/checkout/: card 4242 4242 4242 4242 pays, "
                "4000 0000 0000 0002 is declined.",
                f"  Its API: curl -u {SANDBOX_KEY}: {base}/v1/prices",
                f"  It signs webhooks and sends them to {sandbox_webhook_url(host, port)}",
                "  It keeps everything in memory: each `make run` starts it again with the example catalogue only.",
            ]
        )
    live = env.get("STRIPE_LIVE_MODE", "").lower() in ("1", "true", "yes", "on")
    where = env.get("STRIPE_API_BASE") or "Stripe"
    return f"Payments go to {where} ({'LIVE' if live else 'test'} mode, the STRIPE_SECRET_KEY configured)."


class DevServer:
    def __init__(self, *, host: str, port: int, sandbox_port: int):
        self.host, self.port, self.sandbox_port = host, port, sandbox_port
        self.child: subprocess.Popen | None = None
        self.sandbox: subprocess.Popen | None = None
        self.stopping = False

    def on_sigterm(self, *_) -> None:
        # Only a signal here: the main thread is waiting for the child (and holds its lock).
        self.stopping = True
        if self.child is not None:
            self.child.terminate()

    def manage(self, args: list[str], env: dict[str, str]) -> int:
        if self.stopping:
            return 1
        self.child = subprocess.Popen(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, preexec_fn=_child_setup
        )
        try:
            return self.child.wait()
        finally:
            self.child = None

    def run(self) -> int:
        read_dotenv()
        env = dict(os.environ)
        env.setdefault("SITE_URL", f"http://{local_host(self.host)}:{self.port}")
        use_sandbox = not env.get("STRIPE_SECRET_KEY")
        # Ctrl-C reaches the children too (same process group): let them end, then clean up.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, self.on_sigterm)
        try:
            if use_sandbox:
                secret = "whsec_" + secrets.token_urlsafe(24)
                env.update(sandbox_environment(sandbox_port=self.sandbox_port, secret=secret))
                print(f"No STRIPE_SECRET_KEY: starting the Stripe sandbox on {env['STRIPE_API_BASE']}.", flush=True)
                self.sandbox = start_sandbox(
                    sandbox_port=self.sandbox_port,
                    webhook_url=sandbox_webhook_url(self.host, self.port),
                    secret=secret,
                )
            for args in setup_commands(sandbox=use_sandbox, webhook_secret=bool(env.get("STRIPE_WEBHOOK_SECRET"))):
                status = self.manage(args, env)
                if status != 0 and (use_sandbox or args[0] not in ("sync_prices", "billing_setup_webhook")):
                    return status
                if status != 0:
                    print(f"warning: `manage.py {args[0]}` failed (above); starting the site anyway.", flush=True)
            print(banner(sandbox=use_sandbox, env=env, host=self.host, port=self.port), flush=True)
            return self.manage(["runserver", f"{self.host}:{self.port}"], env)
        except SandboxFailed as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            return 1
        finally:
            stop(self.sandbox)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m config.devserver", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--sandbox-port", type=int, default=12111)
    args = parser.parse_args(argv)
    return DevServer(host=args.host, port=args.port, sandbox_port=args.sandbox_port).run()


if __name__ == "__main__":
    sys.exit(main())
