#!/usr/bin/env bash
# make_cert.sh DIR: a self-signed test CA and a server certificate it signed, for 127.0.0.1 and
# localhost, into DIR: ca.pem (the CA, for atota-sim --ca), server.pem and server.key (for
# http_server.py --tls). Each run makes a new CA, so two runs give CAs that do not trust each
# other (the wrong-CA tests). Needs openssl (scripts/install-deps.sh).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: make_cert.sh DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 3650 -subj "/CN=ATOTA test CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout ca.key -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -sha256 -subj "/CN=localhost" \
    -keyout server.key -out server.csr 2>/dev/null
cat >server.ext <<'EXT'
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
EXT
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -sha256 -days 3650 \
    -extfile server.ext -out server.pem 2>/dev/null
rm -f server.csr server.ext ca.srl
echo "make_cert.sh: $dir/ca.pem $dir/server.pem $dir/server.key"
