"""Parsing `--workers=HOST:PORT,...`: the addresses of TFF `worker_binary` services.

Hosts are names, IPv4 addresses or bracketed IPv6 addresses (`[::1]:8000`); ports are 1-65535.
Every error names the argument, what was expected and what was received.
"""

from __future__ import annotations

import dataclasses
import re

_HOST_NAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$")
_EXPECTED = "comma-separated HOST:PORT (e.g. localhost:8000,10.0.0.2:8000 or [::1]:8000)"


@dataclasses.dataclass(frozen=True)
class WorkerAddress:
    """One worker service: `host` (name, IPv4, or IPv6 without brackets) and TCP `port`."""

    host: str
    port: int

    @property
    def target(self) -> str:
        """The gRPC target string (`host:port`, IPv6 hosts bracketed)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return self.target


def parse_worker_addresses(text: str, *, argument: str = "--workers") -> list[WorkerAddress]:
    """Parses `HOST:PORT[,HOST:PORT...]`; raises ValueError naming `argument` on bad input.

    Duplicates are rejected (two entries for one worker would run its share twice).
    """
    if not isinstance(text, str):
        raise ValueError(f"{argument} must be a string of {_EXPECTED}; got {text!r}")
    if not text.strip():
        raise ValueError(f"{argument} must list at least one worker as {_EXPECTED}; got {text!r}")
    addresses: list[WorkerAddress] = []
    for item in text.split(","):
        address = _parse_one(item.strip(), text, argument)
        if address in addresses:
            raise ValueError(f"{argument} lists worker {address} twice; expected each HOST:PORT "
                             f"once; got {text!r}")
        addresses.append(address)
    return addresses


def _parse_one(item: str, text: str, argument: str) -> WorkerAddress:
    """One `HOST:PORT` entry of `text`."""
    where = f"entry {item!r} of {text!r}"
    if item.startswith("["):
        host, sep, port = item[1:].partition("]:")
        if not sep or not host or ":" not in host:
            raise ValueError(f"{argument}: expected [IPV6]:PORT in {where}")
    else:
        host, sep, port = item.rpartition(":")
        if not sep or not host:
            raise ValueError(f"{argument}: expected HOST:PORT ({_EXPECTED}); got {where}")
        if ":" in host:
            raise ValueError(f"{argument}: expected IPv6 hosts in brackets ([::1]:8000); "
                             f"got {where}")
        if not _HOST_NAME.match(host):
            raise ValueError(f"{argument}: expected a host name or IP address; got host "
                             f"{host!r} in {where}")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"{argument}: expected a port in 1-65535; got port {port!r} in {where}")
    return WorkerAddress(host=host, port=int(port))
