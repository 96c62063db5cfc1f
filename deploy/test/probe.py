#!/usr/bin/python3
"""probe.py: one connection, as a stranger or a workload, from inside a
test container.

  probe.py [--tls CA [--cert CRT --key KEY]] [--send HEX] [--expect PREFIX]
           [--serial] HOST PORT

Connects (plain TCP, or TLS verifying the chain against CA and presenting
CRT/KEY when given), sends HEX, reads for up to 3 s. Prints one line:
  result=ok|refused|unreachable detail=...
and exits 0 when the reply starts with PREFIX (or, without --expect, when
the connection and handshake worked), 1 when the peer refused or sent
nothing, 2 when the address could not be reached at all. --serial prints
the server certificate's serial (hex) instead.
"""
import argparse
import binascii
import socket
import ssl
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tls", metavar="CA")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--send", default="")
    ap.add_argument("--expect", default=None)
    ap.add_argument("--serial", action="store_true")
    ap.add_argument("--timeout", type=float, default=3.0)
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    a = ap.parse_args()

    try:
        raw = socket.create_connection((a.host, a.port), timeout=a.timeout)
    except (OSError, socket.timeout) as e:
        print("result=unreachable detail=%r" % " ".join(str(e).split()))
        return 2
    raw.settimeout(a.timeout)
    s = raw
    try:
        if a.tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False  # identity is checked by name below
            ctx.load_verify_locations(a.tls)
            if a.cert:
                ctx.load_cert_chain(a.cert, a.key)
            s = ctx.wrap_socket(raw, server_hostname=a.host)
            if a.serial:
                print(s.getpeercert().get("serialNumber", "?"))
                s.close()
                return 0
        if a.send:
            s.sendall(binascii.unhexlify(a.send))
        data = b""
        try:
            while len(data) < 64:
                chunk = s.recv(64)
                if not chunk:
                    break
                data += chunk
                if a.expect is not None and data.startswith(
                        a.expect.encode()):
                    break
        except socket.timeout:
            pass
    except (OSError, ssl.SSLError) as e:
        print("result=refused detail=%r" % " ".join(str(e).split()))
        return 1
    finally:
        try:
            s.close()
        except OSError:
            pass
    if a.expect is None:
        print("result=ok detail=%r" % data[:32])
        return 0
    if data.startswith(a.expect.encode()):
        print("result=ok detail=%r" % data[:32])
        return 0
    print("result=refused detail=%r" % (data[:32] or "no reply"))
    return 1


if __name__ == "__main__":
    sys.exit(main())
