"""What ``ketch build`` sends besides the context: the query's maps (build args with the
config file's proxies, labels), the headers (``X-Registry-Config``: the stored logins;
``X-Ketch-Build-Secrets``: ``--secret``s), SOURCE_DATE_EPOCH, a gzipped context
(``--compress``, spooled to know its size). docker/cli's ``runBuild`` helpers; errors are the CLI's ``StatusError``.
"""

import os

from ketch import fastjson
from ketch.cli.buildcontext import Context
from ketch.cli.main import StatusError

PROXY_ARGS = (("httpProxy", "HTTP_PROXY"), ("httpsProxy", "HTTPS_PROXY"), ("noProxy", "NO_PROXY"),
              ("ftpProxy", "FTP_PROXY"), ("allProxy", "ALL_PROXY"))


def kv_map(items: list[str], with_nil: bool) -> dict:
    """docker's ConvertKVStringsToMap(WithNil): ``k`` alone is None (or "")."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        out[key] = value if sep else (None if with_nil else "")
    return out


def proxy_args(cli, build_args: dict) -> dict:
    """docker's ParseProxyConfig: the config file's proxies for this daemon (or the
    default ones) as build args, unless given."""
    proxies = cli.config.get("proxies")
    if not isinstance(proxies, dict):
        return build_args
    host = cli.host or os.environ.get("KETCH_HOST") or ""
    chosen = proxies.get(host) if isinstance(proxies.get(host), dict) else proxies.get("default")
    if not isinstance(chosen, dict):
        return build_args
    out = dict(build_args)
    for key, arg in PROXY_ARGS:
        value = chosen.get(key)
        if isinstance(value, str) and value and arg not in out:
            out[arg] = value
    return out


def secrets_header(items: list[str]) -> str | None:
    """``--secret id=x,src=path`` / ``env=VAR`` as ketch's X-Ketch-Build-Secrets header."""
    if not items:
        return None
    import base64
    found: dict[str, str] = {}
    for item in items:
        fields = dict(f.partition("=")[::2] for f in item.split(","))
        ident = fields.get("id", "")
        source = fields.get("src") or fields.get("source") or ""
        env = fields.get("env", "")
        if not ident:
            raise StatusError(1, f'failed to parse secret "{item}": secret ID missing')
        if not source and not env:
            env = ident if ident in os.environ else ""
            if not env:
                source = ident
        if source:
            try:
                with open(source, "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise StatusError(1, f"failed to read secret {ident}: open {source}: "
                                     f"{(exc.strerror or str(exc)).lower()}")
        else:
            data = os.environ.get(env, "").encode()
        found[ident] = base64.b64encode(data).decode()
    return base64.b64encode(fastjson.dumps(found).encode()).decode()


def registry_config(cli) -> str | None:
    """X-Registry-Config: every stored login (base64url JSON), as docker's client sends."""
    import base64

    from ketch.cli import credentials
    auths = {}
    try:
        for store in credentials.stores(cli.config_dir):
            for server in (store.doc.get("auths") or {}):
                if server not in auths:
                    auth = store.get(server)
                    if not auth.empty:
                        auths[server] = auth.to_api()
    except credentials.CredentialsError:
        return None
    if not auths:
        return None
    return base64.urlsafe_b64encode(fastjson.dumps(auths).encode()).decode()


def source_date_epoch(reproducible: bool) -> str:
    value = os.environ.get("SOURCE_DATE_EPOCH", "")
    if value:
        if not value.isdigit():
            raise StatusError(1, f"invalid SOURCE_DATE_EPOCH: {value}")
        return value
    return "0" if reproducible else ""


def ram(text: str) -> int:
    from ketch import units
    return units.parseram(text)


def gzip_chunks(chunks):
    import zlib
    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    for chunk in chunks:
        yield z.compress(chunk)
    yield z.flush()


def compressed(ctx: Context) -> Context:
    """``--compress``: the context's tar gzipped into a spool of its own (the original is
    closed), so its size is known before it is sent."""
    import tempfile
    spool = tempfile.TemporaryFile()
    try:
        for chunk in gzip_chunks(ctx.chunks()):
            spool.write(chunk)
        size = spool.tell()
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    finally:
        ctx.close()
    return Context(spool, size, ctx.dockerfile, ctx.remote)
