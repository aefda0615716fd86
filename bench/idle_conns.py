#!/usr/bin/env python3
"""Opens N keep-alive connections, makes one request on each, keeps them idle, prints the server's RSS (KiB).
usage: idle_conns.py PORT N PATH AUTH PIDS..."""
import socket, sys, time

port, n, path, auth = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
pids = sys.argv[5:]

def rss(pids):
    total = anon = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
                elif line.startswith("RssAnon:"):
                    anon += int(line.split()[1])
    return f"{total} {anon}"

socks = []
req = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n\r\n".encode()
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    socks.append(s)
for s in socks:
    s.settimeout(10)
    got = b""
    while b"\r\n\r\n" not in got:
        got += s.recv(4096)
time.sleep(1.0)
print(rss(pids))
for s in socks:
    s.close()
