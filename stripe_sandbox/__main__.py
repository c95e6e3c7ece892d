"""python -m stripe_sandbox --port 12111 [--webhook URL --webhook-secret whsec_...]"""

import argparse
import logging
import signal
import threading

from .sandbox import StripeSandbox
from .version import API_VERSION
from .webhooks import DEFAULT_RETRY_BACKOFF


def _seconds(text: str) -> tuple[float, ...]:
    return tuple(float(part) for part in text.split(",") if part.strip())


def _api_version(text: str) -> str:
    if text != API_VERSION:
        raise argparse.ArgumentTypeError(f"the sandbox serves API version {API_VERSION} only, not {text}")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stripe_sandbox", description="Local stateful Stripe sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--public-url", help="base URL browsers use for hosted pages (default http://HOST:PORT)")
    parser.add_argument("--webhook", action="append", default=[], metavar="URL", help="endpoint to send events to")
    parser.add_argument("--webhook-secret", help="signing secret for --webhook (default: generated and printed)")
    parser.add_argument(
        "--api-version",
        type=_api_version,
        default=API_VERSION,
        help="the API version served, written into events; only %(default)s is implemented",
    )
    parser.add_argument(
        "--retry-backoff",
        type=_seconds,
        default=DEFAULT_RETRY_BACKOFF,
        metavar="S,S,...",
        help="seconds before each webhook retry (default %(default)s)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log every request")
    parser.add_argument(
        "--validate", action="store_true", help="log what deviates from Stripe's schema for the API version"
    )
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(asctime)s %(message)s")
    sandbox = StripeSandbox(
        host=args.host,
        port=args.port,
        public_url=args.public_url,
        api_version=args.api_version,
        retry_backoff=args.retry_backoff,
        log_requests=not args.quiet,
        validate=args.validate,
    )
    endpoints = [sandbox.add_webhook_endpoint(url, secret=args.webhook_secret) for url in args.webhook]
    sandbox.start()
    print(f"Stripe sandbox on {sandbox.url} (API version {args.api_version}); any sk_test_ key works.", flush=True)
    for endpoint, secret in endpoints:
        print(f"Webhook endpoint {endpoint['id']} -> {endpoint['url']} (secret {secret})", flush=True)

    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        sandbox.stop()


if __name__ == "__main__":
    main()
