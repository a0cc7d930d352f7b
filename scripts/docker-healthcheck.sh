#!/usr/bin/env bash
# The image's HEALTHCHECK: exit 0 when GET /readyz answers 200 on the address SWITCHYARD_LISTEN
# names (0.0.0.0 and :: are asked on loopback). Bash alone: the image has no curl.
set -u
listen=${SWITCHYARD_LISTEN:-0.0.0.0:5678}
port=${listen##*:}
host=${listen%:*}
host=${host#[}
host=${host%]}
case $host in
  '' | 0.0.0.0) host=127.0.0.1 ;;
  ::) host=::1 ;;
esac
exec 3<>"/dev/tcp/$host/$port" || exit 1
printf 'GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3
read -r _ status _ <&3 || exit 1
[ "$status" = 200 ] || { echo "GET /readyz on $host:$port answered ${status:-nothing}"; exit 1; }
