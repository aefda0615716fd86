#!/usr/bin/env python3
"""bench/load's driver: starts the daemon and a path-routed service on loopback, then measures. Every wait is
bounded; every loop ends by count or time."""
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time

TOKEN = "load-token-0123456789"
AUTH = f"Authorization: Bearer {TOKEN}\r\n"
IDLE = int(os.environ.get("IDLE", 10000))
ACTIVE = int(os.environ.get("ACTIVE", 1000))
DUR = float(os.environ.get("DUR", 10))
SLOW = int(os.environ.get("SLOW", 1000))
# Client addresses spread over 127.0.0.2-127.0.0.81, as many clients would be (the per-client cap is 256).
SOURCES = [f"127.0.0.{i}" for i in range(2, 82)]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


async def open_conn(port, i):
    sock = socket.socket()
    sock.setblocking(False)
    sock.bind((SOURCES[i % len(SOURCES)], 0))
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock)


async def read_answer(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    m = re.search(rb"content-length: *(\d+)", head, re.I)
    if m:
        await reader.readexactly(int(m.group(1)))
    return int(head[9:12])


async def idle_phase(port, path, pid):
    conns = []
    sem = asyncio.Semaphore(500)

    async def one(i):
        async with sem:
            r, w = await open_conn(port, i)
            w.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode())
            status = await asyncio.wait_for(read_answer(r), 30)
            conns.append(w)
            return status

    before = rss_kib(pid)
    t = time.monotonic()
    statuses = await asyncio.gather(*(one(i) for i in range(IDLE)))
    took = time.monotonic() - t
    ok = sum(s == 200 for s in statuses)
    after = rss_kib(pid)
    for w in conns:
        w.close()
    return ok, took, before, after


async def active_phase(port, path, pid):
    latencies = []
    done = 0
    end = time.monotonic() + DUR
    peak = 0

    async def worker(i):
        nonlocal done
        r, w = await open_conn(port, i)
        req = f"GET {path} HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode()
        while time.monotonic() < end:
            t = time.monotonic()
            w.write(req)
            await asyncio.wait_for(read_answer(r), 30)
            latencies.append(time.monotonic() - t)
            done += 1
        w.close()

    async def watch():
        nonlocal peak
        while time.monotonic() < end:
            peak = max(peak, rss_kib(pid))
            await asyncio.sleep(0.5)  # a sampling period, not a synchronisation

    t = time.monotonic()
    await asyncio.gather(watch(), *(worker(i) for i in range(ACTIVE)))
    took = time.monotonic() - t
    latencies.sort()
    p = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return done / took, p(0.5), p(0.99), peak


async def slow_phase(port, head, body_each, pid, probe_path):
    """SLOW connections trickle `head` a byte a second (or, with body_each, a full head then a body byte a
    second); returns when each was closed by the daemon, and a normal client's latency meanwhile."""
    closed_after = []
    start = time.monotonic()

    async def slow(i):
        r, w = await open_conn(port, i)
        data = head
        try:
            if body_each:
                w.write(data)
                data = b"x" * 100000
            for b in data:
                w.write(bytes([b]))
                await w.drain()
                try:
                    got = await asyncio.wait_for(r.read(4096), 1.0)
                    if got == b"":
                        break
                    # An answer (408/400/413) counts as being let go; wait for the close.
                    await asyncio.wait_for(r.read(), 5)
                    break
                except asyncio.TimeoutError:
                    pass
                if time.monotonic() - start > 90:
                    break
        except (ConnectionError, OSError):
            pass
        closed_after.append(time.monotonic() - start)
        w.close()

    async def probe():
        lat = []
        r, w = await open_conn(port, 10**6)
        while time.monotonic() - start < 15:
            t = time.monotonic()
            w.write(f"GET {probe_path} HTTP/1.1\r\nHost: x\r\n{AUTH}\r\n".encode())
            await asyncio.wait_for(read_answer(r), 10)
            lat.append(time.monotonic() - t)
            await asyncio.sleep(0.1)  # a request rate, not a synchronisation
        w.close()
        lat.sort()
        return lat[len(lat) // 2] * 1000, lat[-1] * 1000

    peak_before = rss_kib(pid)
    results = await asyncio.gather(probe(), *(slow(i) for i in range(SLOW)))
    closed_after.sort()
    return closed_after[len(closed_after) // 2], closed_after[-1], results[0], peak_before, rss_kib(pid)


def main():
    binary = sys.argv[1]
    root = tempfile.mkdtemp(prefix="agw-load-")
    # Node's http as the routed service: Python's http.server has a listen backlog of 5, which would measure it.
    up = subprocess.Popen(["node", "tests/proxy/node_upstream.mjs"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    up_port = int(up.stdout.readline())
    err = open(os.path.join(root, "daemon.log"), "w+")
    d = subprocess.Popen([binary, "--listen", "127.0.0.1:0", "--root", root, "--token", TOKEN,
                          "--metrics", "off"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    port = None
    for _ in range(600):
        err.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", err.read())
        if m:
            port = int(m.group(1))
            break
        time.sleep(0.05)
    if port is None:
        sys.exit("daemon did not start")
    try:
        s = socket.create_connection(("127.0.0.1", port))
        body = f'{{"mappings":[{{"port":{up_port},"pathPrefix":"/app","protected":true}}]}}'.encode()
        s.sendall(f"PUT /v0/agents/local/port-forwarding HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Length: {len(body)}\r\n\r\n".encode() + body)
        s.recv(4096)
        s.close()
        api = "/v0/agents/local/platform/whoami"
        app = "/app/echo"
        print(f"agent-gateway {binary}, pid {d.pid}, idle RSS {rss_kib(d.pid)} KiB")
        for name, path in (("API", api), ("path route", app)):
            ok, took, before, after = asyncio.run(idle_phase(port, path, d.pid))
            print(f"{IDLE} idle keep-alive connections via {name}: {ok} answered in {took:.1f} s; RSS {before} -> {after} KiB "
                  f"({(after - before) * 1024 / max(ok, 1):.0f} B per connection)")
        for name, path in (("API", api), ("path route", app)):
            rps, p50, p99, peak = asyncio.run(active_phase(port, path, d.pid))
            print(f"{ACTIVE} active connections via {name} for {DUR:.0f} s: {rps:.0f} req/s, p50 {p50:.1f} ms, "
                  f"p99 {p99:.1f} ms, peak RSS {peak} KiB")
        head_only = b"GET /v0/agents/local HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 200 + b"\r\n\r\n"
        mid, last, (p50, worst), before, after = asyncio.run(slow_phase(port, head_only, False, d.pid, api))
        print(f"slowloris, headers ({SLOW} clients, a byte a second): closed after {mid:.1f} s (median), {last:.1f} s "
              f"(last); a normal client meanwhile p50 {p50:.1f} ms, worst {worst:.1f} ms; RSS {before} -> {after} KiB")
        for name, target in (("API upload", "/v0/agents/local/files/upload"), ("path route", "/app/echo")):
            slow_body = (f"POST {target} HTTP/1.1\r\nHost: x\r\n{AUTH}Content-Type: application/json\r\n"
                         f"Content-Length: 100000\r\n\r\n").encode()
            mid, last, (p50, worst), before, after = asyncio.run(slow_phase(port, slow_body, True, d.pid, api))
            print(f"slowloris, body via {name} ({SLOW} clients, a byte a second): closed after {mid:.1f} s (median), "
                  f"{last:.1f} s (last); a normal client meanwhile p50 {p50:.1f} ms, worst {worst:.1f} ms; "
                  f"RSS {before} -> {after} KiB")
    finally:
        d.terminate()
        d.wait(timeout=30)
        up.stdin.close()
        up.wait(timeout=10)


if __name__ == "__main__":
    main()
