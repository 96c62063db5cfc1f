#!/usr/bin/env bash
# deploy/scan/scan.py (make scan) against images the test builds with
# `docker import` on a real Docker Engine (started with
# deploy/test/dockerd.sh when none answers, and then stopped), with the
# fixtures of data/80-scan: a security suite's Packages index and
# debsecan's data in the tracker's format.
#   bad:    packages in status.d (a scratch-style image), libssl3 older
#           than the security suite, zlib1g with an unfixed CVE, a shell
#           in a no-shell image, a setuid and a setgid file, a world-writable
#           directory and file, USER unset (root)
#   good:   the same libssl3 at the security suite's version, USER 10001,
#           only /tmp sticky and world-writable: no finding
#   nodpkg: a shared library and no dpkg data
# Checks the readable and the JSON report, the CycloneDX SBOM, the exit
# statuses (threshold, none, strict), "CVE check: NOT done" without
# tracker data, and a missing image as a scan error. Then make-scan.sh
# (make scan): the images of deploy/test/images.sh's record but the build
# base, the record's cotai image as the no-shell one, a tag that names
# another image than the recorded ID refused, SCAN_IMAGES first,
# compose.yaml's names without a record, a missing image never passed.
# itest: runs no cotai binary (scan.py and its fixtures)
. "$(dirname "$0")/lib.sh"

src=$(cd "$(dirname "$0")/../.." && pwd)
scan=$src/deploy/scan/scan.py
fx=$src/tests/integration/data/80-scan
command -v debsecan >/dev/null || fail "debsecan missing (mk/packages)"
command -v jq >/dev/null || fail "jq missing (mk/packages)"

started=0
tag=cotai-scan-test-$$-$RANDOM
scan_cleanup() {
	local rc=$?
	set +e
	for i in bad good nodpkg; do docker rmi -f "$tag-$i:t" >/dev/null 2>&1; done
	if [ $started = 1 ]; then "$src/deploy/test/dockerd.sh" stop "$T/dockerd"; fi
	(exit "$rc")
	lib_cleanup
}
trap scan_cleanup EXIT
if ! timeout 10 docker info >/dev/null 2>&1; then
	[ "$(id -u)" -eq 0 ] || fail "no Docker Engine answers and not root"
	started=1
	"$src/deploy/test/dockerd.sh" start "$T/dockerd" || fail "dockerd.sh start"
fi

# mkroot DIR: the parts every fixture image shares.
mkroot() {
	mkdir -p "$1/etc" "$1/tmp" "$1/usr/lib/x86_64-linux-gnu" \
		"$1/usr/local/bin" "$1/var/lib/dpkg/status.d"
	chmod 1777 "$1/tmp"
	printf 'root:x:0:0::/root:/sbin/nologin\ncotai:x:10001:10001::/:/sbin/nologin\n' \
		>"$1/etc/passwd"
	printf '#!/nonexistent\n' >"$1/usr/local/bin/cotai-proxy"
	chmod 0755 "$1/usr/local/bin/cotai-proxy"
	cp -L /usr/lib/x86_64-linux-gnu/libssl.so.3 "$1/usr/lib/x86_64-linux-gnu/"
}
# stanza PACKAGE VERSION SOURCE: a dpkg status stanza.
stanza() {
	printf 'Package: %s\nStatus: install ok installed\nVersion: %s\nSource: %s\nArchitecture: amd64\n' \
		"$1" "$2" "$3"
}
import() { # import DIR NAME [--change ...]
	local dir=$1 name=$2
	shift 2
	tar -C "$dir" -c . | docker import "$@" - "$tag-$name:t" >/dev/null ||
		fail "docker import $name"
}

r=$T/bad
mkroot "$r"
stanza libssl3 3.0.19-1~deb12u2 openssl >"$r/var/lib/dpkg/status.d/libssl3"
stanza zlib1g 1:1.2.13.dfsg-1 zlib >"$r/var/lib/dpkg/status.d/zlib1g"
cp /usr/lib/x86_64-linux-gnu/libz.so.1 "$r/usr/lib/x86_64-linux-gnu/" 2>/dev/null ||
	cp /lib/x86_64-linux-gnu/libz.so.1 "$r/usr/lib/x86_64-linux-gnu/"
mkdir -p "$r/bin" "$r/srv/drop"
printf 'not really a shell\n' >"$r/bin/sh"
printf 'x\n' >"$r/usr/local/bin/helper"
chmod 4755 "$r/usr/local/bin/helper"
printf 'x\n' >"$r/usr/local/bin/grouper"
chmod 2755 "$r/usr/local/bin/grouper"
chmod 0777 "$r/srv/drop"
printf 'x\n' >"$r/srv/open.conf"
chmod 0666 "$r/srv/open.conf"
import "$r" bad

r=$T/good
mkroot "$r"
stanza libssl3 3.0.22-1~deb12u2 openssl >"$r/var/lib/dpkg/status.d/libssl3"
import "$r" good --change 'USER 10001:10001' \
	--change 'ENTRYPOINT ["/usr/local/bin/cotai-proxy"]'

r=$T/nodpkg
mkroot "$r"
rmdir "$r/var/lib/dpkg/status.d"
import "$r" nodpkg --change 'USER cotai'

mkdir -p "$T/tracker"
python3 -c 'import sys, zlib; sys.stdout.buffer.write(zlib.compress(open(sys.argv[1], "rb").read()))' \
	"$fx/debsecan-bookworm.txt" >"$T/tracker/bookworm"

run_scan() { # run_scan OUT EXPECTED_STATUS ARGS...
	local out=$1 want=$2 rc=0
	shift 2
	"$scan" --engine docker --out "$out" --security-index "$fx/Packages" \
		"$@" >"$out.stdout" 2>"$out.stderr" || rc=$?
	[ $rc -eq "$want" ] || {
		cat "$out.stdout" "$out.stderr"
		fail "scan $* exited $rc, not $want"
	}
}

echo "== all three, CVE data given, threshold high: findings, exit 1"
run_scan "$T/o1" 1 --debsecan-source "file://$T/tracker/" \
	--no-shell "$tag-bad:t" --no-shell "$tag-good:t" \
	"$tag-bad:t" "$tag-good:t" "$tag-nodpkg:t"
rep=$T/o1/report.txt
cmp -s "$rep" "$T/o1.stdout" || fail "printed report differs from report.txt"
assert_grep '^Security-update check: done: .*Packages, 3 packages$' "$rep"
assert_grep "^CVE check: done: debsecan --source file://$T/tracker/" "$rep"
# The bad image: every kind of finding, each named.
sed -n "/^== $tag-bad:t/,/^== /p" "$rep" >"$T/bad.rep"
assert_grep "user '', 2 Debian packages from /var/lib/dpkg/status.d/ \\(2 files\\)" "$T/bad.rep"
assert_grep 'HIGH +security-update +libssl3 3\.0\.19-1~deb12u2 < 3\.0\.22-1~deb12u2 in bookworm-security' "$T/bad.rep"
assert_grep 'HIGH +security-update +zlib1g 1:1\.2\.13\.dfsg-1 < 1:1\.2\.13\.dfsg-1\+deb12u1' "$T/bad.rep"
assert_grep 'HIGH +cve +CVE-2099-0001 libssl3 3\.0\.19-1~deb12u2 \(fixed, remotely exploitable, high urgency\)' "$T/bad.rep"
assert_grep 'LOW +cve +CVE-2099-0002 zlib1g' "$T/bad.rep"
assert_no_grep 'CVE-2099-0003' "$T/bad.rep"
assert_grep 'HIGH +shell +/bin/sh$' "$T/bad.rep"
assert_grep 'HIGH +setuid/setgid +/usr/local/bin/helper \(4755\)' "$T/bad.rep"
assert_grep 'HIGH +setuid/setgid +/usr/local/bin/grouper \(2755\)' "$T/bad.rep"
assert_grep 'HIGH +world-writable +/srv/drop \(777\)' "$T/bad.rep"
assert_grep 'HIGH +world-writable +/srv/open.conf \(666\)' "$T/bad.rep"
assert_grep "HIGH +root-user +runs as root \\(USER ''\\)" "$T/bad.rep"
assert_grep 'sticky world-writable \(allowed\): /tmp$' "$T/bad.rep"
assert_no_grep 'world-writable +/tmp' "$T/bad.rep"
# The good one: nothing (its libssl3 is the security suite's version).
sed -n "/^== $tag-good:t/,/^== /p" "$rep" >"$T/good.rep"
assert_grep "user '10001:10001', 1 Debian packages" "$T/good.rep"
assert_grep '^   no findings$' "$T/good.rep"
# No dpkg data: the libraries' origin is unknown; USER cotai is not root.
sed -n "/^== $tag-nodpkg:t/,\$p" "$rep" >"$T/nodpkg.rep"
assert_grep 'MEDIUM +unknown-origin +1 shared libraries, no dpkg data' "$T/nodpkg.rep"
assert_no_grep 'root-user' "$T/nodpkg.rep"
assert_grep '^9 finding\(s\) at or above high$' "$rep"

echo "== the JSON report and the SBOM"
j=$T/o1/report.json
[ "$(jq '.findings_at_or_above_threshold' "$j")" = 9 ] || fail "json count"
[ "$(jq -r '.images[0].findings | map(.kind) | unique | join(",")' "$j")" = \
	"cve,root-user,security-update,setuid/setgid,shell,world-writable" ] ||
	fail "json kinds: $(jq -c '.images[0].findings' "$j")"
[ "$(jq '.images[1].findings | length' "$j")" = 0 ] || fail "json good"
jq -e '.checks.cve | startswith("done")' "$j" >/dev/null || fail "json cve check"
b=$T/o1/sbom/$tag-bad_t.cdx.json
[ -f "$b" ] || fail "no SBOM $b"
jq -e '.bomFormat == "CycloneDX" and .specVersion == "1.5" and
	(.serialNumber | test("^urn:uuid:[0-9a-f-]{36}$")) and
	.metadata.component.type == "container"' "$b" >/dev/null ||
	fail "SBOM header: $(head -c 400 "$b")"
[ "$(jq -r '[.components[] | "\(.name) \(.version) \(.purl)"] | join(";")' "$b")" = \
	"libssl3 3.0.19-1~deb12u2 pkg:deb/debian/libssl3@3.0.19-1~deb12u2?arch=amd64;zlib1g 1:1.2.13.dfsg-1 pkg:deb/debian/zlib1g@1%3A1.2.13.dfsg-1?arch=amd64" ] ||
	fail "SBOM components: $(jq -c '.components' "$b")"
jq -e '.components[0].properties[] | select(.name == "debian:source" and .value == "openssl")' \
	"$b" >/dev/null || fail "SBOM source property"

echo "== thresholds: the good image passes; none and critical never fail here"
run_scan "$T/o2" 0 --debsecan-source "file://$T/tracker/" --no-shell "$tag-good:t" "$tag-good:t"
run_scan "$T/o3" 0 --threshold none --debsecan-source "file://$T/tracker/" "$tag-bad:t"
assert_grep '^0 finding\(s\) at or above none$' "$T/o3/report.txt"
assert_grep 'HIGH +root-user' "$T/o3/report.txt"
run_scan "$T/o4" 1 --threshold low --debsecan-source "file://$T/tracker/" "$tag-nodpkg:t"
run_scan "$T/o5" 0 --threshold critical "$tag-nodpkg:t"

echo "== without tracker data the CVE check says NOT done, never passed"
if ! getent hosts security-tracker.debian.org >/dev/null 2>&1; then
	assert_grep '^CVE check: NOT done \(tracker unreachable' "$T/o5/report.txt"
	jq -e '.checks.cve | startswith("NOT done")' "$T/o5/report.json" >/dev/null ||
		fail "json: the CVE check not marked NOT done"
	run_scan "$T/o6" 3 --strict "$tag-good:t"
else
	echo "(the tracker resolves here: the NOT done path is not exercised)"
fi

echo "== a missing image or a bad index is a scan error (2), not a pass"
run_scan "$T/o7" 2 "$tag-missing:t" "$tag-good:t"
assert_grep "^   no findings" "$T/o7/report.txt"
assert_grep "^== $tag-missing:t: NOT SCANNED: docker image inspect: .*[Nn]o such image" "$T/o7/report.txt"
assert_grep "^1 image\\(s\\) NOT scanned" "$T/o7/report.txt"
printf 'Package: x\n' >"$T/bad.index"
rc=0
"$scan" --engine docker --out "$T/o8" --security-index "$T/bad.index" \
	"$tag-good:t" >"$T/o8.out" 2>&1 || rc=$?
[ $rc -eq 3 ] || [ $rc -eq 0 ] || fail "bad index: exit $rc"
assert_grep '^Security-update check: NOT done' "$T/o8/report.txt"
echo "== make-scan.sh: the images images.sh recorded, but the build base"
ms=$src/deploy/scan/make-scan.sh
mkdir -p "$T/cache"
# The bad image as the cotai one (its /bin/sh must be found: the record's
# COTAI_IMAGE is the no-shell image), the build base a missing image (left
# out, else NOT SCANNED and exit 2).
printf 'COTAI_IMAGE=%s\nCOTAI_BACKEND_IMAGE=%s\nCOTAI_BUILD_BASE=%s\nCOTAI_TEST_BASE=%s\n' \
	"$tag-bad:t" "$tag-good:t" "$tag-missing:t" "$tag-nodpkg:t" \
	>"$T/cache/images-docker-compose-test.env"
make_scan() { # make_scan OUT EXPECTED_STATUS ARGS... (environment as given)
	local out=$1 want=$2 rc=0
	shift 2
	env -u SCAN_IMAGES -u SCAN_RECORD -u SCAN_NO_SHELL ENGINE=docker "$@" \
		"$ms" --out "$out" --security-index "$fx/Packages" --threshold high \
		>"$out.stdout" 2>"$out.stderr" || rc=$?
	[ $rc -eq "$want" ] || {
		cat "$out.stdout" "$out.stderr"
		fail "make-scan.sh ($*) exited $rc, not $want"
	}
}
make_scan "$T/m1" 1 COTAI_CACHE="$T/cache"
assert_grep "^make scan: images from $T/cache/images-docker-compose-test.env \\(" "$T/m1.stderr"
[ "$(sed -n 's/^== \([^ :]*:t\).*/\1/p' "$T/m1/report.txt" | sort | paste -sd' ')" = \
	"$tag-bad:t $tag-good:t $tag-nodpkg:t" ] ||
	fail "make-scan.sh scanned: $(grep '^==' "$T/m1/report.txt")"
assert_no_grep 'NOT SCANNED' "$T/m1/report.txt"
sed -n "/^== $tag-bad:t/,/^== /p" "$T/m1/report.txt" >"$T/m1.bad"
assert_grep 'HIGH +shell +/bin/sh$' "$T/m1.bad"
# The backend image gone from the record's images: a failure, not a pass.
printf 'COTAI_IMAGE=%s\nCOTAI_BACKEND_IMAGE=%s\n' "$tag-good:t" "$tag-gone:t" \
	>"$T/gone.env"
make_scan "$T/m2" 2 SCAN_RECORD="$T/gone.env"
assert_grep "^== $tag-gone:t: NOT SCANNED: docker image inspect" "$T/m2/report.txt"
assert_grep "^1 image\\(s\\) NOT scanned" "$T/m2/report.txt"
make_scan "$T/m3" 2 SCAN_RECORD="$T/nonexistent.env"
assert_grep "^make scan: cannot read $T/nonexistent.env" "$T/m3.stderr"
# The IDs images.sh recorded: the same image passes, a retagged one is
# refused (not the image the stack ran).
gid=$(docker image inspect -f '{{.Id}}' "$tag-good:t")
printf 'COTAI_IMAGE=%s\n# %s %s\n' "$tag-good:t" "$tag-good:t" "$gid" >"$T/ids.env"
make_scan "$T/m6" 0 SCAN_RECORD="$T/ids.env"
printf 'COTAI_IMAGE=%s\n# %s %s\n' "$tag-good:t" "$tag-good:t" \
	"$(docker image inspect -f '{{.Id}}' "$tag-bad:t")" >"$T/ids.env"
make_scan "$T/m7" 2 SCAN_RECORD="$T/ids.env"
assert_grep "^make scan: $tag-good:t is now $gid, not sha256:[0-9a-f]+ as recorded in $T/ids.env" "$T/m7.stderr"
[ ! -e "$T/m7/report.txt" ] || fail "a retagged image was scanned"
# SCAN_IMAGES wins over the record; no record: compose.yaml's names.
make_scan "$T/m4" 0 COTAI_CACHE="$T/cache" SCAN_IMAGES="$tag-good:t"
assert_grep "^make scan: images from SCAN_IMAGES: $tag-good:t\$" "$T/m4.stderr"
rc=0
env -u SCAN_IMAGES -u SCAN_RECORD ENGINE=docker COTAI_CACHE="$T/none" "$ms" \
	--out "$T/m5" --security-index "$fx/Packages" >"$T/m5.out" 2>&1 || rc=$?
assert_grep "^make scan: images from deploy/compose.yaml's image: names \\($T/none/images-docker-compose-test.env does not exist\\): .*cotai:dev" "$T/m5.out"
if ! docker image inspect mongo:7 >/dev/null 2>&1; then
	[ $rc -eq 2 ] || fail "compose.yaml's names, mongo:7 missing: exit $rc, not 2"
	assert_grep '^== mongo:7: NOT SCANNED' "$T/m5/report.txt"
fi
echo ok
