#!/usr/bin/env bash
# deploy/k8s/secrets.sh: create or update the Kubernetes Secrets from the
# files `deploy/certs.sh --files` made (the file mode; run as root after it):
#   cotai-NAME-tls     tls.crt, tls.key, ca.crt, crl.pem   (per workload)
#   cotai-db-password  password
# Rotation: run `deploy/certs.sh --files` (renews what is due; --renew
# forces) and this script again, e.g. from a CronJob or CI. The kubelet
# then swaps the projected files in every pod (within about a minute) and
# the sidecars reload them; no pod restarts.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
S=${COTAI_SECRETS:-$here/../secrets}
NS=${COTAI_NAMESPACE:-cotai}
apply() { kubectl -n "$NS" apply -f -; }
for n in ${COTAI_WORKLOADS:-backend postgres redis mongo}; do
	kubectl -n "$NS" create secret generic "cotai-$n-tls" \
	    --from-file=tls.crt="$S/$n/$n.crt" \
	    --from-file=tls.key="$S/$n/$n.key" \
	    --from-file=ca.crt="$S/$n/ca.crt" \
	    --from-file=crl.pem="$S/$n/crl.pem" \
	    --dry-run=client -o yaml | apply
done
kubectl -n "$NS" create secret generic cotai-db-password \
    --from-file=password="$S/db-password" --dry-run=client -o yaml | apply
