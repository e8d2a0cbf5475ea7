"""Gunicorn settings for ShopSphere behind a reverse proxy (see deploy/nginx.conf and the
README's production section). Everything can be overridden on the command line or with
GUNICORN_CMD_ARGS; the environment variables below are this file's own knobs."""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
worker_class = "sync"  # the proxy buffers slow clients; each worker serves one request at a time
timeout = 45  # longer than the app's own timeouts (Stripe 10 s, SMTP 10 s, database 5 s)
graceful_timeout = 30
keepalive = 5  # the proxy keeps connections to the workers open
# Workers are not recycled (max_requests): with PROMETHEUS_MULTIPROC_DIR each new worker
# leaves metric files behind that every scrape must read.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108
# The proxy is the only client; the app itself trusts TRUSTED_PROXY_COUNT hops (ProxyFix).
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = os.environ.get("GUNICORN_ERROR_LOG", "-")
# gunicorn 27's control socket sits at one path per user: instances on one host would share
# it. Off unless asked for (GUNICORN_CONTROL_SOCKET=/run/shopsphere/app1.ctl).
if os.environ.get("GUNICORN_CONTROL_SOCKET"):
    control_socket = os.environ["GUNICORN_CONTROL_SOCKET"]
else:
    control_socket_disable = True
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms id=%({x-request-id}o)s'


def child_exit(server, worker):  # noqa: ANN001 - gunicorn's hook signature
    """A worker that exits leaves its metric files behind: mark them dead, so live gauges
    stop counting it (prometheus_client's multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
