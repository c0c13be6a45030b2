"""Where `codellama-lsp serve` listens, made safe: loopback unless there is an API key; a private unix socket.

A unix socket lives in a folder only its owner can enter, is born mode 0600, replaces a stale
socket file (one nobody answers on) and never a live one.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import socket
import stat
from pathlib import Path

BACKLOG = 2048


class ListenRefused(Exception):
    """Listening as asked would be unsafe or impossible; the message says what to do instead."""


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve anywhere
        return False


def api_key_from_env(variable: str | None) -> str | None:
    """The key in the named environment variable (None when no variable is named)."""
    if variable is None:
        return None
    key = os.environ.get(variable, "").strip()
    if not key:
        raise ListenRefused(
            f"--api-key-env names {variable}, which is unset or empty; set it to a secret first, e.g.\n"
            f"  export {variable}=$(openssl rand -hex 32)"
        )
    return key


def check_exposure(host: str, api_key: str | None) -> None:
    """Refuse a TCP address beyond this machine without an API key."""
    if api_key is None and not is_loopback(host):
        raise ListenRefused(
            f"refusing to listen on {host} without an API key: anyone who can reach it could use the model. "
            "Set an environment variable to a secret and pass its name:\n"
            "  export CODELLAMA_API_KEY=$(openssl rand -hex 32)\n"
            f"  codellama-lsp serve --host {shlex.quote(host)} --api-key-env CODELLAMA_API_KEY"
        )


def tcp_socket(host: str, port: int) -> socket.socket:
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise ListenRefused(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as e:
        sock.close()
        raise ListenRefused(f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def _private_folder(folder: Path) -> None:
    """Create the folder 0700, or check that an existing one is ours and closed to everyone else."""
    if not folder.exists():
        folder.mkdir(mode=0o700, parents=True)
        os.chmod(folder, 0o700)
    info = folder.stat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise ListenRefused(
            f"refusing to put the socket in {folder}: it must be a folder owned by you that group and others "
            f"cannot enter (mode 0700: chmod 700 {shlex.quote(str(folder))}), or a new folder"
        )


def _clear_stale(path: Path) -> None:
    """Unlink a socket file nobody listens on; refuse a live one or anything else."""
    if not path.exists() and not path.is_symlink():
        return
    if not stat.S_ISSOCK(path.lstat().st_mode):
        raise ListenRefused(f"{path} exists and is not a socket; remove it or choose another --socket")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
    except ConnectionRefusedError:  # stale: its server is gone
        path.unlink()
        return
    except OSError as e:
        raise ListenRefused(f"cannot check the socket {path}: {e.strerror or e}") from None
    finally:
        probe.close()
    raise ListenRefused(f"an engine already listens on {path}; connect to it, or stop it first")


def unix_socket(path: Path) -> socket.socket:
    """A listening unix socket at `path`, mode 0600, in a private folder."""
    _private_folder(path.parent)
    _clear_stale(path)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)  # born 0600: no moment where others could connect
    try:
        sock.bind(str(path))
    except OSError as e:
        sock.close()
        raise ListenRefused(f"cannot listen on {path}: {e.strerror or e}") from None
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    sock.listen(BACKLOG)
    return sock


def remove_socket_file(path: Path, inode: int) -> None:
    """Unlink the socket file at exit, unless another server has replaced it since (`inode`: ours, at bind)."""
    try:
        if path.lstat().st_ino == inode:
            path.unlink()
    except OSError:
        pass
