#!/usr/bin/env bash
# Start PostgreSQL, Redis and RabbitMQ on their standard ports if they are not
# running (the commands this machine kind documents), then wait until each answers.
# Fails loudly if one cannot be started: tests never skip for want of a service.
set -euo pipefail

wait_for() { # name, command
  local name=$1; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then echo "  $name: ready"; return 0; fi
    sleep 0.5
  done
  echo "  $name: NOT READY after 60s" >&2; return 1
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

echo "services:"
if ! pg_isready -h 127.0.0.1 -p 5432 >/dev/null 2>&1; then
  echo "  starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
wait_for postgresql pg_isready -h 127.0.0.1 -p 5432

if ! port_open 6379; then
  echo "  starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi
wait_for redis port_open 6379

if ! port_open 5672; then
  echo "  starting RabbitMQ"
  rabbitmq-server -detached || true
fi
wait_for rabbitmq port_open 5672
