"""Two "hosts" made of Linux network namespaces joined by a veth pair, for multi-host tests.

``ns A`` (10.77.0.1/24) and ``ns B`` (10.77.0.2/24) talk over ``veth`` A<->B only; a second
veth pair joins the test's own namespace to A (a private /30) so the test can read the
exchange's admin API. Everything is removed in :meth:`Hosts.close` (deleting a namespace
deletes its interfaces).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

__all__ = ["Hosts", "cannot_make_namespaces"]


def _ip(*args: str) -> None:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=10, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {res.stderr.strip()}")


def cannot_make_namespaces() -> str | None:
    """Why namespaces cannot be made here (a skip reason), or None."""
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    if os.geteuid() != 0:
        return "network namespaces need root"
    name = f"okxprobe{os.getpid()}"
    try:
        _ip("netns", "add", name)
    except RuntimeError as exc:
        return f"cannot create a network namespace: {exc}"
    _ip("netns", "del", name)
    return None


@dataclass
class Hosts:
    """Namespace names, addresses and interfaces of the two hosts."""

    a: str
    b: str
    a_addr: str = "10.77.0.1"
    b_addr: str = "10.77.0.2"
    a_if: str = ""
    b_if: str = ""
    observer_addr: str = ""  # host A's address as seen from the test's namespace

    @classmethod
    def create(cls) -> Hosts:
        tag = str(os.getpid())[-6:]
        hosts = cls(a=f"okxA{tag}", b=f"okxB{tag}", a_if=f"okva{tag}", b_if=f"okvb{tag}")
        # the observer link's /30 from the pid: parallel runs must not share root addresses
        n = os.getpid() % 16000
        net = f"10.78.{n // 64}.{(n % 64) * 4}"
        prefix = net.rsplit(".", 1)[0]
        last = int(net.rsplit(".", 1)[1])
        root_addr, hosts.observer_addr = f"{prefix}.{last + 1}", f"{prefix}.{last + 2}"
        root_if, obs_if = f"okvr{tag}", f"okvo{tag}"
        hosts.close()  # leftovers of a killed run with the same pid (deleting ns A frees root_if)
        try:
            _ip("netns", "add", hosts.a)
            _ip("netns", "add", hosts.b)
            _ip("link", "add", hosts.a_if, "type", "veth", "peer", "name", hosts.b_if)
            _ip("link", "set", hosts.a_if, "netns", hosts.a)
            _ip("link", "set", hosts.b_if, "netns", hosts.b)
            _ip("link", "add", root_if, "type", "veth", "peer", "name", obs_if)
            _ip("link", "set", obs_if, "netns", hosts.a)
            _ip("addr", "add", f"{root_addr}/30", "dev", root_if)
            _ip("link", "set", root_if, "up")
            for ns, ifname, addr in (
                (hosts.a, hosts.a_if, f"{hosts.a_addr}/24"),
                (hosts.b, hosts.b_if, f"{hosts.b_addr}/24"),
                (hosts.a, obs_if, f"{hosts.observer_addr}/30"),
            ):
                _ip("-n", ns, "addr", "add", addr, "dev", ifname)
                _ip("-n", ns, "link", "set", ifname, "up")
                _ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            hosts.close()
            raise
        return hosts

    def exec_prefix(self, ns: str) -> list[str]:
        """argv prefix running a command inside ``ns`` (``ip netns exec`` execs, no fork: the
        child's pid is the command's)."""
        return ["ip", "netns", "exec", ns]

    def link(self, up: bool) -> None:
        """Cut (or restore) the A<->B link from host B's side."""
        _ip("-n", self.b, "link", "set", self.b_if, "up" if up else "down")

    def close(self) -> None:
        for ns in (self.a, self.b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)
