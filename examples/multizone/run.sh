#!/usr/bin/env bash
# Three zones and a collector on loopback, with forwarding, a zone's
# shared cache, a fleet purge and a shield zone you can watch.
#
#   make build consul && examples/multizone/run.sh          # runs until Ctrl-C
#   examples/multizone/run.sh --once                        # show, report, stop
#
# Zone a has one processing slot, so a burst of distinct requests to it
# spills over to the nearest healthy zone (b, by its preference list), then
# c. Zone b has three nodes that are one cache: each source has an owner
# among them, which makes its variants once for the zone. Zone c fetches
# its originals through zone b (shield b). Every node ships usage to the
# collector, whose dashboard shows it.
# PORT_BASE (default 18000) moves every port; see the table printed below.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
base=${PORT_BASE:-18000}
once=false; [ "${1:-}" = "--once" ] && once=true
work=$(mktemp -d)
# The zones authenticate the requests they forward to each other with a
# shared secret; a real cluster keeps it in a secret store.
secret=${IMGEDGE_SECRET:-$(head -c 24 /dev/urandom | base64 | tr -d "/+=")}
secret=${secret}-multizone-example
usage_token=$(head -c 18 /dev/urandom | base64 | tr -d "/+=")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

for bin in "$repo/bin/caddy" "$repo/bin/consul"; do
	[ -x "$bin" ] || { echo "missing $bin: run 'make build consul' first" >&2; exit 1; }
done

consul_http=$((base + 0))
"$repo/bin/consul" agent -dev -bind 127.0.0.1 -client 127.0.0.1 -log-level warn \
	-data-dir "$work/consul" -node multizone \
	-http-port $consul_http -dns-port $((base + 1)) -serf-lan-port $((base + 2)) \
	-serf-wan-port $((base + 3)) -server-port $((base + 4)) -grpc-port $((base + 5)) \
	-grpc-tls-port $((base + 6)) >"$work/consul.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
	curl -fs "http://127.0.0.1:$consul_http/v1/status/leader" | grep -q : && break
	sleep 0.1
done

collector=$((base + 90))
cat >"$work/collector" <<CF
{
	admin 127.0.0.1:$((base + 91))
}
http://127.0.0.1:$collector {
	# The zones' batches come in with their token; everything else (the
	# dashboard, the usage API) needs the demo login, demo / demo-password.
	@people not {
		method POST
		path /api/v1/events
		header Authorization "Bearer $usage_token"
	}
	basic_auth @people {
		demo \$2a\$10\$IAC8ls0haZL1GusjoMHD7upk5oWeWnn00meE6jJciErzV50Hq8J6i
	}
	usage_collector {
		storage sqlite $work/usage.db
	}
}
CF
"$repo/bin/caddy" run --config "$work/collector" --adapter caddyfile >"$work/collector.log" 2>&1 &
pids+=($!)

start_node() { # name zone port admin prefer options [imgedge lines]
	cat >"$work/$1" <<CF
{
	admin 127.0.0.1:$4
	imgedge {
		zone $2
		node node-$1
		consul http://127.0.0.1:$consul_http
		advertise http://127.0.0.1:$3
		secret $secret
		prefer $5
		${7:-}
		metering {
			collector http://127.0.0.1:$collector/api/v1/events
			token $usage_token
			spool $work/spool-$1
			batch 500ms
		}
	}
}
http://:$3 {
	bind 127.0.0.1
	root * $repo/examples/site
	image_resize {
		$6
	}
	file_server
}
CF
	"$repo/bin/caddy" run --config "$work/$1" --adapter caddyfile >"$work/$1.log" 2>&1 &
	pids+=($!)
}
start_node a a $((base + 10)) $((base + 11)) "b c" "concurrency 1
		queue 1 20ms"
for i in 1 2 3; do
	start_node b$i b $((base + 18 + 2 * i)) $((base + 19 + 2 * i)) "a c" ""
done
start_node c c $((base + 30)) $((base + 31)) "b a" "" "shield b"

# Wait until zone a knows every other node.
for _ in $(seq 200); do
	m=$(curl -fs "http://127.0.0.1:$((base + 11))/metrics" 2>/dev/null || true)
	grep -q 'imgedge_zone_peers{zone="b"} 3' <<<"$m" && grep -q 'imgedge_zone_peers{zone="c"} 1' <<<"$m" && break
	sleep 0.1
done
metric() { # admin-port name: the sample's value, 0 when absent
	curl -fs "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { v = $2 } END { print v + 0 }'
}
zone_b_sum() { # name: summed over zone b's nodes
	echo $(( $(metric $((base + 21)) "$1") + $(metric $((base + 23)) "$1") + $(metric $((base + 25)) "$1") ))
}

cat <<TXT
Consul UI/API     http://127.0.0.1:$consul_http/ui/
zone a (1 slot)   http://127.0.0.1:$((base + 10))/photos/kite.jpg?w=400&f=auto
zone b (3 nodes)  http://127.0.0.1:$((base + 20))/  :$((base + 22))/  :$((base + 24))/  (one cache)
zone c (shield b) http://127.0.0.1:$((base + 30))/
usage dashboard   http://127.0.0.1:$collector/   (demo / demo-password)
metrics           http://127.0.0.1:$((base + 11))/metrics   (imgedge_forwards_total, imgedge_zone_peers,
                  imgedge_peer_requests_total, imgedge_hot_copy_hits_total, imgedge_shield_fetches_total)
purge (any node)  curl -X POST http://127.0.0.1:$((base + 21))/imgedge/purge -d '{"tenant": "127.0.0.1", "source": "/photos/leaf.jpg"}'
logs              $work/*.log
TXT

echo
echo "A burst of 24 distinct requests to zone a, 6 at a time; who served them:"
seq 601 624 | xargs -P 6 -I{} curl -s -o /dev/null -D - \
	"http://127.0.0.1:$((base + 10))/photos/path.jpg?w={}&blur=2" \
	| tr -d '\r' | awk -F': ' 'tolower($1) == "imgedge-zone" { n[$2]++ } END { for (z in n) printf "  zone %s: %d\n", z, n[z] }' | sort

echo
echo "Zone b is one cache: 12 distinct variants, each asked of all three nodes:"
resized=$(zone_b_sum imgedge_resize_total)
for w in $(seq 300 10 410); do
	for port in $((base + 20)) $((base + 22)) $((base + 24)); do
		curl -fs -o /dev/null "http://127.0.0.1:$port/photos/leaf.jpg?w=$w"
	done
done
echo "  cluster: 36 answers, $(( $(zone_b_sum imgedge_resize_total) - resized )) resizes in zone b"

echo
echo "A purge on node b1 reaches the fleet:"
applied=$(( $(zone_b_sum imgedge_zone_purges_applied_total) + $(metric $((base + 31)) imgedge_zone_purges_applied_total) ))
curl -fs -X POST "http://127.0.0.1:$((base + 21))/imgedge/purge" -d '{"tenant": "127.0.0.1", "source": "/photos/leaf.jpg"}' >/dev/null
sleep 1
echo "  purge: applied by $(( $(zone_b_sum imgedge_zone_purges_applied_total) + $(metric $((base + 31)) imgedge_zone_purges_applied_total) - applied )) other nodes"

echo
echo "Zone c fetches its originals through zone b:"
for w in 500 510 520; do
	curl -fs -o /dev/null "http://127.0.0.1:$((base + 30))/photos/leaf.jpg?w=$w"
done
echo "  shield: $(metric $((base + 31)) 'imgedge_shield_fetches_total{result="ok"}') originals fetched through zone b"

if $once; then
	exit 0
fi
echo
echo "Running; Ctrl-C stops everything."
wait
