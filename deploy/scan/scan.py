#!/usr/bin/env python3
"""Scan container images: SBOM, Debian security updates, CVEs, hardening.

    scan.py [--engine docker] [--out DIR] [--threshold high]
            [--no-shell IMAGE]... [--security-index FILE]
            [--debsecan-source URL] [--suite bookworm] IMAGE...

For each IMAGE (read with `ENGINE image inspect` and `ENGINE export` of a
container created from it, never started):

- the Debian packages it really contains: /var/lib/dpkg/status, and for
  images built FROM scratch the stanzas in /var/lib/dpkg/status.d/ (the
  cotai image writes one per package owning a shared library it copies),
  written as a CycloneDX 1.5 JSON SBOM, OUT/sbom/IMAGE.cdx.json;
- security updates: each package whose version is older than the same
  package in Debian's security suite (bookworm-security's Packages index,
  fetched with apt-get into a private directory and verified by apt, or
  --security-index FILE) is missing a security fix: a "high" finding;
- CVEs: debsecan against the Debian security tracker's data
  (--debsecan-source URL, else the tracker itself when it answers); when
  neither is reachable the report says "CVE check: NOT done";
- hardening: setuid/setgid files, world-writable paths (a sticky directory
  such as /tmp is noted, not a finding), a shell in a --no-shell image,
  running as root (USER unset, root or 0), shared libraries with no
  package data.

The report is OUT/report.txt (also printed) and OUT/report.json. Exit
status: 0 no finding at or above --threshold (info, low, medium, high,
critical; "none" never fails), 1 findings at or above it, 2 the scan itself
failed (engine, bad input) or an image could not be read (missing: the
others are still scanned and reported), 3 with --strict when a check could
not be done.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import uuid

SEVERITIES = ["info", "low", "medium", "high", "critical"]
SHELLS = {"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "csh", "tcsh",
          "fish", "busybox"}
TRACKER = "https://security-tracker.debian.org/tracker/debsecan/release/1/"
SECURITY_SOURCE = "http://deb.debian.org/debian-security"
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
RUNTIME_FILES = {".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf",
                 "etc/mtab", "dev", "proc", "sys"}


class ScanError(Exception):
    """The scan itself failed (exit 2)."""


# Debian version comparison (deb-version(7)): epoch, upstream, revision;
# digits compare numerically, other characters by the modified ASCII order
# where "~" sorts before everything, even the end of the string.
def _order(c):
    if c == "~":
        return -1
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _cmp_part(a, b):
    while a or b:
        na = re.match(r"[^0-9]*", a).group(0)
        nb = re.match(r"[^0-9]*", b).group(0)
        for i in range(max(len(na), len(nb))):
            ca = _order(na[i]) if i < len(na) else 0
            cb = _order(nb[i]) if i < len(nb) else 0
            if ca != cb:
                return -1 if ca < cb else 1
        a, b = a[len(na):], b[len(nb):]
        da = re.match(r"[0-9]*", a).group(0)
        db = re.match(r"[0-9]*", b).group(0)
        if int(da or 0) != int(db or 0):
            return -1 if int(da or 0) < int(db or 0) else 1
        a, b = a[len(da):], b[len(db):]
    return 0


def version_cmp(a, b):
    """<0, 0, >0 as Debian version A sorts before, with, after B."""
    def split(v):
        epoch, _, rest = v.partition(":") if ":" in v else ("0", "", v)
        up, _, rev = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        return int(epoch or 0), up, rev
    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _cmp_part(ua, ub) or _cmp_part(ra, rb)


def stanzas(text):
    """The paragraphs of a deb822 file (dpkg status, Packages) as dicts."""
    out, cur, key = [], {}, None
    for line in text.splitlines():
        if not line.strip():
            if cur:
                out.append(cur)
            cur, key = {}, None
        elif line[0] in " \t" and key:
            cur[key] += "\n" + line
        elif ":" in line:
            key, _, val = line.partition(":")
            cur[key] = val.strip()
    if cur:
        out.append(cur)
    return out


def installed_packages(text, where):
    pkgs = []
    for s in stanzas(text):
        if "Package" not in s or "Version" not in s:
            raise ScanError("%s: a stanza without Package/Version" % where)
        if not s.get("Status", "install ok installed").endswith(" installed"):
            continue
        src = s.get("Source", s["Package"])
        m = re.match(r"(\S+)(?: \((.+)\))?", src)
        pkgs.append({"name": s["Package"], "version": s["Version"],
                     "arch": s.get("Architecture", ""),
                     "source": m.group(1),
                     "source_version": m.group(2) or s["Version"],
                     "stanza": s})
    return pkgs


def engine(cmd, *args, capture=True):
    try:
        r = subprocess.run([cmd] + list(args), capture_output=capture,
                           text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise ScanError("%s %s: %s" % (cmd, args[0], e))
    if r.returncode != 0:
        raise ScanError("%s %s: %s" % (cmd, " ".join(args[:2]),
                                       (r.stderr or "").strip()))
    return r.stdout


def read_image(eng, image, tmp):
    """inspect + the exported file system: config, files, packages."""
    info = json.loads(engine(eng, "image", "inspect", image))[0]
    cid = engine(eng, "create", "--entrypoint", "/scan-never-runs",
                 image).strip()
    tar = os.path.join(tmp, "rootfs.tar")
    try:
        engine(eng, "export", "-o", tar, cid)
    finally:
        subprocess.run([eng, "rm", cid], capture_output=True)
    img = {"image": image, "id": info.get("Id", ""),
           "user": (info.get("Config") or {}).get("User") or "",
           "suid": [], "world_writable": [], "sticky_dirs": [],
           "shells": [], "libs": [], "files": {}}
    wanted = re.compile(r"^(etc/passwd|etc/os-release|usr/lib/os-release|"
                        r"var/lib/dpkg/status|var/lib/dpkg/status\.d/[^/]+)$")
    with tarfile.open(tar) as tf:
        for m in tf:
            path = re.sub(r"^\./", "", m.name).rstrip("/")
            # What the engine adds to every container, not the image's.
            if not path or path in RUNTIME_FILES or \
                    re.match(r"(dev|proc|sys)/", path) or \
                    m.ischr() or m.isblk() or m.isfifo():
                continue
            mode = m.mode
            if m.isreg() and mode & 0o6000:
                img["suid"].append("/%s (%o)" % (path, mode & 0o7777))
            if not m.issym() and mode & 0o002:
                if m.isdir() and mode & 0o1000:
                    img["sticky_dirs"].append("/" + path)
                else:
                    img["world_writable"].append(
                        "/%s (%o)" % (path, mode & 0o7777))
            base = os.path.basename(path)
            if (m.isreg() or m.issym() or m.islnk()) and base in SHELLS:
                img["shells"].append("/" + path)
            if m.isreg() and re.search(r"\.so(\.[0-9.]+)?$", base):
                img["libs"].append("/" + path)
            if m.isreg() and wanted.match(path):
                img["files"][path] = tf.extractfile(m).read().decode(
                    "utf-8", "replace")
    os.unlink(tar)
    pkgs = []
    if "var/lib/dpkg/status" in img["files"]:
        img["pkg_source"] = "/var/lib/dpkg/status"
        pkgs += installed_packages(img["files"]["var/lib/dpkg/status"],
                                   image + ":/var/lib/dpkg/status")
    sd = sorted(p for p in img["files"] if p.startswith("var/lib/dpkg/status.d/"))
    if sd:
        img["pkg_source"] = img.get("pkg_source", "") + \
            " /var/lib/dpkg/status.d/ (%d files)" % len(sd)
        for p in sd:
            pkgs += installed_packages(img["files"][p], image + ":/" + p)
    img["packages"] = sorted(pkgs, key=lambda p: p["name"])
    osr = img["files"].get("etc/os-release") or \
        img["files"].get("usr/lib/os-release") or ""
    m = re.search(r"^VERSION_CODENAME=\"?([a-z]+)", osr, re.M)
    img["suite"] = m.group(1) if m else None
    return img


def is_root(user, passwd):
    name = user.split(":")[0]
    if name in ("", "root", "0"):
        return True
    if name.isdigit():
        return False
    for line in passwd.splitlines():
        f = line.split(":")
        if len(f) > 2 and f[0] == name:
            return f[2] == "0"
    return False  # an unknown name fails to start; not root


def sbom(img, path):
    comps = []
    for p in img["packages"]:
        purl = "pkg:deb/debian/%s@%s?arch=%s" % (
            p["name"], p["version"].replace(":", "%3A"), p["arch"])
        if img.get("suite"):
            purl += "&distro=%s" % img["suite"]
        comps.append({"type": "library", "bom-ref": purl, "name": p["name"],
                      "version": p["version"], "purl": purl,
                      "properties": [
                          {"name": "debian:source", "value": p["source"]},
                          {"name": "debian:source_version",
                           "value": p["source_version"]}]})
    doc = {"bomFormat": "CycloneDX", "specVersion": "1.5",
           "serialNumber": "urn:uuid:%s" % uuid.uuid4(), "version": 1,
           "metadata": {
               "timestamp": datetime.datetime.now(datetime.timezone.utc)
               .strftime("%Y-%m-%dT%H:%M:%SZ"),
               "tools": {"components": [{"type": "application",
                                         "name": "cotai deploy/scan"}]},
               "component": {"type": "container", "name": img["image"],
                             "version": img["id"],
                             "bom-ref": img["image"]}},
           "components": comps}
    with open(path, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")


def security_index(opts, tmp):
    """{package: newest version} of the security suite, and how got."""
    if opts.security_index:
        with open(opts.security_index) as f:
            text, how = f.read(), opts.security_index
    else:
        d = os.path.join(tmp, "apt")
        os.makedirs(os.path.join(d, "lists", "partial"))
        os.makedirs(os.path.join(d, "cache", "archives", "partial"))
        with open(os.path.join(d, "sources.list"), "w") as f:
            f.write("deb [signed-by=%s] %s %s-security main\n" % (
                KEYRING, SECURITY_SOURCE, opts.suite))
        r = subprocess.run(
            ["apt-get", "-qq", "-o", "Dir::Etc::SourceList=%s/sources.list" % d,
             "-o", "Dir::Etc::SourceParts=/nonexistent",
             "-o", "Dir::State::Lists=%s/lists" % d,
             "-o", "Dir::Cache=%s/cache" % d, "-o", "Debug::NoLocking=1",
             "-o", "APT::Sandbox::User=root", "-o", "Acquire::Languages=none",
             "-o", "APT::Get::List-Cleanup=0", "update"],
            capture_output=True, text=True, timeout=300)
        lists = [os.path.join(d, "lists", n)
                 for n in os.listdir(os.path.join(d, "lists"))
                 if "_Packages" in n]
        if r.returncode != 0 or not lists or "W:" in r.stderr or \
                "E:" in r.stderr:
            return None, "apt-get update of %s %s-security failed: %s" % (
                SECURITY_SOURCE, opts.suite, (r.stderr or "no index").strip())
        text = ""
        for p in lists:
            text += subprocess.run(["/usr/lib/apt/apt-helper", "cat-file", p],
                                   capture_output=True, text=True,
                                   check=True).stdout + "\n"
        how = "%s %s-security (apt-get update, signature checked)" % (
            SECURITY_SOURCE, opts.suite)
    newest = {}
    for s in stanzas(text):
        n, v = s.get("Package"), s.get("Version")
        if n and v and (n not in newest or version_cmp(v, newest[n]) > 0):
            newest[n] = v
    if not newest:
        return None, "%s: no packages in the index" % how
    return newest, "%s, %d packages" % (how, len(newest))


def debsecan_source(opts):
    """The debsecan --source URL to use, or None and why not."""
    if opts.debsecan_source:
        return opts.debsecan_source, "given"
    try:
        req = urllib.request.Request(TRACKER + opts.suite, method="HEAD")
        urllib.request.urlopen(req, timeout=10).close()
        return TRACKER, "the tracker answered"
    except Exception as e:  # any failure means: not reachable
        return None, "tracker unreachable: %s" % e


def run_debsecan(img, src, suite, tmp):
    status = os.path.join(tmp, "status")
    with open(status, "w") as f:
        for p in img["packages"]:
            for k, v in p["stanza"].items():
                f.write("%s: %s\n" % (k, v))
            f.write("\n")
    r = subprocess.run(["debsecan", "--suite", suite, "--source", src,
                        "--status", status, "--history",
                        os.path.join(tmp, "history"), "--format", "detail"],
                       capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise ScanError("debsecan: %s" % r.stderr.strip())
    out = []
    for block in re.split(r"\n(?=\S)", r.stdout):
        m = re.match(r"(\S+) \(([^)]*)\)\n", block)
        if not m:
            continue
        urg = re.search(r"(low|medium|high) urgency", m.group(2))
        inst = re.search(r"installed: (\S+) (\S+)", block)
        out.append({"id": m.group(1), "flags": m.group(2),
                    "severity": urg.group(1) if urg else "medium",
                    "package": inst.group(1) if inst else "?",
                    "version": inst.group(2) if inst else "?",
                    "fixed": m.group(2).startswith("fixed")})
    return out


def scan_image(img, opts, index, dsrc, tmp):
    f = []

    def add(sev, kind, what):
        f.append({"severity": sev, "kind": kind, "detail": what})
    for s in img["suid"]:
        add("high", "setuid/setgid", s)
    for w in img["world_writable"]:
        add("high", "world-writable", w)
    if img["image"] in opts.no_shell:
        for s in img["shells"]:
            add("high", "shell", s)
    if is_root(img["user"], img["files"].get("etc/passwd", "")):
        add("high", "root-user", "runs as root (USER %r)" % img["user"])
    if img["libs"] and not img["packages"]:
        add("medium", "unknown-origin",
            "%d shared libraries, no dpkg data" % len(img["libs"]))
    if index is not None:
        for p in img["packages"]:
            v = index.get(p["name"])
            if v and version_cmp(p["version"], v) < 0:
                add("high", "security-update",
                    "%s %s < %s in %s-security" % (p["name"], p["version"],
                                                   v, opts.suite))
    cves = []
    if dsrc is not None:
        suite = img.get("suite") or opts.suite
        for c in run_debsecan(img, dsrc, suite, tmp):
            cves.append(c)
            add(c["severity"], "cve", "%s %s %s (%s)" % (
                c["id"], c["package"], c["version"], c["flags"]))
    return f, cves


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("images", nargs="+", metavar="IMAGE")
    ap.add_argument("--engine", default=os.environ.get("ENGINE", "docker"))
    ap.add_argument("--out", default="build/scan")
    ap.add_argument("--threshold", default="high",
                    choices=SEVERITIES + ["none"])
    ap.add_argument("--no-shell", action="append", default=[])
    ap.add_argument("--security-index")
    ap.add_argument("--debsecan-source")
    ap.add_argument("--suite", default="bookworm")
    ap.add_argument("--strict", action="store_true")
    opts = ap.parse_args()
    os.makedirs(os.path.join(opts.out, "sbom"), exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cotai-scan.") as tmp:
        index, index_how = security_index(opts, tmp)
        dsrc, dsrc_how = debsecan_source(opts)
        results = []
        for image in opts.images:
            try:
                img = read_image(opts.engine, image, tmp)
            except ScanError as e:
                results.append({"image": image, "error": str(e),
                                "findings": []})
                continue
            name = re.sub(r"[^A-Za-z0-9_.-]", "_", image)
            sbom_path = os.path.join(opts.out, "sbom", name + ".cdx.json")
            sbom(img, sbom_path)
            findings, cves = scan_image(img, opts, index, dsrc, tmp)
            results.append({"image": image, "id": img["id"],
                            "user": img["user"],
                            "suite": img.get("suite"),
                            "package_data": (img.get("pkg_source") or "").strip() or None,
                            "packages": len(img["packages"]),
                            "sbom": sbom_path,
                            "sticky_dirs": img["sticky_dirs"],
                            "shells": img["shells"],
                            "findings": findings, "cves": cves})
    checks = {
        "security_updates": "done: " + index_how if index is not None
        else "NOT done (%s)" % index_how,
        "cve": "done: debsecan --source %s (%s)" % (dsrc, dsrc_how)
        if dsrc is not None else "NOT done (%s)" % dsrc_how}
    limit = SEVERITIES.index(opts.threshold) if opts.threshold != "none" \
        else len(SEVERITIES)
    above = sum(1 for r in results for x in r["findings"]
                if SEVERITIES.index(x["severity"]) >= limit)
    lines = ["cotai image scan, threshold %s" % opts.threshold,
             "Security-update check: " + checks["security_updates"],
             "CVE check: " + checks["cve"], ""]
    errors = [r for r in results if "error" in r]
    for r in results:
        if "error" in r:
            lines.append("== %s: NOT SCANNED: %s" % (r["image"], r["error"]))
            continue
        lines.append("== %s (%s)" % (r["image"], r["id"][:19]))
        lines.append("   user %r, %d Debian packages from %s, SBOM %s" % (
            r["user"], r["packages"], r["package_data"] or "nowhere",
            r["sbom"]))
        if r["sticky_dirs"]:
            lines.append("   sticky world-writable (allowed): " +
                         " ".join(r["sticky_dirs"]))
        for x in sorted(r["findings"], key=lambda x: -SEVERITIES.index(
                x["severity"])):
            lines.append("   %-8s %-16s %s" % (x["severity"].upper(),
                                               x["kind"], x["detail"]))
        if not r["findings"]:
            lines.append("   no findings")
    lines += ["", "%d finding(s) at or above %s" % (above, opts.threshold)]
    if errors:
        lines.append("%d image(s) NOT scanned" % len(errors))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(opts.out, "report.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(opts.out, "report.json"), "w") as f:
        json.dump({"threshold": opts.threshold, "checks": checks,
                   "findings_at_or_above_threshold": above,
                   "images_not_scanned": len(errors),
                   "images": results}, f, indent=1)
        f.write("\n")
    sys.stdout.write(text)
    if errors:
        return 2
    if above:
        return 1
    if opts.strict and (index is None or dsrc is None):
        return 3
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ScanError as e:
        sys.stderr.write("scan: %s\n" % e)
        sys.exit(2)
