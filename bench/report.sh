# bench/report.sh: RESULTS.md, results.png and results.tsv from the raw
# measurements; sourced by bench/run.sh, which sets $RESULTS (one
# "scenario metric peer value repetition" line per measurement), $OUT, $PEERS,
# $COTAI_STATUS, $COMMAND, $REPEAT, $ELAPSED, $PKI_SOURCE.
#
# RESULTS.md is regenerated above the line NOTES_MARK; whatever follows that
# line in the existing file (hand-written notes, profiles, what each change
# bought) is kept.

NOTES_MARK='<!-- Everything below this line is kept when bench/run.sh regenerates the file. -->'

# The rows of the tables: scenario metric "label" unit better(hi|lo)
# target reference(best|haproxy) target-pc target-abs. "cotai" is cotai's
# default transport (mux), "cotai-pc" its per-connection transport (mux:
# off). target is the ratio cotai / reference must reach (hi: at least, lo:
# at most), target-pc the ratio cotai / cotai-pc, target-abs a bound on
# cotai's own figure; "-" for none.
METRICS='bulk	mbs_1	1 stream	MB/s	hi	1.2	best	0.9	-
bulk	mbs_4	4 streams	MB/s	hi	-	best	1.0	-
bulk	mbs_1r	1 stream, reverse (-R)	MB/s	hi	-	best	-	-
bulk	cpu_mbs_1	proxy CPU per GB, 1 stream (A+B)	s/GB	lo	-	best	-	-
bulk	cpu_mbs_4	proxy CPU per GB, 4 streams (A+B)	s/GB	lo	-	best	-	-
latency	p50_us	p50, 64-byte round trip	µs	lo	-	best	-	-
latency	p99_us	p99, 64-byte round trip	µs	lo	1.0	best	-	-
hol	p99_idle_us	p99, 64-byte round trip, alone	µs	lo	-	best	-	-
hol	p99_bulk_us	p99, 64-byte round trip, bulk beside it	µs	lo	-	best	-	-
hol	p50_bulk_us	p50, 64-byte round trip, bulk beside it	µs	lo	-	best	-	-
hol	p99_ratio	p99 with bulk ÷ p99 alone	×	lo	-	best	-	2
hol	bulk_mbs	the bulk connection (echoed back)	MB/s	hi	-	best	-	-
hol-paced	p99_idle_us	p99, 64-byte round trip, alone	µs	lo	-	best	-	-
hol-paced	p99_bulk_us	p99, 64-byte round trip, paced bulk beside it	µs	lo	-	best	-	-
hol-paced	p50_bulk_us	p50, 64-byte round trip, paced bulk beside it	µs	lo	-	best	-	-
hol-paced	p99_ratio	p99 with paced bulk ÷ p99 alone	×	lo	-	best	-	2
hol-paced	bulk_mbs	the paced bulk connection (echoed back)	MB/s	hi	-	best	-	-
handshake	cps_resume	new connection per request, resumption	conn/s	hi	4	best	3	-
handshake	cps_noresume	new connection per request, full handshakes	conn/s	hi	1.2	best	-	-
handshake	p50ms_resume	connection time p50, resumption	ms	lo	-	best	-	-
handshake	p50ms_noresume	connection time p50, full handshakes	ms	lo	-	best	-	-
handshake	cpu_resume	proxy CPU per connection, resumption (A+B)	ms	lo	-	best	-	-
handshake	cpu_noresume	proxy CPU per connection, full handshakes (A+B)	ms	lo	-	best	-	-
memory	rss_kib	RSS per idle connection	KiB	lo	0.5	haproxy	-	8
memory	pss_kib	PSS per idle connection	KiB	lo	0.5	haproxy	-	8
redis	get_rps_k0	redis-benchmark -k 0 -c 8 GET (new connection per request)	req/s	hi	4	best	3	-
redis	set_rps	redis-benchmark -c 50 SET	req/s	hi	1.1	best	-	-
redis	get_rps	redis-benchmark -c 50 GET	req/s	hi	1.1	best	-	-
redis	set_rps_noresume	redis-benchmark -c 50 SET, tls_resumption: false	req/s	hi	-	best	-	-
redis	get_rps_noresume	redis-benchmark -c 50 GET, tls_resumption: false	req/s	hi	-	best	-	-
redis	cpu_us	proxy CPU per request, -c 50 (A+B)	µs	lo	-	best	-	-
redis	cpu_us_noresume	proxy CPU per request, -c 50, tls_resumption: false (A+B)	µs	lo	-	best	-	-
pgbench	tps	pgbench -S -c 8	tps	hi	1.1	best	-	-
pgbench	tps_C	pgbench -S -C -c 8 (connect per transaction)	tps	hi	1.1	best	-	-'

# medians: "scenario metric peer median n min max" per group of $RESULTS
# (the spread of a figure is its min-max over the repetitions).
medians() {
	sort -t"$(printf '\t')" -k1,1 -k2,2 -k3,3 -k4,4g "$RESULTS" |
	    awk -F'\t' '
		function flush() {
			if (n == 0) return
			m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
			printf "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", s, k, p, m, n, v[1], v[n]
		}
		$4 == "" { next }
		$1 != s || $2 != k || $3 != p { flush(); s = $1; k = $2; p = $3; n = 0 }
		{ v[++n] = $4 }
		END { flush() }'
}

machine_line() {
	local cpu cores kernel ossl stun hap ngx
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	cores=$(nproc)
	kernel=$(uname -r)
	ossl=$(openssl version | awk '{ print $2 }')
	stun=$(stunnel -version 2>&1 | awk '/^stunnel/ { print $2; exit }')
	hap=$(haproxy -v | awk '/version/ { print $3; exit }')
	ngx=$(nginx -v 2>&1 | sed -n 's|.*nginx/\([^ ]*\).*|\1|p')
	echo "$cpu, $cores cores, Linux $kernel, OpenSSL $ossl, stunnel $stun," \
	    "HAProxy $hap, nginx ${ngx:-?} (stream), iperf3 $(iperf3 --version | awk '{ print $2; exit }')," \
	    "redis $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/')," \
	    "PostgreSQL $(pgbench --version | awk '{ print $3 }'); $(date -u '+%Y-%m-%d %H:%M UTC')"
}

# tables MEDIANS_FILE: the per-scenario markdown tables.
tables() {
	awk -F'\t' -v peers="$PEERS" -v cstat="$COTAI_STATUS" \
	    -v metrics="$METRICS" -v hsconc="$HS_CONC" -v nhold="$N_HOLD" \
	    -v holmbs="$HOL_PACE" '
	function fmt(x) {
		if (x == "") return "—"
		if (x >= 100) return sprintf("%.0f", x)
		if (x >= 10) return sprintf("%.1f", x)
		return sprintf("%.2f", x)
	}
	NR == FNR {
		id = $1 SUBSEP $2 SUBSEP $3
		med[id] = $4; cnt[id] = $5; lo[id] = $6; hi[id] = $7
		have[$1] = 1
		if ($4 > 0 && $5 > 1) spr[id] = ($7 - $6) / $4
		next
	}
	# target(better, bound, value, what): "≥ 4× best met; " and the like,
	# "" without a bound; "x" in what marks a ratio, a unit an absolute.
	function target(b, t, v, what,    txt, met) {
		if (t == "-" || t == "") return ""
		if (what == "×")
			txt = (b == "hi" ? "≥ " : "≤ ") t "×"
		else if (what == "best" || what == "haproxy" || what == "cotai-pc")
			txt = (b == "hi" ? "≥ " : "≤ ") t "× " what
		else
			txt = (b == "hi" ? "≥ " : "≤ ") t " " what
		if (v == "") return txt " (no figure); "
		met = (b == "hi") ? (v + 0 >= t + 0) : (v + 0 <= t + 0)
		return txt (met ? " met; " : " **not met**; ")
	}
	# a cell: the median, and its min-max when there are repetitions
	function cell(id) {
		if (!(id in med)) return "n/a"
		if (cnt[id] < 2) return fmt(med[id])
		return fmt(med[id]) " (" fmt(lo[id]) "–" fmt(hi[id]) ")"
	}
	END {
		nm = split(metrics, rows, "\n")
		ncol = split("direct stunnel haproxy nginx cotai cotai-pc", cols, " ")
		title["bulk"] = "Bulk throughput (iperf3 through the chain; higher is better)"
		title["latency"] = "Latency of sequential 64-byte round trips (lower is better)"
		title["handshake"] = "Handshake-bound load (connect, 64 bytes each way, close; " hsconc " in flight)"
		title["hol"] = "Head-of-line blocking: 64-byte round trips on one connection while another moves bulk data through the same chain (cotai: two streams of one tunnel)"
		title["hol-paced"] = "Head-of-line blocking, bulk paced: the same, the bulk connection paced to " holmbs " MB/s"
		title["memory"] = "Idle memory per proxied connection (" nhold " held; both proxies of the chain; lower is better)"
		title["redis"] = "redis-benchmark through the chain"
		title["pgbench"] = "pgbench -S through the chain"
		last = ""
		for (i = 1; i <= nm; i++) {
			split(rows[i], f, "\t")
			sc = f[1]; key = f[2]
			if (!(sc in have)) continue
			if (sc != last) {
				printf "\n### %s\n\n", title[sc]
				printf "| | unit | direct | stunnel | haproxy | nginx | cotai (mux) | cotai-pc | cotai ÷ %s | cotai ÷ cotai-pc | target | spread |\n", (f[7] == "haproxy" ? "haproxy" : "best peer")
				print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|"
				last = sc
			}
			line = "| " f[3] " | " f[4]
			for (c = 1; c <= ncol; c++) {
				id = sc SUBSEP key SUBSEP cols[c]
				if (cols[c] ~ /^cotai/ && cstat != "ok") line = line " | " cstat
				else if (cols[c] == "direct" && (sc == "memory" || key ~ /^cpu/)) line = line " | —"
				else line = line " | " cell(id)
			}
			# reference: the best of stunnel, haproxy and nginx, or haproxy
			ref = ""
			for (c = 2; c <= 4; c++) {
				id = sc SUBSEP key SUBSEP cols[c]
				if (!(id in med)) continue
				if (f[7] == "haproxy" && cols[c] != "haproxy") continue
				if (ref == "" || (f[5] == "hi" && med[id] > ref) || (f[5] == "lo" && med[id] < ref)) ref = med[id]
			}
			id = sc SUBSEP key SUBSEP "cotai"
			ratio = ""
			if ((id in med) && ref != "" && ref > 0) ratio = med[id] / ref
			line = line " | " (ratio == "" ? "—" : sprintf("%.2f×", ratio))
			rpc = ""
			if ((id in med) && ((sc SUBSEP key SUBSEP "cotai-pc") in med) && med[sc SUBSEP key SUBSEP "cotai-pc"] > 0)
				rpc = med[id] / med[sc SUBSEP key SUBSEP "cotai-pc"]
			line = line " | " (rpc == "" ? "—" : sprintf("%.2f×", rpc))
			tgt = ""
			tgt = tgt target(f[5], f[6], ratio, (f[7] == "haproxy" ? "haproxy" : "best"))
			tgt = tgt target(f[5], f[8], rpc, "cotai-pc")
			tgt = tgt target(f[5], f[9], ((id in med) ? med[id] : ""), f[4])
			sub(/; $/, "", tgt)
			if (tgt == "") tgt = "—"
			# spread: the widest (max - min) / median of the row
			w = ""
			for (c = 1; c <= ncol; c++) {
				id = sc SUBSEP key SUBSEP cols[c]
				if ((id in spr) && (w == "" || spr[id] > w)) w = spr[id]
			}
			print line " | " tgt " | " (w == "" ? "—" : sprintf("%.0f%%", w * 100)) " |"
		}
	}' "$1" /dev/null
}

speed_table() {
	awk -F'\t' '$1 == "speed" {
		v[$2] = $4
		if ($5 > 1) v[$2] = $4 " (" $6 "–" $7 ")"
	} END {
		if (!("aes_gcm_mbs" in v)) exit
		print "\n### The ceiling: openssl speed (one core)\n"
		print "| operation | rate |"
		print "|---|--:|"
		printf "| `openssl speed -evp aes-128-gcm -bytes 16384` | %s MB/s |\n", v["aes_gcm_mbs"]
		printf "| `openssl speed ecdsap256` sign | %s /s |\n", v["ecdsa_sign"]
		printf "| `openssl speed ecdsap256` verify | %s /s |\n", v["ecdsa_verify"]
		printf "| `openssl speed ecdhx25519` | %s /s |\n", v["x25519"]
	}' "$1"
}

# plot MEDIANS_FILE: results.png, three panels of bars (bulk MB/s, latency
# µs, handshakes conn/s), one bar colour per peer.
plot() {
	local m=$1 dat=$W/plot.dat p
	{
		echo "peer mbs_1 mbs_4 mbs_1r p50_us p99_us cps_resume cps_noresume"
		for p in direct stunnel haproxy nginx cotai cotai-pc; do
			awk -F'\t' -v p="$p" '
			$3 == p { v[$2] = $4 }
			END {
				n = split("mbs_1 mbs_4 mbs_1r p50_us p99_us cps_resume cps_noresume", k, " ")
				line = p
				for (i = 1; i <= n; i++) line = line " " ((k[i] in v) ? v[k[i]] : "NaN")
				print line
			}' "$m"
		done
	} >"$dat"
	command -v gnuplot >/dev/null || return 0
	rm -f "$OUT/results.png"
	# A panel without data (a partial run) makes gnuplot complain and
	# go on with the next one; only a missing file is a failure.
	gnuplot <<EOF 2>"$W/gnuplot.log" || true
set terminal pngcairo size 1500,480 font ",10"
set output "$OUT/results.png"
set multiplot layout 1,3 title "cotai bench, medians of $REPEAT runs, $(date -u +%Y-%m-%d) (2-hop chains on 127.0.0.1, TLS 1.3 AES-128-GCM)"
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right autotitle columnheader
set grid ytics
set yrange [0:*]
set xtics nomirror
set title "Bulk throughput (MB/s, higher is better)"
plot "$dat" using 2:xtic(1) title "1 stream", '' using 3 title "4 streams", '' using 4 title "1 stream -R"
set title "64-byte round trip (µs, lower is better)"
plot "$dat" using 5:xtic(1) title "p50", '' using 6 title "p99"
set logscale y
set yrange [10:*]
set title "New connection per request (conn/s, log scale, higher is better)"
plot "$dat" using 7:xtic(1) title "resumption", '' using 8 title "full handshakes"
unset multiplot
EOF
	[ -s "$OUT/results.png" ] || note "gnuplot failed: $(head -n 3 "$W/gnuplot.log")"
}

write_report() {
	local md=$OUT/RESULTS.md notes="" m=$W/medians.tsv
	medians >"$m"
	if [ -f "$md" ] && grep -qF "$NOTES_MARK" "$md"; then
		notes=$(sed -n "/$(printf '%s' "$NOTES_MARK" |
		    sed 's/[][\/.*^$]/\\&/g')/,\$p" "$md" | tail -n +2)
	fi
	{
		printf 'scenario\tmetric\tpeer\tvalue\trepetition\n'
		cat "$RESULTS"
	} >"$OUT/results.tsv"
	{
		printf 'scenario\tmetric\tpeer\tmedian\tn\tmin\tmax\n'
		cat "$m"
	} >"$OUT/medians.tsv"
	plot "$m"
	{
		echo "# cotai benchmark results"
		echo
		echo "Generated by \`make bench\` (bench/run.sh); how to read it: bench/README.md."
		echo "Only ratios within one run mean anything: the machine is shared and noisy."
		echo
		echo "- Machine: $(machine_line)"
		echo "- Command: \`$COMMAND\` ($REPEAT repetitions, peers interleaved, medians; ${ELAPSED}s; load average ${LOAD_START:-?} before, $(cut -d' ' -f1-3 /proc/loadavg) after)"
		echo "- Certificates: $PKI_SOURCE; ECDSA P-256 leaf + intermediate, TLS 1.3, TLS_AES_128_GCM_SHA256, X25519"
		echo "- Chains: client → A (plain in, mTLS out) → B (mTLS in, plain out) → server, all on 127.0.0.1; one worker each (stunnel: a thread per connection); cells: median (min–max) over the repetitions"
		echo "- Checked before measuring:${CHECKS:- nothing}"
		echo "- cotai: ${COTAI_STATUS}${COTAI_VERSION:+ ($COTAI_VERSION)}; every repetition: results.tsv; medians with min and max: medians.tsv; plot: results.png"
		speed_table "$m"
		tables "$m"
		echo
		echo "![throughput, latency and handshakes](results.png)"
		echo
		echo "$NOTES_MARK"
		if [ -n "$notes" ]; then
			printf '%s\n' "$notes"
		else
			echo
			echo "## Notes"
			echo
			echo "(Hand-written: profiles, what each change bought.)"
		fi
	} >"$md"
}
