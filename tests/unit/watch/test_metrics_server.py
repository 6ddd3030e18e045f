"""The metrics server listens on the address it is given, IPv4 or IPv6, and says why not."""

from __future__ import annotations

import socket
import urllib.request

import pytest

from pipeline.watch.metrics import WatchMetrics, serve


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.parametrize(("address", "host"), [("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")])
def test_the_server_answers_on_an_ipv4_or_ipv6_address(address, host):
    if ":" in address and not ipv6_loopback():
        pytest.skip("this machine has no IPv6 loopback")
    # Issue 27: '--metrics-address ::1' was refused ("Address family for hostname not
    # supported"): the server was always an IPv4 socket.
    server = serve(WatchMetrics(60.0), 0, address)
    try:
        with urllib.request.urlopen(f"http://{host}:{server.server_port}/metrics") as answer:
            assert answer.status == 200 and b"feedlake" in answer.read()
    finally:
        server.shutdown()
        server.server_close()


def test_an_address_that_is_no_address_raises_oserror():
    with pytest.raises(OSError):
        serve(WatchMetrics(60.0), 0, "no.such.host.invalid")
